"""The ``dedup`` filter: one story is one item, however many times and places it appears.

The same story is recognised by its guid (from any source), its canonical link (scheme and host
lowercased, tracking parameters and fragment removed — so the feed's link and the WordPress
API's link of one post meet), or its normalised title within a few days of the first one.
A new source does not flood: what its first poll finds is recorded as seen, not sent, except
the newest ``backfill`` items.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import func, union_all
from sqlalchemy import select as sa_select
from sqlmodel import col, select

import hub
from hub.contracts import Drop, Filter, FilterContext, FilterOptions, Keep, Verdict
from hub.intake.pipeline import fingerprint
from hub.news import NewsItem
from hub.storage.tables import ItemRow
from hub.storage.typed import primary_key, select_columns
from hub.timekeeping.durations import parse_interval

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
    """Drops a story already stored (by guid, canonical link or title) and a new source's backlog.

    ``prepare`` reads, for a whole batch, the stored rows sharing a guid, a canonical link or a
    title fingerprint with any of its items (a few ``IN`` queries); ``stored`` remembers the
    batch's own rows, so a story twice in one batch is still one item.
    """

    Options = DedupOptions
    options: DedupOptions

    def __init__(self, options: DedupOptions) -> None:
        super().__init__(options)
        self._sources: set[str] | None = None
        self._span = parse_interval(self.options.same_title_within) if self.options.same_title_within \
            else None
        self._reset()

    def _reset(self) -> None:
        self._looked_up: set[str] = set()  # guids whose stored matches are loaded
        self._guids: dict[str, _Match] = {}
        self._links: dict[str, _Match] = {}
        # fingerprint → (oldest stored row in the loaded span or None, the span's ends)
        self._prints: dict[str, tuple[_Stamped | None, datetime, datetime]] = {}
        # this batch's own rows: the id is asked for only when a reason needs it
        self._batch_guids: dict[str, _Pending] = {}
        self._batch_links: dict[str, _Pending] = {}
        self._batch_prints: dict[str, list[tuple[_Pending, datetime]]] = {}

    def prepare(self, items: list[NewsItem], ctx: FilterContext) -> None:
        self._reset()
        self._load(items, ctx)

    def stored(self, item: NewsItem, row_id: Callable[[], int], ctx: FilterContext) -> None:
        pending = (row_id, item.source)
        self._batch_guids.setdefault(item.guid, pending)
        if item.canonical_url:
            self._batch_links.setdefault(item.canonical_url, pending)
        print_ = fingerprint(item)
        if print_:
            stamp = item.published_at or ctx.clock.now()
            self._batch_prints.setdefault(print_, []).append((pending, stamp))

    def check(self, item: NewsItem, ctx: FilterContext) -> Verdict:
        if item.guid not in self._looked_up:  # not in the prepared batch (or never prepared)
            self._load([item], ctx)
        duplicate = self._duplicate(item, ctx)
        if duplicate:
            return Drop(duplicate)
        if ctx.first_poll and item.guid not in self._backfill(ctx.batch):
            return Drop(f"already published when the hub started watching {item.source} "
                        f"(first poll; backfill = {self.options.backfill})", status="seen")
        return Keep(item, note="new story")

    def resends_edits(self) -> bool:
        return self.options.resend_edited

    def _load(self, items: list[NewsItem], ctx: FilterContext) -> None:
        """Read the oldest stored row sharing a guid, a link or a title fingerprint with each of
        ``items``: one grouped query per kind (a popular title may have many rows)."""
        session = ctx.session
        if self._sources is None:  # once per poll: lets the (source, guid) index serve the lookup
            self._sources = set(session.exec(select(ItemRow.source).distinct()))
        self._sources.update(item.source for item in items)
        guids = sorted({item.guid for item in items} - self._looked_up)
        self._looked_up.update(guids)
        links = sorted({item.canonical_url for item in items if item.canonical_url})
        self._guids.update(_oldest(session, ItemRow.guid, guids,
                                   col(ItemRow.source).in_(sorted(self._sources))))
        self._links.update(_oldest(session, ItemRow.canonical_url, links))
        if not self._span:
            return
        prints = {p: item.published_at or ctx.clock.now() for item in items if (p := fingerprint(item))}
        if prints:
            low, high = min(prints.values()) - self._span, max(prints.values()) + self._span
            stamp = func.coalesce(ItemRow.published_at, ItemRow.fetched_at)
            found = _first_titled(session, sorted(prints), stamp >= low, stamp <= high)
            self._prints.update((p, (found.get(p), low, high)) for p in prints)

    def _duplicate(self, item: NewsItem, ctx: FilterContext) -> str | None:
        found = self._guids.get(item.guid) or _written(self._batch_guids.get(item.guid))
        if found is not None:
            return f"duplicate of item #{found[0]} from {found[1]} (same guid)"
        if item.canonical_url:
            found = (self._links.get(item.canonical_url)
                     or _written(self._batch_links.get(item.canonical_url)))
            if found is not None:
                return f"duplicate of item #{found[0]} from {found[1]} (same link)"
        print_ = fingerprint(item)
        if self._span and print_:
            when = item.published_at or ctx.clock.now()
            low, high = when - self._span, when + self._span
            found = self._stored_title(print_, low, high, ctx) or next(
                (_written(p) for p, stamp in self._batch_prints.get(print_, ()) if low <= stamp <= high),
                None)
            if found is not None:
                return (f"duplicate of item #{found[0]} from {found[1]} "
                        f"(same title within {self.options.same_title_within})")
        return None

    def _stored_title(self, print_: str, low: datetime, high: datetime,
                      ctx: FilterContext) -> _Match | None:
        """The oldest stored row with this title fingerprint between ``low`` and ``high``."""
        match, loaded_low, loaded_high = self._prints.get(print_) or (None, high, low)
        if loaded_low <= low and high <= loaded_high:  # this item's span was loaded
            if match is None:
                return None
            if low <= match[2] <= high:  # the oldest of the wider span lies in this one too
                return match[0], match[1]
        stamp = func.coalesce(ItemRow.published_at, ItemRow.fetched_at)
        row = ctx.session.exec(
            select(primary_key(ItemRow.id), ItemRow.source).where(
                ItemRow.fingerprint == print_, stamp >= low, stamp <= high).order_by(col(ItemRow.id)).limit(1)
        ).first()
        return None if row is None else (row[0], row[1])

    def _backfill(self, batch: list[NewsItem]) -> set[str]:
        if not self.options.backfill:
            return set()
        ranked = sorted(batch, key=lambda item: item.published_at or _EPOCH, reverse=True)
        return {item.guid for item in ranked[: self.options.backfill]}


_Match = tuple[int, str]  # a stored row's id and source
_Stamped = tuple[int, str, datetime]  # ... and its time (published, else fetched)
_Pending = tuple[Callable[[], int], str]  # a row of this batch: its id when asked, and source


def _written(pending: _Pending | None) -> _Match | None:
    return None if pending is None else (pending[0](), pending[1])


def _keep_first(found: dict[str, _Match], key: str, match: _Match) -> None:
    """The oldest stored row is the one a duplicate is reported against."""
    if key not in found or match < found[key]:
        found[key] = match


def _oldest(session: Any, column: Any, values: list[str], *where: Any) -> dict[str, Any]:
    """For each of ``values`` of ``column``, the oldest matching row's (id, source, time)."""
    ids: dict[str, int] = {}
    for chunk in _chunks(values):
        ids.update(session.exec(select(column, func.min(ItemRow.id))
                                .where(col(column).in_(chunk), *where).group_by(column)).all())
    rows: dict[int, _Stamped] = {}
    for chunk in _chunks(sorted(ids.values())):
        rows.update((r[0], (r[0], r[1], r[2] or r[3])) for r in session.exec(
            select(ItemRow.id, ItemRow.source, ItemRow.published_at, ItemRow.fetched_at)
            .where(col(ItemRow.id).in_(chunk))))
    return {value: rows[id_] for value, id_ in ids.items()}


def _first_titled(session: Any, prints: list[str], *where: Any) -> dict[str, _Stamped]:
    """For each title fingerprint, its oldest row within ``where``: one ``LIMIT 1`` per print,
    sent as one UNION ALL statement. (A GROUP BY read every row of a common title, each poll.)"""
    found: dict[str, _Stamped] = {}
    for chunk in _chunks(prints, 50):
        firsts = [select_columns(ItemRow.fingerprint, ItemRow.id, ItemRow.source, ItemRow.published_at,
                                 ItemRow.fetched_at).where(ItemRow.fingerprint == print_, *where)
                  .order_by(col(ItemRow.id)).limit(1).subquery() for print_ in chunk]
        statement = union_all(*(sa_select(first) for first in firsts))
        for print_, id_, source, published, fetched in session.connection().execute(statement):
            found[print_] = (id_, source, published or fetched)
    return found


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i:i + size] for i in range(0, len(values), size)]


@hub.hookimpl
def register_filters(register: Any) -> None:
    register("dedup", DedupFilter)
