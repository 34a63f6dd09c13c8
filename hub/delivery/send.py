"""Sending the outbox through a sink: at most once per delivery, paced, and as the sink says.

At most once: a delivery is claimed (``sending``) and committed before the sink is called, and
its message id recorded after. A crash in between leaves a claim that the status webhook settles
(the request carried the delivery id in ``biz_opaque_callback_data``); only a claim that stayed
without any status for the sink's in-doubt timeout is sent again, because then Meta never took it.

Pace: a token bucket at the sink's rate (80/s by default for the Cloud API), at least the sink's
gap between two sends to one person (6 s), and up to ``concurrency`` requests in flight, so the
pipe stays full at 100 ms latency. A failed send is acted on by the :class:`~hub.contracts.Action`
its sink chose (the sink knows its API; this module knows no API's codes): retried with back-off,
delayed for one person, resent as the template, failed, or all sending slowed, paused or stopped
(see :mod:`hub.delivery.account`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, true
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from hub import events
from hub.audience.optouts import OptOuts, optouts
from hub.contracts import Action, OutgoingMessage, Pacing, SendResult, Sink
from hub.delivery import account
from hub.delivery.asked_ahead import AskedAhead
from hub.delivery.caps import Caps, ClaimGuard
from hub.delivery.claims import (
    LEASE,
    RENEW_EVERY,
    Ask,
    LastMoment,
    in_doubt,
    orphaned,
    release_dead,
    renew,
    requested_unanswered,
)
from hub.delivery.claims import worker_id as worker_id
from hub.delivery.departures import journal_for
from hub.delivery.failure_names import failure_name
from hub.delivery.holds import hold_reason
from hub.delivery.pacing import backoff
from hub.delivery.paid_gate import PaidGate
from hub.delivery.settle import RANK
from hub.delivery.shared_rate import bucket_for
from hub.delivery.statuses import apply_waiting
from hub.privacy import mask_person
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, StatusEventRow, SubscriberRow
from hub.storage.typed import table_of
from hub.timekeeping.clock import Clock, SystemClock

log = logging.getLogger("hub.delivery.send")

BATCH = 100
FLUSH_EVERY = 0.2  # seconds between two writes of outcomes (a lost one is settled by statuses)
# All sending for the number pauses this long after its throughput was reached (Meta's throughput error) when
# Meta gave no Retry-After. The number's last second is full then: a quarter of a second lets a
# quarter of it leave Meta's window, room for the few requests that bunched on their way. A whole
# second per bunch halted the number for a third of a busy run (benchmarks/workers.py --shared-rate).
THROTTLE_PAUSE = 0.25
GAP_MARGIN = 0.1  # seconds added to a person's gap within one run: requests do not arrive in step
PRUNE_AT = 4_096  # people remembered for their gap before those whose gap is over are forgotten
# What plugins hear of a send (``on_delivery_status``); a released claim or one a status already
# settled is no news.
HEARD_OUTCOMES = frozenset({"sent", "failed", "retrying", "in_doubt"})

__all__ = ["BATCH", "DispatchReport", "claim_due", "count_due_now", "dispatch_due", "due_now",
           "record_outcome", "record_sent", "worker_id"]


@dataclass
class DispatchReport:
    """What one run did; ``waiting`` counts deliveries left for later (retries, pacing, in doubt)."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retrying: int = 0
    in_doubt: int = 0
    released: int = 0
    fallbacks: int = 0
    waiting: int = 0
    blocked: str | None = None
    elapsed: float = 0.0
    codes: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        done = self.sent + self.failed + self.retrying + self.in_doubt
        return done / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class Claim:
    """A claimed delivery and what sending it needs to know about its person."""

    id: int
    subscriber_id: int
    body: dict[str, Any]
    attempts: int
    force_template: bool
    phone: str
    last_inbound_at: datetime | None
    marketing_stopped: bool
    user_id: str | None = None  # the BSUID, sent to when Meta never shared the number

    @classmethod
    def of(cls, delivery: DeliveryRow, subscriber: SubscriberRow) -> Claim:
        return cls(delivery.id or 0, subscriber.id or 0, delivery.body or {}, delivery.attempts,
                   delivery.force_template, subscriber.phone or "", subscriber.last_inbound_at,
                   subscriber.marketing_stopped, subscriber.user_id)


def _claimable(now: datetime, recipient_gap: timedelta,
               in_doubt_after: timedelta | None) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    ready = and_(col(DeliveryRow.status) == "planned", col(DeliveryRow.due_at) <= now,
                 or_(col(DeliveryRow.next_try_at).is_(None), col(DeliveryRow.next_try_at) <= now))
    d = table_of(DeliveryRow).c
    stale = orphaned(now, d)  # claimed, never requested, its worker gone: at once
    if in_doubt_after is not None:  # requested, and no status came: Meta never took it
        stale = or_(stale, in_doubt(now, d, in_doubt_after))
    rested = (or_(col(SubscriberRow.last_sent_at).is_(None),
                  col(SubscriberRow.last_sent_at) <= now - recipient_gap)
              if recipient_gap > timedelta(0) else true())
    return or_(ready, stale), rested


def claim_due(store: Store, clock: Clock, limit: int = BATCH, *, recipient_gap: timedelta = timedelta(0),
              in_doubt_after: timedelta | None = None, skipped: list[int] | None = None,
              caps: Caps | None = None, paid_gate: PaidGate | None = None) -> list[Claim]:
    """Claim up to ``limit`` due deliveries, one per person; opted-out recipients are skipped.

    A claim marks the row ``sending`` and reserves the person's pair-rate slot, committed before
    anything is sent. A ``sending`` row older than ``in_doubt_after`` (no status came) is claimed
    again: Meta sends at least ``sent`` for every message it accepted. Written with bulk SQL
    statements (no ORM unit of work), because at 1,000 messages a second its cost shows.

    Whether each row may go at all is :func:`hub.delivery.holds.hold_reason`'s answer (opted out,
    paused, weekly rhythm, a reply outside 24 h); with ``caps``, news is also checked against what
    was really sent (:mod:`hub.delivery.caps`): a delivery that must wait gets a later ``due_at``, one over
    the daily cap is skipped. A batch in which every row was skipped or held does not end the
    claiming.
    """
    while True:
        looked: list[int] = []
        claimed = _claim_batch(store, clock, limit, recipient_gap, in_doubt_after, skipped, caps, looked,
                               paid_gate)
        if claimed or not looked[0] or (paid_gate is not None and paid_gate.exhausted):
            return claimed


def _claim_batch(store: Store, clock: Clock, limit: int, recipient_gap: timedelta,
                 in_doubt_after: timedelta | None, skipped: list[int] | None, caps: Caps | None,
                 looked: list[int], paid_gate: PaidGate | None = None) -> list[Claim]:
    now = clock.now()
    d, s = table_of(DeliveryRow).c, table_of(SubscriberRow).c
    due, rested = _claimable(now, recipient_gap, in_doubt_after)
    claimed: list[Claim] = []
    with store.write() as session:
        connection = session.connection()
        rows = connection.execute(
            sa_select(d.id, d.subscriber_id, d.body, d.status, d.requested_at, d.attempts,
                      d.force_template, s.phone,
                      s.status.label("person"), s.opted_in_at, s.last_inbound_at, s.marketing_stopped,
                      s.paused_until, s.rhythm, s.user_id)
            .select_from(table_of(DeliveryRow).join(
                table_of(SubscriberRow), s.id == d.subscriber_id))
            .where(due, rested).order_by(d.due_at, d.id).limit(limit)
            # PostgreSQL: several workers share the outbox, each skipping rows another is claiming.
            # SQLite ignores this; its BEGIN IMMEDIATE already makes claims one at a time.
            .with_for_update(skip_locked=True, of=table_of(DeliveryRow))
        ).all()
        looked.append(len(rows))
        people: set[int] = set()
        dropped: dict[str, list[int]] = {}
        guard = _guard(caps, session, now, {row.subscriber_id for row in rows})
        for row in rows:
            reason = hold_reason(session, _DeliveryView(row.id, row.body), _PersonView.of(row), now)
            if reason is not None:
                dropped.setdefault(reason, []).append(row.id)
                continue
            if recipient_gap > timedelta(0) and row.subscriber_id in people:
                continue  # one message per person per claim; the next waits for the gap
            if row.rhythm == "weekly" and row.subscriber_id in people:
                continue  # the next claim sees this one's and applies the weekly rhythm
            if guard is not None and (row.body or {}).get("kind") != "reply":
                hold = guard.decide(row.subscriber_id)
                if hold is not None:
                    values: dict[str, Any] = {"reason": hold.reason, "updated_at": now}
                    if hold.until is None:
                        values["status"] = "skipped"
                        events.delivery_changed(session, row.id, "skipped")
                    else:
                        values["due_at"] = hold.until
                    connection.execute(sa_update(table_of(DeliveryRow)).where(
                        d.id == row.id).values(**values))
                    continue
            if row.status == "sending" and row.requested_at is not None:
                log.warning("delivery %s: no status within %s of its send; sending it again",
                            row.id, in_doubt_after)
            people.add(row.subscriber_id)
            claimed.append(Claim(row.id, row.subscriber_id, row.body or {}, row.attempts + 1,
                                 row.force_template, row.phone or "", row.last_inbound_at,
                                 row.marketing_stopped, row.user_id))
        for reason, ids in dropped.items():
            connection.execute(sa_update(table_of(DeliveryRow)).where(d.id.in_(ids)).values(
                status="skipped", reason=reason, updated_at=now))
            if skipped is not None:
                skipped.extend(ids)
            if events.hears_deliveries(session):
                for delivery_id in ids:
                    events.delivery_changed(session, delivery_id, "skipped")
        if claimed and paid_gate is not None:  # the budget gate: paid messages only while it lasts
            claimed = paid_gate.admit(session, now, claimed)
        if claimed:
            ids = [claim.id for claim in claimed]
            connection.execute(sa_update(table_of(DeliveryRow)).where(d.id.in_(ids)).values(
                status="sending", claimed_at=now, claimed_by=worker_id(), attempts=d.attempts + 1,
                requested_at=None, lease_until=now + LEASE, next_try_at=None, updated_at=now))
            connection.execute(sa_update(table_of(SubscriberRow)).where(
                s.id.in_([claim.subscriber_id for claim in claimed])).values(last_sent_at=now))
    return claimed


@dataclass(frozen=True)
class _DeliveryView:
    """The parts of a delivery :func:`hub.delivery.holds.hold_reason` reads, from a bulk-selected row."""

    id: int
    body: dict[str, Any] | None


@dataclass(frozen=True)
class _PersonView:
    """The parts of a subscriber :func:`hub.delivery.holds.hold_reason` reads."""

    id: int
    status: str
    opted_in_at: datetime | None
    last_inbound_at: datetime | None
    paused_until: datetime | None
    rhythm: str

    @classmethod
    def of(cls, row: Any) -> _PersonView:
        return cls(row.subscriber_id, row.person, row.opted_in_at, row.last_inbound_at,
                   row.paused_until, row.rhythm or "normal")


def _guard(caps: Caps | None, session: Session, now: datetime, subscriber_ids: set[int]) -> ClaimGuard | None:
    if caps is None or not caps.active:
        return None
    return ClaimGuard(caps, session, now, subscriber_ids)


def record_sent(session: Session, sent: list[tuple[int, SendResult]], now: datetime) -> None:
    """Record successes in bulk: ``sent`` with the wamid, unless a status webhook came first."""
    d = table_of(DeliveryRow).c
    params = [{"b_id": delivery_id, "b_wamid": r.message_id, "b_kind": r.sent_as} for delivery_id, r in sent]
    connection = session.connection()
    connection.execute(sa_update(table_of(DeliveryRow)).where(
        d.id == bindparam("b_id"), d.status == "sending").values(
        status="sent", wamid=bindparam("b_wamid"), sent_as=bindparam("b_kind"), sent_at=now,
        next_try_at=None, updated_at=now), params)
    # A status webhook overtook our own answer: keep its state, add the wamid if it lacked one.
    connection.execute(sa_update(table_of(DeliveryRow)).where(
        d.id == bindparam("b_id"), d.wamid.is_(None),
        or_(d.status == "sent", d.status == "delivered", d.status == "read")).values(
        wamid=bindparam("b_wamid"), sent_as=bindparam("b_kind"), updated_at=now), params)


def settle_missed_statuses(store: Store, now: datetime) -> int:
    """Apply statuses stored as unknown whose wamid a delivery has since recorded; how many wamids.

    On PostgreSQL a status webhook and the dispatcher's record of the same send can overlap: the
    webhook finds no delivery with that wamid yet, and the dispatcher, looking for statuses that
    came early, does not see the webhook's uncommitted row. Each run ends with this sweep, so such
    a status is applied late rather than never (SQLite serialises the two; the sweep finds none).
    """
    events, deliveries = table_of(StatusEventRow), table_of(DeliveryRow)
    query = (sa_select(events.c.wamid).distinct()
             .join(deliveries, deliveries.c.wamid == events.c.wamid)
             .where(events.c.delivery_id.is_(None)))
    with store.read() as session:
        wamids = list(session.connection().execute(query).scalars())
    for start in range(0, len(wamids), 500):
        with store.write() as session:
            apply_waiting(session, wamids[start:start + 500], now)
    return len(wamids)


def _due_now_query(query: Any, now: datetime) -> Any:
    return (query.join(SubscriberRow, col(SubscriberRow.id) == DeliveryRow.subscriber_id)
            .where(DeliveryRow.status == "planned", col(DeliveryRow.due_at) <= now,
                   or_(col(DeliveryRow.next_try_at).is_(None), col(DeliveryRow.next_try_at) <= now),
                   SubscriberRow.status == "active", col(SubscriberRow.opted_in_at).is_not(None)))


def due_now(session: Session, now: datetime,
            limit: int | None = None) -> list[tuple[DeliveryRow, SubscriberRow]]:
    """What a run would send now, without claiming anything (for ``hub send --dry-run``)."""
    query = _due_now_query(select(DeliveryRow, SubscriberRow), now).order_by(
        DeliveryRow.due_at, DeliveryRow.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())


def count_due_now(session: Session, now: datetime) -> int:
    """How many deliveries :func:`due_now` would return, counted by the database."""
    count: int = session.exec(_due_now_query(select(func.count()).select_from(DeliveryRow), now)).one()
    return count


def message_for(claim: Claim, now: datetime) -> OutgoingMessage:
    body = claim.body
    return OutgoingMessage(
        delivery_id=claim.id, phone=claim.phone, text=body.get("text", ""),
        items=body.get("items", []), last_inbound_at=claim.last_inbound_at, now=now, body=body,
        force_template=claim.force_template, marketing_stopped=claim.marketing_stopped,
        user_id=claim.user_id,
    )


def decide(result: SendResult) -> Action | None:
    """The action an answer calls for; None for a success or an in-doubt network failure.

    The sink's own action, or by default: retried when the API was called, failed when not.
    """
    if result.ok or result.in_doubt:
        return None
    if result.action is not None:
        return result.action
    return Action.RETRY if result.called else Action.FAIL


def record_outcome(session: Session, delivery_id: int, result: SendResult, now: datetime,
                   pacing: Pacing) -> str:
    """Store what one send did to its delivery; returns the outcome's name for the report."""
    row = session.get(DeliveryRow, delivery_id)
    if row is None:
        return "missing"
    row.updated_at = now
    if result.sent_as:
        row.sent_as = result.sent_as
    if RANK.get(row.status, 9) > RANK["sending"]:
        # A status webhook overtook our own answer (or a crash had left this claim in doubt).
        if result.ok and row.wamid is None and row.status not in ("failed", "skipped"):
            row.wamid = result.message_id
        return "sent" if result.ok else "settled"
    if result.ok:
        row.status, row.wamid, row.sent_at, row.next_try_at = "sent", result.message_id, now, None
        return "sent"
    text = f"{result.error_code if result.error_code is not None else '-'}: {result.error_detail or ''}"
    row.last_error = text.strip()
    if result.in_doubt:  # maybe accepted: wait for a status, resend only after the in-doubt timeout
        row.next_try_at = (row.claimed_at or now) + pacing.in_doubt_after
        return "in_doubt"
    action = decide(result)
    retry_at: datetime | None = None
    if action in (Action.RETRY, Action.SLOW_DOWN):
        wait = max(backoff(row.attempts), timedelta(seconds=result.retry_after or 0))
        retry_at = now + wait if row.attempts < pacing.max_attempts else None
    elif action is Action.WAIT_PERSON:
        gap = max(pacing.recipient_gap, timedelta(seconds=6), timedelta(seconds=result.retry_after or 0))
        retry_at = now + gap * row.attempts if row.attempts < pacing.max_attempts else None
    elif action is Action.WAIT_DAY:
        retry_at = now + timedelta(hours=24) if row.attempts < pacing.max_attempts else None
    elif action is Action.TEMPLATE and not row.force_template and result.sent_as != "template":
        row.force_template, retry_at = True, now
    elif action in (Action.PAUSE, Action.STOP):
        # Not this delivery's fault: back in the queue as if never claimed, nothing failed.
        _unreserve(session, row)
        row.status, row.claimed_at, row.claimed_by = "planned", None, None
        row.attempts = max(0, row.attempts - 1)
        return "released"
    if retry_at is not None:
        row.status, row.next_try_at, row.claimed_at, row.claimed_by = "planned", retry_at, None, None
        return "retrying"
    row.status, row.failed_at, row.next_try_at = "failed", now, None
    row.error_code, row.error_detail = result.error_code, result.error_detail
    if action is Action.MARKETING_STOPPED:
        subscriber = session.get(SubscriberRow, row.subscriber_id)
        if subscriber is not None:
            subscriber.marketing_stopped = True
    return "failed"


def _unreserve(session: Session, row: DeliveryRow) -> None:
    """Give back the person's pair-rate slot the claim reserved, as nothing reached them."""
    subscriber = session.get(SubscriberRow, row.subscriber_id)
    if subscriber is not None and row.claimed_at is not None and subscriber.last_sent_at == row.claimed_at:
        subscriber.last_sent_at = None


def release(session: Session, delivery_ids: list[int], now: datetime,
            withdrawn: Collection[int] = ()) -> None:
    """Give back claims that were never requested (a halt, a crash of this run): planned again.

    ``withdrawn``: claims recorded as requested that this run then never sent (a halt came while
    the request was being recorded): nothing left the hub, so they are given back too.
    """
    for delivery_id in delivery_ids:
        row = session.get(DeliveryRow, delivery_id)
        if (row is not None and row.status == "sending"
                and (row.requested_at is None or delivery_id in withdrawn)):
            _unreserve(session, row)
            row.status, row.claimed_at, row.claimed_by, row.updated_at = "planned", None, None, now
            row.lease_until = row.requested_at = None
            row.attempts = max(0, row.attempts - 1)


def _nothing_claimable(store: Store, now: datetime) -> bool:
    """True when no claim could return anything now: no planned row is due and no claim is in
    doubt (a superset of what :func:`claim_due` takes; one indexed read)."""
    d = table_of(DeliveryRow).c
    due = and_(d.status == "planned", d.due_at <= now, or_(d.next_try_at.is_(None), d.next_try_at <= now))
    with store.read() as session:
        found = session.connection().execute(
            sa_select(d.id).where(or_(due, d.status == "sending")).limit(1)).first()
    return found is None


def count_waiting(session: Session) -> int:
    """Deliveries still to go: planned (due later or retrying) and claims in doubt."""
    return session.exec(select(func.count()).select_from(DeliveryRow).where(
        col(DeliveryRow.status).in_(("planned", "sending")))).one()


class _Run:
    """One dispatch run: a producer claiming batches, ``concurrency`` workers, one recorder."""

    def __init__(self, store: Store, sink: Sink, clock: Clock, report: DispatchReport,
                 progress: Callable[[DispatchReport], None] | None, limit: int | None,
                 follow: float = 0.0, caps: Caps | None = None,
                 stop: asyncio.Event | None = None, paid_gate: PaidGate | None = None) -> None:
        self.store, self.sink, self.clock, self.report = store, sink, clock, report
        self.caps, self.paid_gate = caps, paid_gate
        self.stop = stop or asyncio.Event()
        self.pacing = sink.pacing()
        self.bucket = bucket_for(store, self.pacing.rate, self.pacing.number)
        # On a server store each process records a request before taking its slot of the
        # number's shared schedule (see ``_send``); at most this many wait for a slot at once.
        self.asked_ahead = (AskedAhead(self.pacing.rate)
                            if self.pacing.rate and not store.is_sqlite else None)
        self.progress = progress
        self.limit = limit
        self.follow = follow
        self.queue: asyncio.Queue[Claim | None] = asyncio.Queue(
            maxsize=max(self.pacing.concurrency, 1))
        self.outcomes: list[tuple[int, SendResult]] = []
        self.unsent: set[int] = set()
        self.halt: tuple[Action, SendResult] | None = None
        self.claimed = 0
        self.finished = False
        self._wake = asyncio.Event()
        self.last_send: dict[str, float] = {}  # number or BSUID → monotonic time of this run's last send
        self._prune_at = PRUNE_AT
        self.optouts: OptOuts = optouts(store)
        self.requests = LastMoment(store, clock)  # the two-phase claim's second phase
        # Each request noted just before it leaves: after a crash, requested claims missing from
        # it provably never left and go back at once (hub.delivery.departures).
        self.journal = journal_for(store, self.requests.worker)
        self.marks_departure = sink.marks_departure()
        self._judged = time.monotonic()
        self.stopped: list[int] = []  # requested, then found opted out in this process: skipped
        self.withdrawn: set[int] = set()  # recorded as requested, then halted before the request
        self._renewed = time.monotonic()

    def _claim(self, limit: int) -> list[Claim]:
        skipped: list[int] = []
        batch = claim_due(self.store, self.clock, limit, recipient_gap=self.pacing.recipient_gap,
                          in_doubt_after=self._in_doubt_after(), skipped=skipped, caps=self.caps,
                          paid_gate=self.paid_gate)
        self.report.skipped += len(skipped)
        return batch

    def _in_doubt_after(self) -> timedelta | None:
        """The in-doubt timeout, once this process has listened for that long.

        Status webhooks cannot arrive while the hub is down; after a restart they come back from
        Meta's retries. A claim is only resent when its status had ``in_doubt_after`` of this
        process's uptime to arrive, however old the claim is: a crash loop never resends.
        """
        now = self.clock.now()
        since = self.store.dispatching_since
        if since is None:
            self.store.dispatching_since = since = now
        return self.pacing.in_doubt_after if now - since >= self.pacing.in_doubt_after else None

    async def go(self, probe: bool) -> None:
        self.journal.runs += 1
        try:
            await self._go(probe)
        finally:
            self.journal.runs -= 1
            # Cut the journal back once nothing this worker requested is left without an answer
            # (checked in the store), and no other run of this process marked it meanwhile.
            marks = self.journal.marks
            pending = await asyncio.to_thread(requested_unanswered, self.store, self.requests.worker)
            if not pending and self.journal.runs == 0 and self.journal.marks == marks:
                self.journal.restart()

    async def _go(self, probe: bool) -> None:
        await asyncio.to_thread(release_dead, self.store, self.clock.now())
        if probe and not await self._probe():
            return
        workers = [asyncio.create_task(self._worker()) for _ in range(max(1, self.pacing.concurrency))]
        recorder = asyncio.create_task(self._recorder())
        try:
            await self._produce(len(workers))
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            self.finished = True
            self._wake.set()
            await recorder  # never cancelled mid-write: its counts would be lost
            await self._flush()

    async def _probe(self) -> bool:
        """While paused: one message tries the token; success resumes sending."""
        batch = await asyncio.to_thread(self._claim, 1)
        if not batch:
            return False
        self.unsent.add(batch[0].id)
        await self._send(batch[0])
        await self._flush()
        return self.halt is None

    async def _produce(self, workers: int) -> None:
        try:
            while self.halt is None and not self.stop.is_set():
                room = BATCH if self.limit is None else min(BATCH, self.limit - self.claimed)
                if room <= 0:
                    break
                batch = await asyncio.to_thread(self._claim, room)
                if not batch:
                    wait = await asyncio.to_thread(self._soon)
                    if wait is None:
                        break
                    with contextlib.suppress(TimeoutError):  # a person's 6 s gap or a short back-off
                        await asyncio.wait_for(self.stop.wait(), wait)
                    continue
                self.claimed += len(batch)
                self.unsent.update(claim.id for claim in batch)
                for claim in batch:
                    await self.queue.put(claim)
        finally:
            for _ in range(workers):
                await self.queue.put(None)

    def _soon(self) -> float | None:
        """Seconds until a due delivery held by pacing or a short back-off may go, if within ``follow``."""
        if self.follow <= 0:
            return None
        now = self.clock.now()
        d, p = DeliveryRow, SubscriberRow
        with self.store.read() as session:
            retry = session.exec(select(func.min(d.next_try_at)).where(
                d.status == "planned", col(d.due_at) <= now, col(d.next_try_at) > now)).one()
            gap = self.pacing.recipient_gap
            rested = session.exec(select(func.min(p.last_sent_at)).select_from(d).join(
                p, col(p.id) == d.subscriber_id).where(
                d.status == "planned", col(d.due_at) <= now, col(p.last_sent_at) > now - gap)).one()
        moments = [m for m in (retry, rested + gap if rested else None) if m is not None]
        if not moments:
            return None
        wait = (min(moments) - now).total_seconds()
        return max(wait, 0.05) if wait <= self.follow else None

    async def _worker(self) -> None:
        while (claim := await self.queue.get()) is not None:
            if self.halt is None and not self.stop.is_set():
                await self._send(claim)

    async def _send(self, claim: Claim) -> None:
        message = message_for(claim, self.clock.now())
        gap = self.pacing.recipient_gap.total_seconds()
        if gap and message.address in self.last_send:  # a claim waited in the queue: keep real 6 s too
            wait = self.last_send[message.address] + gap + GAP_MARGIN - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        news = claim.body.get("kind") != "reply"
        if self.asked_ahead is None:
            await self.bucket.take()
            if not await self._ask(claim, news):
                return
        else:
            # A server store: the request is recorded first, then waits for its slot and leaves
            # on it. Recording is a batched round trip whose answer comes back for many requests
            # at once; a slot taken before it would be spent late, and the requests of several
            # processes would bunch over the number's rate (Meta's throughput error). ``asked_ahead``
            # bounds how many recorded requests wait for a slot, so each leaves moments after its record.
            async with self.asked_ahead:
                if not await self._ask(claim, news):
                    return
                await self.bucket.take()
                if self._halted():  # came while waiting for the slot: nothing left the hub
                    self.withdrawn.add(claim.id)
                    self.unsent.add(claim.id)
                    return
        with self.optouts.sending(claim.subscriber_id) if news else contextlib.nullcontext(True) as allowed:
            if not allowed:  # a BAJA answered 200 in this process since the store was read
                self.stopped.append(claim.id)
                return
            if self.marks_departure:  # the sink notes it at the socket: nothing it does first counts
                message = replace(message, departing=partial(self.journal.mark, claim.id))
            else:
                try:
                    self.journal.mark(claim.id)  # no await between this and the sink's call
                except OSError:
                    log.exception("delivery %s: the departure journal failed; not sent", claim.id)
                    self.withdrawn.add(claim.id)
                    self.unsent.add(claim.id)
                    return
            if gap:
                self._sent_to(message.address, time.monotonic(), gap + GAP_MARGIN)
            result = await self._request(message)
        self._act_on(message, result)

    def _halted(self) -> bool:
        return self.halt is not None or self.stop.is_set()

    async def _ask(self, claim: Claim, news: bool) -> bool:
        """Record the claim as requested (the two-phase claim's second phase); False: do not send."""
        if self._halted():
            return False  # left in ``unsent``: released, never in doubt
        self.unsent.discard(claim.id)
        started = time.monotonic()
        answer = await self.requests.ask(Ask(claim.id, claim.subscriber_id, news))
        if self.asked_ahead is not None:
            self.asked_ahead.recorded(time.monotonic() - started)
        if not answer:
            self.report.skipped += 1  # opted out since the claim, or no longer this worker's
            return False
        if self._halted():  # came while the request was recorded
            self.withdrawn.add(claim.id)
            self.unsent.add(claim.id)
            return False
        return True

    async def _request(self, message: OutgoingMessage) -> SendResult:
        try:
            result = await self.sink.send(message)
        except Exception as exc:  # a sink's bug: whether it sent is unknown, so never resend blindly
            log.exception("delivery %s: the sink failed", message.delivery_id)
            result = SendResult(ok=False, in_doubt=True,
                                error_detail=f"sink error: {type(exc).__name__}: {exc}")
        if (decide(result) is Action.TEMPLATE and result.called and not message.force_template
                and result.sent_as != "template"):
            self.report.fallbacks += 1  # outside the window after all: the template, at once, once
            await self.bucket.take()
            result = await self.sink.send(replace(message, force_template=True))
            if decide(result) is not Action.TEMPLATE:
                await asyncio.to_thread(self._mark_template, message.delivery_id)
        return result

    def _act_on(self, message: OutgoingMessage, result: SendResult) -> None:
        action = decide(result)
        if result.error_code is not None:
            key = str(result.error_code)
            self.report.codes[key] = self.report.codes.get(key, 0) + 1
        if action is Action.SLOW_DOWN:
            self.bucket.hold(result.retry_after or THROTTLE_PAUSE)
        if action in (Action.PAUSE, Action.STOP) and self.halt is None:
            self.halt = (action, result)
            log.error("sending %s: %s", "paused" if action is Action.PAUSE else "stopped",
                      result.error_detail)
        if not result.ok and not result.in_doubt:
            log.warning("delivery %s to %s: %s%s", message.delivery_id,
                        mask_person(message.phone, message.user_id),
                        failure_name(result.error_code, result.error_detail),
                        f" ({result.error_detail})" if result.error_detail else "")
        self.outcomes.append((message.delivery_id, result))

    def _sent_to(self, phone: str, moment: float, horizon: float) -> None:
        """Note a send to ``phone``; forget people whose gap is over, so a long run stays small."""
        self.last_send[phone] = moment
        if len(self.last_send) >= self._prune_at:
            self.last_send = {p: t for p, t in self.last_send.items() if t > moment - horizon}
            self._prune_at = max(PRUNE_AT, 2 * len(self.last_send))

    def _mark_template(self, delivery_id: int) -> None:
        with self.store.write() as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is not None:
                row.force_template = True

    async def _recorder(self) -> None:
        while not self.finished:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_EVERY)
            await self._flush()

    async def _flush(self) -> None:
        outcomes, self.outcomes = self.outcomes, []
        stopped, self.stopped = self.stopped, []
        halt = self.halt
        unsent = sorted(self.unsent) if halt is not None else []
        if time.monotonic() - self._renewed >= RENEW_EVERY and self.unsent:
            self._renewed = time.monotonic()
            await asyncio.to_thread(renew, self.store, sorted(self.unsent), self.clock.now())
        if time.monotonic() - self._judged >= LEASE.total_seconds():  # a worker died meanwhile?
            self._judged = time.monotonic()
            await asyncio.to_thread(release_dead, self.store, self.clock.now())
        if stopped:
            await asyncio.to_thread(self._skip_stopped, stopped)
        if not outcomes and not unsent and halt is None:
            return
        names = await asyncio.to_thread(self._write, outcomes, halt, unsent)
        for name in names:
            if name == "sent":
                self.report.sent += 1
            elif name == "failed":
                self.report.failed += 1
            elif name == "retrying":
                self.report.retrying += 1
            elif name == "in_doubt":
                self.report.in_doubt += 1
            elif name == "released":
                self.report.released += 1
        if self.progress is not None:
            self.progress(self.report)

    def _skip_stopped(self, delivery_ids: list[int]) -> None:
        """Requested claims never sent because the person opted out meanwhile: skipped."""
        d = table_of(DeliveryRow).c
        with self.store.write() as session:
            session.connection().execute(sa_update(table_of(DeliveryRow)).where(
                d.id.in_(delivery_ids), d.status == "sending").values(
                status="skipped", reason="opted out", updated_at=self.clock.now()))
        self.report.skipped += len(delivery_ids)

    def _write(self, outcomes: list[tuple[int, SendResult]], halt: tuple[Action, SendResult] | None,
               unsent: list[int]) -> list[str]:
        now = self.clock.now()
        # In id order, as the status webhook locks rows on PostgreSQL: two transactions taking
        # the same rows in different orders deadlock.
        outcomes = sorted(outcomes, key=lambda outcome: outcome[0])
        sent = [(delivery_id, r) for delivery_id, r in outcomes if r.ok]
        others = [(delivery_id, r) for delivery_id, r in outcomes if not r.ok]
        with self.store.write() as session:
            if sent:
                record_sent(session, sent, now)
                apply_waiting(session, [r.message_id for _, r in sent if r.message_id], now)
            if others:  # one SELECT loads them all; record_outcome then finds each in the session
                session.exec(select(DeliveryRow).where(col(DeliveryRow.id).in_([d for d, _ in others]))).all()
            names = ["sent"] * len(sent) + [record_outcome(session, delivery_id, result, now, self.pacing)
                                            for delivery_id, result in others]
            if events.hears_deliveries(session):  # plugins hear each outcome once it is committed
                for (delivery_id, _), name in zip(sent + others, names, strict=True):
                    if name in HEARD_OUTCOMES:
                        events.delivery_changed(session, delivery_id, name)
            if halt is not None:
                action, result = halt
                reason = f"{result.error_code}: {result.error_detail}"
                if action is Action.STOP:
                    account.stop(session, now, result.error_code, reason)
                else:
                    account.pause(session, now, result.error_code, reason)
                release(session, unsent, now, self.withdrawn)
                names += ["released"] * len(unsent)
                self.unsent.difference_update(unsent)
            elif any(r.ok for _, r in outcomes) and account.current(session).state == "paused":
                account.resume(session, now)  # the probe went through: the token works again
        return names


async def dispatch_due(store: Store, sink: Sink, clock: Clock | None = None, *,
                       progress: Callable[[DispatchReport], None] | None = None,
                       limit: int | None = None, follow: float = 0.0,
                       caps: Caps | None = None, stop: asyncio.Event | None = None,
                       paid_gate: PaidGate | None = None) -> DispatchReport:
    """Send every delivery due now through ``sink``, recording each outcome; returns the tally.

    Returns when nothing more is due now; retries, people inside their 6-second gap and claims in
    doubt are counted in ``waiting`` for a later run. ``limit`` bounds the messages claimed;
    ``caps`` (:mod:`hub.delivery.caps`) holds back news over the daily cap, in quiet hours or too soon.
    Once ``stop`` is set (a daemon shutting down), nothing new is claimed or sent: requests
    already made finish and are recorded, and claims not yet sent are released. With
    ``follow`` (seconds, real time; for a wall clock only), the run waits for deliveries that pacing
    or a short back-off releases within that long, instead of leaving them to the next run.
    """
    clock = clock or SystemClock()
    report = DispatchReport()
    started = time.perf_counter()
    if not follow and _nothing_claimable(store, clock.now()):
        # Most daemon ticks: no write transaction, no sink session, no worker tasks or threads.
        with store.read() as session:
            gate = account.gate(session, clock.now())  # only reads
            report.blocked = None if gate.may_send else gate.reason
            report.waiting = count_waiting(session)
        settle_missed_statuses(store, clock.now())
        report.elapsed = time.perf_counter() - started
        return report
    with store.write() as session:
        gate = account.gate(session, clock.now())
    if not gate.may_send:
        report.blocked = gate.reason
    else:
        await sink.open()
        run = _Run(store, sink, clock, report, progress, limit, follow, caps, stop, paid_gate)
        try:
            await run.go(gate.probe)
        finally:
            if run.unsent:  # claimed here and never handed to the sink: not in doubt, just undone
                with store.write() as session:
                    release(session, sorted(run.unsent), clock.now(), run.withdrawn)
            await sink.close()
        if run.halt is not None:
            with store.read() as session:
                report.blocked = account.gate(session, clock.now()).reason
        elif paid_gate is not None and paid_gate.exhausted:
            report.blocked = paid_gate.exhausted
    settle_missed_statuses(store, clock.now())
    report.elapsed = time.perf_counter() - started
    with store.read() as session:
        report.waiting = count_waiting(session)
    return report
