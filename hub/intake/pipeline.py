"""One poll: fetch every due source concurrently, run the filters, store what is new.

Each source's items and its new state are committed in one transaction, so an item is never
acknowledged (its ETag stored) without being stored itself.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import multiprocessing as mp
import os
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast, overload

import httpx
from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from hub.config import HubConfig, PluginSection
from hub.contracts import (
    Drop,
    FetchContext,
    FetchResult,
    Filter,
    FilterContext,
    Source,
    SourceState,
)
from hub.errors import HubError
from hub.intake.fetch import USER_AGENT, Fetcher, FetchPolicy, make_client
from hub.news import NewsItem
from hub.plugins import Registry
from hub.storage.store import Store
from hub.storage.tables import ItemRow, SourceRow
from hub.storage.typed import select_columns, table_of
from hub.text import normalise as _normalise
from hub.timekeeping.clock import Clock, SystemClock
from hub.timekeeping.durations import parse_interval

log = logging.getLogger("hub.poll")

FAILING_AFTER = 3
MAX_BACKOFF = timedelta(hours=6)
POOL_MIN_SOURCES = 8  # below this, forking parsers costs more than it saves
PARSER_NICENESS = 10
__all__ = ["USER_AGENT", "PollReport", "SourceReport", "backoff_delay", "poll_once"]


@dataclass
class SourceReport:
    """What one source's poll did, for the CLI and the logs."""

    name: str
    fetched: int = 0
    stored: int = 0
    dropped: int = 0
    repeated: int = 0
    seen: int = 0  # a new source's backlog: recorded, never sent
    not_modified: bool = False
    skipped: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class PollReport:
    sources: list[SourceReport] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(s.stored for s in self.sources)


def build_sources(config: HubConfig, registry: Registry) -> list[Source]:
    return [_instantiate(registry, "sources", s) for s in config.enabled_sources()]


def build_filters(config: HubConfig, registry: Registry) -> list[tuple[str, Filter]]:
    filters = [(f.type, _instantiate(registry, "filters", f)) for f in config.enabled_filters()]
    _share_max_age(filters)
    return filters


def _share_max_age(filters: list[tuple[str, Any]]) -> None:
    """A filter's ``max_age`` (relevance) tells the others what counts as fresh (dedup's
    backfill), so one setting answers "how old is too old to send"."""
    ages = [parse_interval(age) for _, flt in filters
            if isinstance(age := getattr(flt.options, "max_age", None), str)]
    if ages:
        for _, flt in filters:
            follow = getattr(flt, "follow_max_age", None)
            if callable(follow):
                follow(min(ages))


@overload
def _instantiate(registry: Registry, kind: Literal["sources"], section: PluginSection) -> Source: ...
@overload
def _instantiate(registry: Registry, kind: Literal["filters"], section: PluginSection) -> Filter: ...
def _instantiate(registry: Registry, kind: str, section: PluginSection) -> object:
    """One configured plugin; the registry checked at registration that ``kind`` holds its base."""
    registered = registry.get(kind, section.type)
    assert registered is not None, f"config validated against another registry: {section.type}"
    return registered.cls(section.options)


async def poll_once(
    config: HubConfig,
    store: Store,
    registry: Registry,
    *,
    clock: Clock | None = None,
    force: bool = False,
    client: httpx.AsyncClient | None = None,
    policy: FetchPolicy | None = None,
    workers: int | None = None,
    pool_from: int = 0,
) -> PollReport:
    """Poll every enabled source that is due (all of them with ``force``) and store new items.

    All due sources are fetched concurrently through one client; with many of them, parsing runs
    in a process pool of ``workers`` processes (default: one per core, at most 4;
    ``HUB_PARSE_WORKERS``), while this process stores each source's items as they come back.
    (One worker per core but one was measured slower on 2 cores: storing is light enough.)
    ``pool_from`` lowers the number of due sources that pays for a pool (default
    ``POOL_MIN_SOURCES``): the daemon passes 1, so even one big feed is parsed in another
    process and never competes for this one's interpreter with the webhook.
    """
    clock = clock or SystemClock()
    policy = policy or FetchPolicy()
    sources = build_sources(config, registry)
    filters = build_filters(config, registry)
    states = _load_states(store, sources)
    now = clock.now()
    due = [s for s in sources if force or _is_due(states[s.name], s, now)]
    report = PollReport()
    for source in sources:
        if source not in due:
            report.sources.append(SourceReport(source.name, skipped=True))

    own_client = client is None
    client = client or make_client(policy)
    fetcher = Fetcher(client, policy)
    pool = _parse_pool(len(due), workers, pool_from or POOL_MIN_SOURCES)
    contexts = {
        s.name: FetchContext(client, _to_state(states[s.name], s), clock, config.base_dir,
                             fetcher=fetcher.for_source(allow_private=_allows_private(s)), pool=pool)
        for s in due
    }
    reports: dict[str, SourceReport] = {}
    unchanged: list[tuple[Source, FetchContext]] = []

    async def poll_one(source: Source) -> None:
        # Each source is stored as soon as it is parsed, while the others are still parsing.
        ctx = contexts[source.name]
        try:
            result: FetchResult | BaseException = await source.fetch(ctx)
        except (HubError, httpx.HTTPError, ValueError, OSError) as exc:
            result = exc
        source_report = reports[source.name] = SourceReport(source.name, warnings=ctx.warnings)
        _note_move(source, states[source.name], ctx)
        if isinstance(result, BaseException):
            source_report.error = str(result)
            _record_failure(store, source, clock, result)
        elif result.not_modified and not result.items:
            source_report.not_modified = True
            unchanged.append((source, ctx))
        else:
            _store_result(store, source, result, ctx, filters, clock, source_report)
        for warning in ctx.warnings:
            log.warning(warning)

    try:
        await asyncio.gather(*(poll_one(s) for s in due))
    finally:
        if pool is not None:
            await _close_pool(pool)
        if own_client:
            await client.aclose()
    if unchanged:
        _record_not_modified(store, unchanged, clock)
    report.sources.extend(reports[s.name] for s in due)
    return report


def _parse_pool(due: int, workers: int | None, pool_from: int = POOL_MIN_SOURCES) -> Executor | None:
    """A process pool for parsing when enough sources are due to pay for it, else None."""
    cores = os.cpu_count() or 1
    if workers is None:
        env = os.environ.get("HUB_PARSE_WORKERS")
        workers = int(env) if env and env.isdigit() else min(4, cores)
    if workers < 1 or cores < 2 or due < pool_from or "fork" not in mp.get_all_start_methods():
        return None
    # Niced: on a busy machine the parsers yield the CPU to the process answering the webhook.
    return ProcessPoolExecutor(max_workers=min(workers, due), mp_context=mp.get_context("fork"),
                               initializer=os.nice, initargs=(PARSER_NICENESS,))


async def _close_pool(pool: Executor) -> None:
    """Shut the pool down and wait until it has, on another thread (the loop keeps running).

    Without waiting, the pool's manager thread was still closing its pipes when the process
    exited or the pool was dropped, and a wakeup sent into a closed pipe ended some
    ``hub poll --once`` runs with "Exception ignored … OSError: [Errno 9] Bad file descriptor".
    After a normal poll every parse is done and this takes milliseconds; after an error, parses
    still queued are cancelled and a running one is let finish.
    """
    await asyncio.to_thread(functools.partial(pool.shutdown, wait=True, cancel_futures=True))


def _allows_private(source: Source) -> bool:
    """A source reaches loopback and private addresses only when its options say so."""
    return getattr(source.options, "allow_private", False) is True


def _note_move(source: Source, row: SourceRow, ctx: FetchContext) -> None:
    if ctx.state.url and ctx.state.url != (row.url or _configured_url(source)):
        message = (f"{source.name}: moved permanently to {ctx.state.url}; the stored URL is updated "
                   "(update hub.toml to match)")
        ctx.warnings.append(message)


def _load_states(store: Store, sources: list[Source]) -> dict[str, SourceRow]:
    with store.read() as session:
        rows = {r.name: r for r in session.exec(select(SourceRow)).all()}
    return {
        s.name: rows.get(s.name) or SourceRow(name=s.name, type=type(s).__name__, cursor={})
        for s in sources
    }


def _configured_url(source: Source) -> str | None:
    value = getattr(source.options, "url", None) or getattr(source.options, "sheet", None)
    return str(value) if value else None


def _is_due(row: SourceRow, source: Source, now: datetime) -> bool:
    """Due at ``next_poll_at``; a healthy source also when its (maybe shortened) interval passed."""
    if row.next_poll_at is None or row.next_poll_at <= now:
        return True
    if row.consecutive_failures == 0 and row.last_polled_at is not None:
        return row.last_polled_at + _interval(row, source) <= now
    return False


def _to_state(row: SourceRow, source: Source) -> SourceState:
    """The source's memory, forgotten when hub.toml now names another URL than it was built for."""
    configured = _configured_url(source)
    if row.origin_url and configured and row.origin_url != configured:
        return SourceState()
    return SourceState(url=row.url, etag=row.etag, last_modified=row.last_modified,
                       cursor={k: v for k, v in (row.cursor or {}).items() if not k.startswith("hub:")})


def _get_row(session: Session, source: Source) -> SourceRow:
    row = session.get(SourceRow, source.name)
    if row is None:
        row = SourceRow(name=source.name, type=type(source).__name__, cursor={})
        session.add(row)
    return row


INSERT_CHUNK = 200  # new rows per write transaction: SQLite's one writer lock is held briefly
CHUNK_PAUSE_FACTOR = 3.0  # after each chunk, wait this many times as long as it held the lock


@dataclass
class _Decided:
    """What deciding a batch produced: the rows still to insert, and what the source row learns."""

    rows: list[dict[str, Any]]
    kept: int
    held: bool
    first_poll: bool


def _store_result(
    store: Store,
    source: Source,
    result: FetchResult,
    ctx: FetchContext,
    filters: list[tuple[str, Filter]],
    clock: Clock,
    report: SourceReport,
) -> None:
    """Filter one source's batch, then store it in short transactions.

    Deciding (the store read in bulk, each filter's ``prepare`` and ``check``, the poll review)
    runs in a transaction that takes SQLite's writer lock only if it must write early; the new
    rows are then inserted ``INSERT_CHUNK`` at a time, the last transaction also recording the
    poll on the source row. So a 10 MB feed never keeps the one SQLite writer — and a BAJA
    waiting on the webhook — for more than a moment. A crash between chunks leaves the source
    unmarked: the next poll fetches again and finds the rows already stored as repeats.
    """
    now = clock.now()
    try:
        decided = _decide(store, source, result, filters, clock, report, now, begin="DEFERRED")
    except OperationalError:
        if not store.is_sqlite:
            raise
        # It had to write early and another writer committed meanwhile: decide again, locked.
        report.stored = report.dropped = report.repeated = report.seen = 0
        decided = _decide(store, source, result, filters, clock, report, now, begin="IMMEDIATE")
    chunks = [decided.rows[i:i + INSERT_CHUNK] for i in range(0, len(decided.rows), INSERT_CHUNK)]
    for chunk in chunks[:-1]:
        started = time.monotonic()
        with store.write() as session:
            session.connection().execute(insert(_ITEMS), [dict(r) for r in chunk])
        # Leave the writer lock free most of the time: a webhook waiting in SQLite's busy handler
        # retries at growing intervals and would lose every race to back-to-back chunks.
        time.sleep(CHUNK_PAUSE_FACTOR * (time.monotonic() - started))
    with store.write() as session:
        if chunks:
            session.connection().execute(insert(_ITEMS), [dict(r) for r in chunks[-1]])
        row = _get_row(session, source)
        if not decided.first_poll and not decided.held:
            row.usual_new = round(0.8 * row.usual_new + 0.2 * decided.kept, 3)
        _mark_success(row, source, ctx, now, status=304 if result.not_modified else 200)
        row.item_count += report.stored
    log.info("%s: %d fetched, %d new, %d dropped%s", source.name, report.fetched, report.stored,
             report.dropped, " (not modified)" if result.not_modified else "")


def _decide(store: Store, source: Source, result: FetchResult, filters: list[tuple[str, Filter]],
            clock: Clock, report: SourceReport, now: datetime, *, begin: str) -> _Decided:
    """Run the filters over one batch; returns the new rows not written yet.

    The store is read in bulk (the batch's stored guids; each filter's ``prepare``). A row is
    written early only when its id is needed sooner (a later item of the same batch is its
    duplicate, and the reason names it), and an edited item is updated in place.
    """
    with store.write(begin=begin) as session:
        stored_row = session.get(SourceRow, source.name)
        first_poll = stored_row is None or stored_row.polls == 0
        usual_new = stored_row.usual_new if stored_row is not None else 0.0
        report.not_modified = result.not_modified
        report.fetched = len(result.items)
        filter_ctx = FilterContext(session=session, clock=clock, first_poll=first_poll,
                                   batch=list(result.items), source_usual_new=usual_new)
        known: dict[tuple[str, str], Any] = _known(session, result.items)
        fresh = [item for item in result.items if (item.source, item.guid) not in known]
        for _, flt in filters:
            flt.prepare(fresh, filter_ctx)
        pending = _PendingRows(session)
        kept: list[tuple[NewsItem, dict[str, Any]]] = []
        for item in result.items:
            existing = known.get((item.source, item.guid))
            if existing is not None:
                report.repeated += 1
                if (existing.title, existing.summary, existing.text) != (item.title, item.summary,
                                                                         item.text):
                    stored_id = pending.id_of(existing) if isinstance(existing, dict) else existing.id
                    _note_edit(session.get_one(ItemRow, stored_id), item, filters, now)
                    session.flush()  # before any bulk update of the same row below
                continue
            verdict, notes = _run_filters(item, filters, filter_ctx)
            if isinstance(verdict, Drop):
                if verdict.status == "seen":
                    report.seen += 1
                else:
                    report.dropped += 1
                if not verdict.store:
                    continue
                stored = item
                values = _Known(_item_values(item, now, status=verdict.status,
                                             reason=verdict.reason, decisions=notes))
            else:
                stored = verdict
                values = _Known(_item_values(verdict, now, status="ready", reason=None,
                                             decisions=notes))
                kept.append((verdict, values))
                report.stored += 1
            pending.add(values)
            known[(item.source, item.guid)] = values
            for _, flt in filters:
                flt.stored(stored, functools.partial(pending.id_of, values), filter_ctx)
        held = _review_poll(kept, filters, filter_ctx)
        if held:
            pending.update_written([values for _, values in kept])
        return _Decided(rows=pending.unwritten, kept=len(kept), held=held, first_poll=first_poll)


class _Known(dict[str, Any]):
    """A row of this batch, still a plain dict of column values, readable like a stored row."""

    @property
    def title(self) -> str:
        return cast(str, self["title"])

    @property
    def summary(self) -> str:
        return cast(str, self["summary"])

    @property
    def text(self) -> str:
        return cast(str, self["text"])


_ITEMS = table_of(ItemRow)


class _PendingRows:
    """One batch's new item rows, inserted together; a row's id exists once it is written."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.unwritten: list[dict[str, Any]] = []
        self.ids: dict[int, int] = {}  # id(values) → row id, for rows written early

    def add(self, values: dict[str, Any]) -> None:
        self.unwritten.append(values)

    def id_of(self, values: dict[str, Any]) -> int:
        """The stored id of ``values``, writing every unwritten row first if it has none yet."""
        if id(values) not in self.ids:
            rows, self.unwritten = self.unwritten, []
            statement = insert(_ITEMS).returning(_ITEMS.c.id, sort_by_parameter_order=True)
            ids = self.session.connection().execute(statement, [dict(r) for r in rows]).scalars().all()
            self.ids.update({id(r): i for r, i in zip(rows, ids, strict=True)})
        return self.ids[id(values)]

    def update_written(self, rows: list[dict[str, Any]]) -> None:
        """Rows written early but changed since (held by a poll review): write the change."""
        changes = [{"_id": self.ids[id(r)], "status": r["status"], "reason": r["reason"],
                    "ready_at": r["ready_at"], "decisions": r["decisions"]}
                   for r in rows if id(r) in self.ids]
        if changes:
            self.session.connection().execute(
                update(_ITEMS).where(_ITEMS.c.id == bindparam("_id")), changes)


def _known(session: Session, items: list[NewsItem]) -> dict[tuple[str, str], Any]:
    """What is stored of ``items`` (by source and guid), read in a few light queries."""
    known: dict[tuple[str, str], Any] = {}
    by_source: dict[str, list[str]] = {}
    for item in items:
        by_source.setdefault(item.source, []).append(item.guid)
    for source, guids in by_source.items():
        for start in range(0, len(guids), 500):
            rows = session.exec(select_columns(
                ItemRow.id, ItemRow.source, ItemRow.guid, ItemRow.title, ItemRow.summary, ItemRow.text
            ).where(ItemRow.source == source, col(ItemRow.guid).in_(guids[start:start + 500]))).all()
            known.update({(r[1], r[2]): r for r in rows})  # by (source, guid)
    return known


def _run_filters(
    item: NewsItem, filters: list[tuple[str, Filter]], ctx: FilterContext
) -> tuple[NewsItem | Drop, list[str]]:
    """Run the filters in order; every decision is kept, with its reason, for the admin."""
    notes: list[str] = []
    for name, flt in filters:
        verdict = flt.check(item, ctx)
        if isinstance(verdict, Drop):
            notes.append(f"{name}: {verdict.reason}")
            return Drop(f"{name}: {verdict.reason}", store=verdict.store,
                        status=verdict.status), notes
        notes.append(f"{name}: {verdict.note or 'kept'}")
        item = verdict.item
    return item, notes


def _review_poll(kept: list[tuple[NewsItem, dict[str, Any]]], filters: list[tuple[str, Filter]],
                 ctx: FilterContext) -> bool:
    """Let each filter look at the whole poll; a reason holds every kept item for approval."""
    if not kept:
        return False
    for name, flt in filters:
        reason = flt.review_poll([item for item, _ in kept], ctx)
        if reason:
            for _, values in kept:
                values["status"], values["reason"] = "held", f"{name}: {reason}"
                values["ready_at"] = None
                values["decisions"] = [*values["decisions"], f"{name}: {reason}"]
            log.warning("%s: %d new item(s) held for approval: %s", kept[0][0].source, len(kept),
                        reason)
            return True
    return False


def _note_edit(existing: ItemRow, item: NewsItem, filters: list[tuple[str, Filter]], now: datetime) -> None:
    """A stored guid came back with new content: keep the newest text; resend only if asked."""
    new_hash = content_hash(item)
    if not existing.content_hash:
        existing.content_hash = new_hash
        return
    if existing.content_hash == new_hash:
        return
    existing.title, existing.summary, existing.text = item.title, item.summary, item.text
    existing.url, existing.canonical_url = item.url, item.canonical_url
    existing.image_url = item.image_url
    existing.fingerprint = fingerprint(item)
    existing.content_hash = new_hash
    existing.revision += 1
    existing.edited_at = now
    resend = existing.planned_at is not None and any(f.resends_edits() for _, f in filters)
    note = f"edited (revision {existing.revision})"
    if resend and existing.status == "ready":
        existing.planned_at, existing.planned_run_id, existing.ready_at = None, None, now
        note += ": will be sent again (resend_edited = true)"
    elif existing.planned_at is not None:
        note += ": already sent; edits are not resent"
    existing.decisions = [*existing.decisions, note]


def _record_not_modified(store: Store, unchanged: list[tuple[Source, FetchContext]],
                         clock: Clock) -> None:
    """Every source that answered 304 in one transaction: nothing parsed, only its clock moves."""
    now = clock.now()
    names = [source.name for source, _ in unchanged]
    with store.write() as session, session.no_autoflush:
        rows = {r.name: r for r in session.exec(select(SourceRow).where(col(SourceRow.name).in_(names)))}
        for source, ctx in unchanged:
            row = rows.get(source.name) or _get_row(session, source)
            _mark_success(row, source, ctx, now, status=304)
    log.info("%d source(s) not modified", len(unchanged))


def _mark_success(row: SourceRow, source: Source, ctx: FetchContext, now: datetime,
                  status: int | None) -> None:
    row.type = row.type or type(source).__name__
    row.url, row.etag, row.last_modified = ctx.state.url, ctx.state.etag, ctx.state.last_modified
    row.cursor = {**ctx.state.cursor, **_notes(row, ctx, status, parse_interval(source.options.every))}
    row.origin_url = _configured_url(source)
    row.polls += 1
    row.state = "ok"
    row.consecutive_failures = 0
    row.last_error = None
    row.failing_since = None
    row.last_status = status
    row.last_success_at = now
    row.last_polled_at = now
    row.next_poll_at = now + _interval(row, source)


def _interval(row: SourceRow, source: Source) -> timedelta:
    """``every``, or longer when the server asked for it (kept in the row's notes)."""
    every = parse_interval(source.options.every)
    wait = (row.cursor or {}).get(WAIT)
    return max(every, timedelta(seconds=float(wait))) if isinstance(wait, int | float) else every


WARNINGS = "hub:warnings"  # kept in the source's cursor for `hub sources`; never shown to the source
WAIT = "hub:wait"  # seconds the server asked to be left alone, when longer than `every`
MAX_WAIT = timedelta(days=1)  # a server asking for more is still polled daily


def _notes(row: SourceRow, ctx: FetchContext, status: int | None, every: timedelta
           ) -> dict[str, Any]:
    """What the hub keeps beside the source's own cursor: the last parsed poll's warnings (a
    304 parsed nothing, so the warnings of the document it confirms still stand), and how long
    the server asked not to be polled (``Cache-Control``/``Expires``/``<ttl>``) when that is
    longer than ``every``: the hub never polls faster than a server asks."""
    notes: dict[str, Any] = {}
    warnings = ctx.warnings[-10:]
    if status == 304 and not warnings:
        warnings = list((row.cursor or {}).get(WARNINGS) or [])
    if warnings:
        notes[WARNINGS] = warnings
    hint = ctx.fetcher.wait_hint if ctx.fetcher is not None else None
    if hint is not None and timedelta(seconds=hint) > every:
        notes[WAIT] = min(hint, MAX_WAIT.total_seconds())
    return notes


def backoff_delay(every: timedelta, failures: int, retry_after: float | None = None) -> timedelta:
    """Wait after the ``failures``-th failure in a row: one interval, doubling each time, capped
    at ``max(every, MAX_BACKOFF)``; never sooner than the server's ``Retry-After`` (≤ 1 day)."""
    cap = max(MAX_BACKOFF, every)
    delay: timedelta = min(every * (2 ** min(failures - 1, 20)), cap)
    if retry_after:
        delay = max(delay, min(timedelta(seconds=retry_after), timedelta(days=1)))
    return delay


def _record_failure(store: Store, source: Source, clock: Clock, error: BaseException | str) -> None:
    """Count a failure, keep its reason, back off, and mark the source failing after a few."""
    now = clock.now()
    message = str(error)
    status = getattr(error, "status", None)
    with store.write() as session:
        row = _get_row(session, source)
        row.type = row.type or type(source).__name__
        row.consecutive_failures += 1
        row.last_error = message[:2000]
        row.last_error_at = now
        row.last_status = status
        row.last_polled_at = now
        if row.consecutive_failures >= FAILING_AFTER or status == 410:
            if row.state != "failing":
                row.failing_since = now
                log.error("%s: marked failing after %d failure(s) in a row: %s", source.name,
                          row.consecutive_failures, message)
            row.state = "failing"
        delay = backoff_delay(parse_interval(source.options.every), row.consecutive_failures,
                              getattr(error, "retry_after", None))
        row.next_poll_at = now + delay
        failures = row.consecutive_failures
    log.warning("%s: poll failed (%d in a row, next try in %s): %s", source.name, failures, delay,
                message)


def fingerprint(item: NewsItem) -> str:
    """A short hash of the normalised title (or, untitled, the text's start), to spot one story
    under two ids."""
    text = _normalise(item.title) or " ".join(_normalise(item.summary or item.text).split()[:40])
    return hashlib.sha1(text.encode()).hexdigest()[:16] if text else ""


def content_hash(item: NewsItem) -> str:
    """A hash of what a reader sees, to tell an edited post from a repeat."""
    seen = "\x1f".join((_normalise(item.title), _normalise(item.summary), _normalise(item.text)))
    return hashlib.sha1(seen.encode()).hexdigest()[:16]


def _item_values(item: NewsItem, now: datetime, *, status: str, reason: str | None,
                 decisions: list[str] | None = None) -> dict[str, Any]:
    """The column values of a new ``items`` row (every column but ``id``), for a bulk insert."""
    return {
        "source": item.source, "guid": item.guid, "url": item.url,
        "canonical_url": item.canonical_url, "title": item.title, "summary": item.summary,
        "text": item.text, "image_url": item.image_url, "author": item.author,
        "tags": list(item.tags), "priority": item.priority, "fingerprint": fingerprint(item),
        "status": status, "reason": reason, "published_at": item.published_at, "fetched_at": now,
        "ready_at": now if status == "ready" else None, "planned_at": None, "planned_run_id": None,
        "content_hash": content_hash(item), "revision": 0, "edited_at": None,
        "decisions": list(decisions or []),
    }

