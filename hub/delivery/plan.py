"""Writing the outbox: one delivery row per (item or digest, subscriber), in bulk.

Rows carry a unique ``key``; planning the same pair twice inserts nothing the second time.
A routine run's rows are computed a page of subscribers at a time and inserted with one
``executemany`` per chunk, so time and memory stay flat however many subscribers there are;
the text of every message is rendered here, once per distinct content, and fixed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Text, func, type_coerce
from sqlalchemy import insert as generic_insert
from sqlalchemy import select as sa_select
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlmodel import Session, col, select

from hub.audience.texts import plain
from hub.delivery.caps import COUNTED_AT_PLAN, Caps, news_column
from hub.delivery.held_back import HeldBack, held_for
from hub.delivery.render import item_payload, render_digest, render_item
from hub.delivery.utm import tagged
from hub.matching import fold_tags
from hub.storage.tables import DeliveryRow, ItemRow, SubscriberRow
from hub.storage.typed import primary_key, stored_id, table_of
from hub.timekeeping.when import day_bounds

CHUNK = 5_000


def active_subscribers(session: Session, tags: Iterable[str] = ()) -> Iterator[SubscriberRow]:
    """Active, opted-in subscribers whose topics match ``tags`` (no topics: everything)."""
    wanted = {t.lower() for t in tags}
    query = select(SubscriberRow).where(
        SubscriberRow.status == "active", col(SubscriberRow.opted_in_at).is_not(None)
    ).execution_options(yield_per=CHUNK)  # a page of people at a time, not all of them
    for subscriber in session.exec(query):
        topics = {t.lower() for t in subscriber.topics or []}
        if not topics or not wanted or topics & wanted:
            yield subscriber


def insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> int:
    """Bulk-insert delivery rows in chunks; rows whose ``key`` exists are skipped."""
    dialect = session.get_bind().dialect.name
    statement: Insert
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        statement = sqlite_insert(DeliveryRow).on_conflict_do_nothing(index_elements=["key"])
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert
        statement = postgresql_insert(DeliveryRow).on_conflict_do_nothing(index_elements=["key"])
    else:  # pragma: no cover - other databases plan without the conflict clause
        statement = generic_insert(DeliveryRow)
    written = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        if dialect == "postgresql":
            # psycopg reports no rowcount (-1) for a batch: count the rows it returns instead.
            returned = session.connection().execute(statement.returning(col(DeliveryRow.id)), chunk)
            written += len(returned.all())
            continue
        result = session.connection().execute(statement, chunk)
        written += max(result.rowcount or 0, 0)
    return written


def plan_each(session: Session, items: list[ItemRow], now: datetime,
              routine: str | None = None, footer: str | None = None) -> int:
    """Plan one message per (item, matching subscriber), due now; returns rows written.

    Rows are inserted a chunk at a time as subscribers are read, so memory stays flat."""
    written = 0
    rows: list[dict[str, Any]] = []
    for item in items:
        payload = item_payload(item)
        body = {"kind": "item", "text": render_item(payload, footer), "items": [payload]}
        for subscriber in active_subscribers(session, item.tags):
            rows.append({
                "key": f"item:{item.id}:{subscriber.id}", "subscriber_id": subscriber.id,
                "item_id": item.id, "routine": routine, "body": body, "status": "planned",
                "created_at": now, "due_at": now, "attempts": 0,
            })
            if len(rows) == CHUNK:
                written += insert_ignoring_duplicates(session, rows)
                rows = []
    return written + insert_ignoring_duplicates(session, rows)


# --- Routine runs: ranked items, streamed subscribers, caps applied, rows written in chunks ---

PLAN_COLUMNS = ("key", "subscriber_id", "item_id", "routine", "run_id", "body", "status", "reason",
                "created_at", "due_at")


def rank(items: Iterable[ItemRow]) -> list[ItemRow]:
    """Priority first, then newest (published, or fetched when the source gave no date)."""
    def newest(item: ItemRow) -> tuple[datetime, int]:
        return item.published_at or item.fetched_at or datetime.min.replace(tzinfo=UTC), item.id or 0

    by_newest = sorted(items, key=newest, reverse=True)
    return sorted(by_newest, key=lambda item: not item.priority)


@dataclass
class RunPlan:
    """What a routine run sends: its ranked items, in which form, to whom, under which caps."""

    routine: str
    run_id: int | None
    mode: str  # digest | each
    items: list[ItemRow]
    now: datetime
    caps: Caps
    heading: str | None = None  # None: the catalogue's ("Resumen de noticias")
    max_items: int = 50  # per person: their best-ranked matching items
    footer: str | None = None  # the way out, in the subscribers' language; None: the default's
    utm_source: str | None = None  # tag every link (hub.delivery.utm) with this source; None: off
    # Stories the daily cap held back for a person earlier compete again (None: not looked for).
    held_back: HeldBack | None = None
    only: int | None = None  # plan for this one subscriber (a person's forecast)
    # Messages to each person that earlier forecast runs would send (chained previews).
    prior: dict[int, list[datetime]] = field(default_factory=dict)


@dataclass(frozen=True)
class Planned:
    """One row a plan would write, as a person's forecast shows it."""

    subscriber_id: int
    item_ids: tuple[int, ...]
    status: str  # planned | skipped
    reason: str | None
    due: datetime
    again: tuple[int, ...] = ()  # of ``item_ids``, those held back by the cap before


@dataclass
class PlanStats:
    """What planning did (or, for a preview, would do)."""

    recipients: int = 0
    planned: int = 0
    skipped: int = 0
    waiting_quiet: int = 0
    waiting_gap: int = 0
    by_topic: Counter[str] = field(default_factory=Counter)
    samples: dict[tuple[int, ...], str] = field(default_factory=dict)  # item ids → rendered text
    used: set[int] = field(default_factory=set)  # items that reach at least one person
    # Previews only: people already reached lately (bounded by the recipient ceiling), and how
    # many of those this run would reach again — counted, so no set grows with the audience.
    reached: set[int] = field(default_factory=set)
    reached_again: int = 0
    # Previews and budgeted runs only: messages planned per subscriber, for the cost estimate.
    people: Counter[int] | None = None
    again: int = 0  # stories held back by the cap earlier, offered again
    # Forecasts only: every row the plan would write, in order.
    rows_seen: list[Planned] | None = None

    @property
    def rows(self) -> int:
        return self.planned + self.skipped


def plan_run(session: Session, plan: RunPlan, *, driver_fast_path: bool = True) -> PlanStats:
    """Write the run's delivery rows in chunks; returns the counts. Idempotent per ``key``.

    ``driver_fast_path=False`` uses SQLAlchemy Core on SQLite too (as on PostgreSQL).
    """
    stats = PlanStats()
    writer = _ChunkWriter(session, driver_fast_path)
    for chunk in _plan_chunks(session, plan, stats, writer):
        writer.write(chunk)
    return stats


def preview_run(session: Session, plan: RunPlan, reached: set[int] | None = None, *,
                rows: bool = False) -> PlanStats:
    """Count what :func:`plan_run` would write, writing nothing; ``reached_again`` counts the
    recipients among ``reached``, ``people`` the messages per subscriber; with ``rows``,
    ``rows_seen`` lists each row (for one person's forecast)."""
    stats = PlanStats(reached=reached or set(), people=Counter(), rows_seen=[] if rows else None)
    for _ in _plan_chunks(session, plan, stats, _Identity()):
        pass
    return stats


def _plan_chunks(session: Session, plan: RunPlan, stats: PlanStats,
                 encode: _Encoder) -> Iterator[list[tuple[Any, ...]]]:
    caps = plan.caps
    payloads = {item.id: _tagged(item_payload(item), plan) for item in plan.items}
    entries = [(stored_id(item), frozenset(fold_tags(item.tags or []))) for item in plan.items]
    revisions = {item.id: f".{item.revision}" if item.revision else "" for item in plan.items}
    topics_cache: dict[str | None, frozenset[str]] = {}
    chosen_cache: dict[frozenset[str], list[tuple[int, ...]]] = {}
    base_due = caps.out_of_quiet(plan.now)
    created, due_now = encode.when(plan.now), encode.when(base_due)
    routine, run_id, digest = plan.routine, plan.run_id, plan.mode == "digest"
    in_quiet = base_due != plan.now
    rules = _Rules(caps, base_due) if caps.per_day is not None or caps.min_gap is not None else None
    offer = _Offer(plan, payloads, revisions)
    for page in _subscriber_pages(session, plan.only):
        history = _history(session, page[0][0], page[-1][0], caps, base_due) if rules else {}
        for subscriber_id, earlier in plan.prior.items():
            history.setdefault(subscriber_id, []).extend(earlier)
        held = (held_for(session, page[0][0], page[-1][0], plan.now, plan.held_back)
                if plan.held_back is not None else {})
        rows: list[tuple[Any, ...]] = []
        for subscriber_id, raw_topics in page:
            topics = topics_cache.get(raw_topics)
            if topics is None:
                topics = topics_cache[raw_topics] = frozenset(fold_tags(json.loads(raw_topics or "[]")))
            again: frozenset[int] = frozenset()
            mine = [item for item in held.get(subscriber_id, ())
                    if not topics or topics & fold_tags(item.tags or [])]
            groups: list[tuple[int, ...]] | None
            if mine:
                groups, again = offer.with_held(topics, entries, mine, stats)
            else:
                groups = chosen_cache.get(topics)
                if groups is None:
                    chosen = tuple(i for i, tags in entries if not topics or topics & tags)[:plan.max_items]
                    stats.used.update(chosen)
                    groups = _groups(chosen, digest)
                    chosen_cache[topics] = groups
            if not groups:
                continue
            stats.recipients += 1
            if subscriber_id in stats.reached:
                stats.reached_again += 1
            for topic in topics or ("(all topics)",):
                stats.by_topic[topic] += 1
            times = history.get(subscriber_id)
            for ids in groups:
                body = encode.body(ids, lambda ids=ids: _body(plan, [payloads[i] for i in ids], stats))
                if digest:
                    key, item_id = f"run:{run_id}:{subscriber_id}", None
                else:
                    key, item_id = f"item:{ids[0]}{revisions[ids[0]]}:{subscriber_id}", ids[0]
                    if ids[0] in again:  # its skipped row holds the plain key: one per offer
                        key = f"{key}:run{run_id}"
                status, reason, due = "planned", None, due_now
                if rules is not None:
                    if times is None:
                        times = history[subscriber_id] = []
                    when, status, reason = rules.apply(times, stats)
                    if when != base_due:
                        due = encode.when(when)
                if status == "planned":
                    stats.planned += 1
                    stats.waiting_quiet += in_quiet
                    if stats.people is not None:
                        stats.people[subscriber_id] += 1
                else:
                    stats.skipped += 1
                if stats.rows_seen is not None:
                    stats.rows_seen.append(Planned(subscriber_id, ids, status, reason, due,
                                                   tuple(i for i in ids if i in again)))
                rows.append((key, subscriber_id, item_id, routine, run_id, body, status, reason,
                             created, due))
        if rows:
            yield rows


class _Offer:
    """A person's stories when some were held back by the cap before: theirs and the run's new
    ones, ranked together, the best ``max_items`` of them."""

    def __init__(self, plan: RunPlan, payloads: dict[int | None, dict[str, Any]],
                 revisions: dict[int | None, str]) -> None:
        self.plan, self.payloads, self.revisions = plan, payloads, revisions
        self.by_id = {item.id: item for item in plan.items}

    def with_held(self, topics: frozenset[str], entries: list[tuple[int, frozenset[str]]],
                  held: list[ItemRow], stats: PlanStats) -> tuple[list[tuple[int, ...]], frozenset[int]]:
        fresh = [self.by_id[i] for i, tags in entries if not topics or topics & tags]
        held = [item for item in held if item.id not in self.by_id]  # a story is offered once a run
        chosen = tuple(stored_id(item) for item in rank([*fresh, *held])[:self.plan.max_items])
        again = frozenset(stored_id(item) for item in held) & frozenset(chosen)
        for item in held:
            if item.id in again and item.id not in self.payloads:
                self.payloads[item.id] = item_payload(item)
                self.revisions[item.id] = f".{item.revision}" if item.revision else ""
        stats.used.update(i for i in chosen if i not in again)
        stats.again += len(again)
        return _groups(chosen, self.plan.mode == "digest"), again


def _groups(chosen: tuple[int, ...], digest: bool) -> list[tuple[int, ...]]:
    """A person's messages: one digest of their stories, or one message each (none: none)."""
    if not chosen:
        return []
    return [chosen] if digest else [(i,) for i in chosen]


class _Rules:
    """The per-person caps at plan time: a daily cap and a minimum gap, on one person's history."""

    def __init__(self, caps: Caps, base_due: datetime) -> None:
        self.caps, self.base_due = caps, base_due
        self.bounds: dict[datetime, tuple[datetime, datetime]] = {}

    def _day(self, moment: datetime) -> tuple[datetime, datetime]:
        bounds = self.bounds.get(moment)
        if bounds is None:
            bounds = self.bounds[moment] = day_bounds(moment, self.caps.tz)
        return bounds

    def apply(self, times: list[datetime], stats: PlanStats) -> tuple[datetime, str, str | None]:
        """Due time and status of one more message to a person whose history is ``times``."""
        caps, due = self.caps, self.base_due
        if caps.min_gap and times and max(times) + caps.min_gap > due:
            due = caps.out_of_quiet(max(times) + caps.min_gap)
            stats.waiting_gap += 1
        if caps.per_day is not None and times:
            start, end = self._day(due)
            if sum(1 for t in times if start <= t < end) >= caps.per_day:
                return self.base_due, "skipped", f"cap: {caps.per_day} message(s) per day"
        times.append(due)
        return due, "planned", None


def _tagged(payload: dict[str, Any], plan: RunPlan) -> dict[str, Any]:
    """The story's link with its UTM tags, when ``[hub] utm`` asks for them."""
    if plan.utm_source and payload.get("url"):
        payload["url"] = tagged(payload["url"], source=plan.utm_source, medium=plan.routine,
                                campaign=str(plan.run_id) if plan.run_id is not None else None)
    return payload


def _body(plan: RunPlan, payloads: list[dict[str, Any]], stats: PlanStats) -> dict[str, Any]:
    if plan.mode == "digest" and len(payloads) > 1:
        heading = plan.heading or plain()("digest_heading")
        text = render_digest(payloads, heading, plan.footer)
        body = {"kind": "digest", "text": text, "items": payloads, "heading": heading}
    else:
        text = render_item(payloads[0], plan.footer)
        body = {"kind": "item", "text": text, "items": payloads}
    stats.samples.setdefault(tuple(p["id"] for p in payloads), text)
    return body


def _subscriber_pages(session: Session, only: int | None = None) -> Iterator[list[tuple[int, str]]]:
    """Active, opted-in subscribers as (id, raw topics JSON), a page at a time, by id."""
    last = 0
    topics = type_coerce(SubscriberRow.topics, Text)
    while True:
        query = sa_select(primary_key(SubscriberRow.id), topics).where(
            col(SubscriberRow.id) > last, col(SubscriberRow.status) == "active",
            col(SubscriberRow.opted_in_at).is_not(None),
        )
        if only is not None:
            query = query.where(col(SubscriberRow.id) == only)
        page = session.connection().execute(query.order_by(col(SubscriberRow.id)).limit(CHUNK)).all()
        if not page:
            return
        # SQLite hands back the JSON text; psycopg decodes JSON itself: one hashable text either way.
        yield [(row[0], row[1] if row[1] is None or isinstance(row[1], str) else json.dumps(row[1]))
               for row in page]
        last = page[-1][0]


def _history(session: Session, first: int, last: int, caps: Caps,
             due: datetime) -> dict[int, list[datetime]]:
    """When each subscriber in ``first..last`` was (or will be) sent something, lately."""
    when = func.coalesce(DeliveryRow.claimed_at, DeliveryRow.due_at)
    # Only the subscriber range is in SQL, so the planner walks the subscriber_id index; a
    # status condition would tempt it onto (status, due_at) and rescan every row planned so far.
    rows = session.exec(
        select(DeliveryRow.subscriber_id, when, DeliveryRow.status, news_column()).where(
            DeliveryRow.subscriber_id >= first, DeliveryRow.subscriber_id <= last,
            when >= caps.lookback(due),
        )
    ).all()
    history: dict[int, list[datetime]] = {}
    for subscriber_id, moment, status, news in rows:
        if status in COUNTED_AT_PLAN and news:
            history.setdefault(subscriber_id, []).append(moment)
    return history


class _Encoder:
    def when(self, moment: datetime) -> Any: ...
    def body(self, ids: tuple[int, ...], make: Any) -> Any: ...


class _Identity(_Encoder):
    """For previews: values as they are, each body built once."""

    def __init__(self) -> None:
        self.bodies: dict[tuple[int, ...], Any] = {}

    def when(self, moment: datetime) -> Any:
        return moment

    def body(self, ids: tuple[int, ...], make: Any) -> Any:
        if ids not in self.bodies:
            self.bodies[ids] = make()
        return self.bodies[ids]


class _ChunkWriter(_Encoder):
    """Inserts rows with one ``executemany`` per chunk, skipping keys already planned.

    On SQLite the values are converted once per distinct value with the columns' own bind
    processors (the same text the ORM would store) and handed straight to the driver; elsewhere
    SQLAlchemy Core's ``ON CONFLICT DO NOTHING`` insert is used.
    """

    def __init__(self, session: Session, fast_path: bool = True) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect
        self.raw = fast_path and self.dialect.name == "sqlite"
        columns = table_of(DeliveryRow).c
        self.bodies: dict[tuple[int, ...], Any] = {}
        self.times: dict[datetime, Any] = {}
        self._time = columns.due_at.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        self._json = columns.body.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        self.extra = {c.name: c.default.arg for c in columns
                      if c.name not in PLAN_COLUMNS and not c.nullable
                      and isinstance(c.default, ScalarElementColumnDefault)}
        names = (*PLAN_COLUMNS, *self.extra)
        self.sql = (f"INSERT INTO {DeliveryRow.__tablename__} ({', '.join(names)}) VALUES "
                    f"({', '.join('?' for _ in names)}) ON CONFLICT (key) DO NOTHING")

    def when(self, moment: datetime) -> Any:
        if not self.raw:
            return moment
        value = self.times.get(moment)
        if value is None:
            value = self.times[moment] = self._time(moment) if self._time else moment
        return value

    def body(self, ids: tuple[int, ...], make: Any) -> Any:
        value = self.bodies.get(ids)
        if value is None:
            value = make()
            if self.raw and self._json:
                value = self._json(value)
            self.bodies[ids] = value
        return value

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        extra = tuple(self.extra.values())
        if self.raw:
            self.session.connection().exec_driver_sql(self.sql, [row + extra for row in rows])
            return
        names = (*PLAN_COLUMNS, *self.extra)
        insert_ignoring_duplicates(self.session, [dict(zip(names, row + extra, strict=True))
                                                  for row in rows])
