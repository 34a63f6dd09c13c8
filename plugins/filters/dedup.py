"""The ``dedup`` filter: one story is one item, however many times and places it appears.

A duplicate is the same story, not a coincidence of one field. A guid is unique within its
source only (the pipeline already treats a source's repeated guid as the same item), so two
sources' "1" and "1" are two stories. Two items are one story when they share their canonical
link (scheme and host lowercased, tracking parameters and fragment removed — so the feed's link
and the WordPress API's link of one post meet) *and* their guid or their title; or when their
normalised titles match within a few days. A link alone proves nothing: podcasts, forums and
town halls give every item their home page as ``<link>``.

A new source does not flood: what its first poll finds is recorded as seen, not sent, except
the newest ``backfill`` items that are still fresh (within ``backfill_within``, by default the
relevance filter's ``max_age`` when one is set, else three days).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import func, or_, union_all
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
    backfill_within: str | None = Field(
        None, description="only items published this recently are backfilled; default: the "
        "relevance filter's max_age, else 3 days")
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

    @field_validator("backfill_within")
    @classmethod
    def _fresh(cls, value: str | None) -> str | None:
        if value is not None:
            parse_interval(value)
        return value


DEFAULT_FRESH = timedelta(days=3)


class DedupFilter(Filter):
    """Drops a story already stored (same link and guid or title; same title lately) and a new
    source's backlog.

    ``prepare`` reads, for a whole batch, the stored rows sharing a canonical link (with a guid
    or a title fingerprint) or a title fingerprint with any of its items (a few ``IN`` queries);
    ``stored`` remembers the batch's own rows, so a story twice in one batch is still one item.
    """

    Options = DedupOptions
    options: DedupOptions

    def __init__(self, options: DedupOptions) -> None:
        super().__init__(options)
        self._span = parse_interval(self.options.same_title_within) if self.options.same_title_within \
            else None
        self._fresh = parse_interval(self.options.backfill_within) if self.options.backfill_within \
            else DEFAULT_FRESH
        self._reset()

    def follow_max_age(self, max_age: timedelta) -> None:
        """The relevance filter's ``max_age``: what backfill counts as fresh, unless set here."""
        if not self.options.backfill_within:
            self._fresh = max_age

    def _reset(self) -> None:
        self._looked_up: set[tuple[str, str]] = set()  # (source, guid) whose matches are loaded
        self._links: dict[tuple[str, str], _Match] = {}  # (link, "guid:…"/"title:…") → oldest row
        # fingerprint → (oldest stored row in the loaded span or None, the span's ends)
        self._prints: dict[str, tuple[_Stamped | None, datetime, datetime]] = {}
        # this batch's own rows: the id is asked for only when a reason needs it
        self._batch_links: dict[tuple[str, str], _Pending] = {}
        self._batch_prints: dict[str, list[tuple[_Pending, datetime]]] = {}

    def prepare(self, items: list[NewsItem], ctx: FilterContext) -> None:
        self._reset()
        self._load(items, ctx)

    def stored(self, item: NewsItem, row_id: Callable[[], int], ctx: FilterContext) -> None:
        pending = (row_id, item.source)
        print_ = fingerprint(item)
        for key in _link_keys(item, print_):
            self._batch_links.setdefault(key, pending)
        if print_:
            stamp = item.published_at or ctx.clock.now()
            self._batch_prints.setdefault(print_, []).append((pending, stamp))

    def check(self, item: NewsItem, ctx: FilterContext) -> Verdict:
        if (item.source, item.guid) not in self._looked_up:  # not in the prepared batch
            self._load([item], ctx)
        duplicate = self._duplicate(item, ctx)
        if duplicate:
            return Drop(duplicate)
        if ctx.first_poll and item.guid not in self._backfill(ctx):
            return Drop(f"already published when the hub started watching {item.source} "
                        f"(first poll; {self._backfill_rule(item, ctx)})", status="seen")
        return Keep(item, note="new story")

    def _backfill_rule(self, item: NewsItem, ctx: FilterContext) -> str:
        rule = f"backfill = {self.options.backfill}"
        if self.options.backfill and item.published_at and \
                item.published_at < ctx.clock.now() - self._fresh:
            rule += f", and only items of the last {_days(self._fresh)} are backfilled"
        return rule

    def resends_edits(self) -> bool:
        return self.options.resend_edited

    def _load(self, items: list[NewsItem], ctx: FilterContext) -> None:
        """Read the oldest stored row sharing a link and a guid or title, or a title fingerprint,
        with each of ``items``: a few queries per batch (a popular title may have many rows)."""
        session = ctx.session
        self._looked_up.update((item.source, item.guid) for item in items)
        prints = {p: item.published_at or ctx.clock.now() for item in items if (p := fingerprint(item))}
        links = sorted({item.canonical_url for item in items if item.canonical_url})
        if links:
            guids = sorted({item.guid for item in items if item.canonical_url})
            _load_links(session, links, guids, sorted(prints), self._links)
        if not self._span:
            return
        if prints:
            low, high = min(prints.values()) - self._span, max(prints.values()) + self._span
            stamp = func.coalesce(ItemRow.published_at, ItemRow.fetched_at)
            found = _first_titled(session, sorted(prints), stamp >= low, stamp <= high)
            self._prints.update((p, (found.get(p), low, high)) for p in prints)

    def _duplicate(self, item: NewsItem, ctx: FilterContext) -> str | None:
        print_ = fingerprint(item)
        for key in _link_keys(item, print_):
            found = self._links.get(key) or _written(self._batch_links.get(key))
            if found is not None:
                what = "guid" if key[1].startswith("guid:") else "title"
                return f"duplicate of item #{found[0]} from {found[1]} (same link and {what})"
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

    def _backfill(self, ctx: FilterContext) -> set[str]:
        """The newest ``backfill`` items of the first poll, among those still fresh."""
        if not self.options.backfill:
            return set()
        since = ctx.clock.now() - self._fresh
        fresh = [item for item in ctx.batch if item.published_at and item.published_at >= since]
        ranked = sorted(fresh, key=lambda item: item.published_at or _EPOCH, reverse=True)
        return {item.guid for item in ranked[: self.options.backfill]}


_Match = tuple[int, str]  # a stored row's id and source
_Stamped = tuple[int, str, datetime]  # ... and its time (published, else fetched)
_Pending = tuple[Callable[[], int], str]  # a row of this batch: its id when asked, and source


def _written(pending: _Pending | None) -> _Match | None:
    return None if pending is None else (pending[0](), pending[1])


def _link_keys(item: NewsItem, print_: str) -> list[tuple[str, str]]:
    """What makes a shared link the same story: the same guid, or the same title."""
    if not item.canonical_url:
        return []
    keys = [(item.canonical_url, "guid:" + item.guid)]
    if print_:
        keys.append((item.canonical_url, "title:" + print_))
    return keys


def _load_links(session: Any, links: list[str], guids: list[str], prints: list[str],
                found: dict[tuple[str, str], _Match]) -> None:
    """Stored rows sharing one of ``links`` and one of ``guids`` or ``prints``, oldest kept.

    Only rows that also share a guid or a title are read: a home page used as every item's
    link may be shared by thousands of rows."""
    for chunk in _chunks(links):
        corroborated = or_(col(ItemRow.guid).in_(guids), col(ItemRow.fingerprint).in_(prints)) \
            if prints else col(ItemRow.guid).in_(guids)
        rows = session.execute(
            sa_select(col(ItemRow.id), col(ItemRow.source), col(ItemRow.canonical_url),
                      col(ItemRow.guid), col(ItemRow.fingerprint))
            .where(col(ItemRow.canonical_url).in_(chunk), corroborated)).all()
        for id_, source, link, guid, print_ in rows:
            for key in ((link, "guid:" + guid), (link, "title:" + (print_ or ""))):
                if key[1] != "title:" and (key not in found or id_ < found[key][0]):
                    found[key] = (id_, source)


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:g} day(s)" if days >= 1 else f"{span.total_seconds() / 3600:g} hour(s)"


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
