"""The ``dedup`` filter: one story is one item, however many times and places it appears.

The same story is recognised by its guid (from any source), its canonical link (scheme and host
lowercased, tracking parameters and fragment removed — so the feed's link and the WordPress
API's link of one post meet), or its normalised title within a few days of the first one.
A new source does not flood: what its first poll finds is recorded as seen, not sent, except
the newest ``backfill`` items.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import func
from sqlmodel import col, select

import hub
from hub.contracts import Drop, Filter, FilterContext, FilterOptions, Keep, Verdict
from hub.durations import parse_interval
from hub.news import NewsItem
from hub.pipeline import fingerprint
from hub.tables import ItemRow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DedupOptions(FilterOptions):
    """``[[filters]] type = "dedup"``."""

    backfill: int = Field(0, ge=0, le=100, description="on a source's first poll, send its newest N")
    resend_edited: bool = Field(False, description="send an edited post again after it was sent")
    same_title_within: str | None = Field(
        "3 days", description="same normalised title this close in time is the same story; "
        "none to match titles never")

    @field_validator("same_title_within")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() not in ("none", "never", ""):
            parse_interval(value)
            return value
        return None


class DedupFilter(Filter):
    """Drops a story already stored (by guid, canonical link or title) and a new source's backlog."""

    Options = DedupOptions
    options: DedupOptions

    def __init__(self, options: DedupOptions) -> None:
        super().__init__(options)
        self._sources: set[str] | None = None

    def check(self, item: NewsItem, ctx: FilterContext) -> Verdict:
        duplicate = self._duplicate(item, ctx)
        if duplicate:
            return Drop(duplicate)
        if ctx.first_poll and item.guid not in self._backfill(ctx.batch):
            return Drop(f"already published when the hub started watching {item.source} "
                        f"(first poll; backfill = {self.options.backfill})", status="seen")
        return Keep(item, note="new story")

    def resends_edits(self) -> bool:
        return self.options.resend_edited

    def _duplicate(self, item: NewsItem, ctx: FilterContext) -> str | None:
        session = ctx.session
        if self._sources is None:  # once per poll: lets the (source, guid) index serve the lookup
            self._sources = set(session.exec(select(ItemRow.source).distinct()))
        self._sources.add(item.source)
        same_guid = session.exec(
            select(ItemRow.id, ItemRow.source)
            .where(col(ItemRow.source).in_(sorted(self._sources)), ItemRow.guid == item.guid).limit(1)
        ).first()
        if same_guid is not None:
            return f"duplicate of item #{same_guid[0]} from {same_guid[1]} (same guid)"
        if item.canonical_url:
            same_link = session.exec(
                select(ItemRow.id, ItemRow.source)
                .where(ItemRow.canonical_url == item.canonical_url).limit(1)
            ).first()
            if same_link is not None:
                return f"duplicate of item #{same_link[0]} from {same_link[1]} (same link)"
        window = self.options.same_title_within
        print_ = fingerprint(item)
        if window and print_:
            span = parse_interval(window)
            when = item.published_at or ctx.clock.now()
            stamp = func.coalesce(ItemRow.published_at, ItemRow.fetched_at)
            same_title = session.exec(
                select(ItemRow.id, ItemRow.source)
                .where(ItemRow.fingerprint == print_, stamp >= when - span, stamp <= when + span)
                .limit(1)
            ).first()
            if same_title is not None:
                return (f"duplicate of item #{same_title[0]} from {same_title[1]} "
                        f"(same title within {window})")
        return None

    def _backfill(self, batch: list[NewsItem]) -> set[str]:
        if not self.options.backfill:
            return set()
        ranked = sorted(batch, key=lambda item: item.published_at or _EPOCH, reverse=True)
        return {item.guid for item in ranked[: self.options.backfill]}


@hub.hookimpl
def register_filters(register: Any) -> None:
    register("dedup", DedupFilter)
