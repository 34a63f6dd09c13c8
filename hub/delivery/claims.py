"""Two-phase claims: a delivery is *claimed* (``sending``), then *requested* just before the API call.

Why two phases: after a crash, a claim that was never handed to the API must not wait for a
status that cannot come. So the dispatcher records ``requested_at`` (committed) before each
request, in small batches, and only such claims may be in doubt (settled by their status
webhook, resent only after ``in_doubt_after``). A claim still unrequested is its worker's only
while the worker's lease runs (renewed every few seconds while it lives, :data:`LEASE`); after
that, or as soon as its process is known dead (same machine), it is claimable again.

Between the record and the request there is still a moment (the batch's commit coming back,
the departure slot, the connection): a kill there used to strand a claim or two for the in-doubt
hour. The departure journal (:mod:`hub.delivery.departures`) closes it: each request is noted
right before its bytes leave, so a dead worker's requested claim missing from its journal
provably never left and returns at once (:func:`release_dead`), and only requests that may have
reached Meta wait for their status.

The same last-moment write checks consent in the store: news for a person who has opted out
since the claim — in this process or any other — is skipped instead of requested.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update

from hub.delivery import departures
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, SubscriberRow
from hub.storage.typed import table_of
from hub.timekeeping.clock import Clock
from hub.web.group_commit import GroupCommit

log = logging.getLogger("hub.delivery.claims")

LEASE = timedelta(seconds=10)  # an unrequested claim's hold; a dead worker's return within this
RENEW_EVERY = 3.0  # seconds between two renewals of a live worker's leases


def worker_id() -> str:
    """This process, as written in ``claimed_by``: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Ask:
    """One claim about to be requested: which delivery, whose, and whether it is news."""

    delivery_id: int
    subscriber_id: int
    news: bool


def orphaned(now: datetime, d: Any) -> Any:
    """The SQL condition for a claim nobody will request: unrequested, its lease over."""
    return and_(d.status == "sending", d.requested_at.is_(None),
                or_(d.lease_until.is_(None), d.lease_until <= now))


def in_doubt(now: datetime, d: Any, after: timedelta) -> Any:
    """The SQL condition for a requested claim with no status for ``after``: resend it."""
    return and_(d.status == "sending", d.requested_at.is_not(None), d.requested_at <= now - after)


def mark_requested(store: Store, asks: list[Ask], now: datetime, worker: str | None = None) -> list[bool]:
    """Record, in one transaction, that these claims are handed to the API now; one answer each.

    True: requested, send it. False: do not send — the claim is no longer this worker's (its
    lease ran out and another took it, or it was already requested), or it is news for someone
    who has opted out (the row is then ``skipped``, reason "opted out"), or the person was
    forgotten.
    """
    if not asks:
        return []
    worker = worker or worker_id()
    d, s = table_of(DeliveryRow).c, table_of(SubscriberRow).c
    ids = [ask.delivery_id for ask in asks]
    with store.write() as session:
        connection = session.connection()
        rows = connection.execute(
            sa_select(d.id, s.status, s.opted_in_at)
            .select_from(table_of(DeliveryRow).join(
                table_of(SubscriberRow), s.id == d.subscriber_id))
            .where(d.id.in_(ids), d.status == "sending", d.claimed_by == worker, d.requested_at.is_(None))
            .with_for_update(of=table_of(DeliveryRow))
        ).all()
        person = {row.id: (row.status, row.opted_in_at) for row in rows}
        go: list[int] = []
        stopped: dict[str, list[int]] = {}
        for ask in asks:
            if ask.delivery_id not in person:
                continue
            status, opted_in_at = person[ask.delivery_id]
            reason = _refusal(status, opted_in_at, ask.news)
            if reason is None:
                go.append(ask.delivery_id)
            else:
                stopped.setdefault(reason, []).append(ask.delivery_id)
        if go:
            connection.execute(sa_update(table_of(DeliveryRow)).where(
                d.id.in_(go)).values(requested_at=now, lease_until=None))
        for reason, skipped in stopped.items():
            connection.execute(sa_update(table_of(DeliveryRow)).where(
                d.id.in_(skipped)).values(status="skipped", reason=reason, lease_until=None,
                                          updated_at=now))
            log.info("%d claimed deliveries skipped at the last moment: %s", len(skipped), reason)
    sent = set(go)
    return [ask.delivery_id in sent for ask in asks]


def _refusal(status: str, opted_in_at: datetime | None, news: bool) -> str | None:
    """Why a claim must not be requested now (the consent half of holds.hold_reason), or None."""
    if status == "forgotten":
        return "forgotten"
    if news and (status != "active" or opted_in_at is None):
        return "opted out"
    return None


def renew(store: Store, delivery_ids: list[int], now: datetime, worker: str | None = None) -> None:
    """Extend this worker's lease on claims it still holds unrequested (it is alive)."""
    if not delivery_ids:
        return
    d = table_of(DeliveryRow).c
    with store.write() as session:
        session.connection().execute(sa_update(table_of(DeliveryRow)).where(
            d.id.in_(delivery_ids), d.status == "sending", d.claimed_by == (worker or worker_id()),
            d.requested_at.is_(None)).values(lease_until=now + LEASE))


def release_dead(store: Store, now: datetime) -> int:
    """Give back at once the claims of dead processes on this machine that never left; how many.

    A restarted ``hub run`` has a new pid (a pid is checked with signal 0), so its predecessor's
    claims are judged without waiting for their lease:

    - never requested: back to ``planned``, as nothing was even about to leave;
    - requested, with no outcome since (no message id, no in-doubt answer), and not in the dead
      worker's departure journal: back to ``planned`` too. The journal notes each request right
      before its bytes leave, so a claim missing from it provably never left
      (:mod:`hub.delivery.departures`, which also says when a journal proves nothing);
    - anything else stays ``sending``: it may have reached Meta, and waits for its status (or
      ``in_doubt_after``). Never a duplicate for one message less stranded.

    Workers on other machines are not judged here: their unrequested claims return when their
    lease runs out, their requested ones wait for their status.
    """
    d = table_of(DeliveryRow).c
    host = socket.gethostname()
    with store.read() as session:
        owners = list(session.connection().execute(
            sa_select(d.claimed_by).distinct().where(
                d.status == "sending", d.claimed_by.is_not(None),
                or_(d.requested_at.is_(None), _unanswered(d)))).scalars())
    count = 0
    for owner in owners:
        if _dead_here(owner, host):
            count += _release_owner(store, now, owner)
    return count


def _unanswered(d: Any) -> Any:
    """Requested, and nothing came back to this process: no message id, no in-doubt answer."""
    return and_(d.requested_at.is_not(None), d.wamid.is_(None), d.next_try_at.is_(None))


def requested_unanswered(store: Store, worker: str) -> bool:
    """Whether ``worker`` has a requested claim with no answer yet (its journal still matters)."""
    d = table_of(DeliveryRow).c
    with store.read() as session:
        found = session.connection().execute(sa_select(d.id).where(
            d.status == "sending", d.claimed_by == worker, _unanswered(d)).limit(1)).first()
    return found is not None


def _release_owner(store: Store, now: datetime, owner: str) -> int:
    d = table_of(DeliveryRow).c
    table = table_of(DeliveryRow)
    departed_ids = departures.departed(store.url, owner)  # read before the write: owner is dead
    back = {"status": "planned", "claimed_at": None, "claimed_by": None, "lease_until": None,
            "requested_at": None, "attempts": d.attempts - 1, "updated_at": now}
    unrequested = never_left = 0
    with store.write() as session:
        connection = session.connection()
        result = connection.execute(sa_update(table).where(
            d.status == "sending", d.requested_at.is_(None), d.claimed_by == owner).values(**back))
        unrequested = max(result.rowcount or 0, 0)
        if departed_ids is not None:
            requested = connection.execute(sa_select(d.id).where(
                d.status == "sending", d.claimed_by == owner, _unanswered(d)).with_for_update()).scalars()
            ids = [delivery_id for delivery_id in requested if delivery_id not in departed_ids]
            for start in range(0, len(ids), 500):
                result = connection.execute(sa_update(table).where(
                    d.id.in_(ids[start:start + 500]), d.status == "sending", d.claimed_by == owner,
                    _unanswered(d)).values(**back))
                never_left += max(result.rowcount or 0, 0)
    if departed_ids is not None:
        departures.forget(store.url, owner)  # its claims are judged; what it marked stays in doubt
    if unrequested or never_left:
        log.info("a process that stopped left %d claims never requested and %d requested that never "
                 "left: planned again", unrequested, never_left)
    return unrequested + never_left


def _dead_here(owner: str, host: str) -> bool:
    name, _, pid = owner.rpartition(":")
    if name != host or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


class LastMoment:
    """``await ask(a)``: True once ``a`` is recorded as requested; asks that arrive together share
    one transaction (:class:`hub.web.group_commit.GroupCommit`), so the cost per message stays small
    at Meta's 1,000/s while each request is still recorded just before it goes."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store, self.clock = store, clock
        self.worker = worker_id()
        self._batches: GroupCommit[Ask, bool] = GroupCommit(self._commit)

    async def ask(self, ask: Ask) -> bool:
        return await self._batches.submit(ask)

    def _commit(self, asks: list[Ask]) -> list[bool]:
        return mark_requested(self.store, asks, self.clock.now(), self.worker)
