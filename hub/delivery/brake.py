"""The automatic brake: a routine whose last run drove people away pauses itself.

Each run is judged on the reactions in its own window: the people it reached who left within
24 h of their message (BAJA, STOP, a stop button) or whose messages failed with a block-type
code, counted against the people it reached. A run is judged when its window has closed and
again just before the routine's next slot, whatever the cadence: a weekly routine is paused
the day after a bad run, not only if it ran in the last two days. When
that share is well above the routine's usual — at least ``FACTOR`` times its median over the
previous runs and ``MARGIN`` above it, with at least ``MIN_EVENTS`` people — the routine pauses:
its slots are recorded as missed until an admin runs ``hub routines resume NAME``.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, func, select

from hub.storage.tables import ConsentEventRow, DeliveryRow, RoutineRunRow, RoutineStateRow
from hub.storage.typed import primary_key

log = logging.getLogger("hub.delivery.brake")

WINDOW = timedelta(hours=24)
HISTORY = 10  # previous runs that make the routine's "usual"
FACTOR = 3.0
MARGIN = 0.02  # two percentage points
MIN_EVENTS = 3
MIN_REACHED = 20
BLOCK_CODES = (131050, 131026)  # stopped marketing messages; undeliverable (blocked, not on WhatsApp)
REACHED = ("sent", "delivered", "read")


@dataclass(frozen=True)
class RunHarm:
    """How one run was received: people reached, and those who left or blocked after it."""

    run_id: int
    reached: int
    left: int
    blocked: int

    @property
    def rate(self) -> float:
        return (self.left + self.blocked) / self.reached if self.reached else 0.0


def harm(session: Session, run_id: int) -> RunHarm:
    """Count a run's reach, its unsubscribes within 24 h of each send, and its block failures.

    The database counts the people reached; only the sends of people who ever left are read
    (one join), so memory follows the unsubscribes, not the size of the run.
    """
    d, e = DeliveryRow, ConsentEventRow
    reached_sends = (d.run_id == run_id, col(d.status).in_(REACHED), col(d.sent_at).is_not(None))
    reached = session.exec(select(func.count(func.distinct(d.subscriber_id))).where(*reached_sends)).one()
    first: dict[int, datetime] = {}
    outs: dict[int, set[datetime]] = {}
    for subscriber_id, sent_at, at in session.exec(
            select(d.subscriber_id, d.sent_at, e.at).join(e, col(e.subscriber_id) == d.subscriber_id)
            .where(*reached_sends, e.kind == "opt_out")):
        if sent_at is not None and (subscriber_id not in first or sent_at < first[subscriber_id]):
            first[subscriber_id] = sent_at
        if at is not None:
            outs.setdefault(subscriber_id, set()).add(at)
    left = sum(1 for sid, moments in outs.items()
               if any(first[sid] <= at <= first[sid] + WINDOW for at in moments))
    blocked = session.exec(select(func.count()).select_from(DeliveryRow).where(
        DeliveryRow.run_id == run_id, DeliveryRow.status == "failed",
        col(DeliveryRow.error_code).in_(BLOCK_CODES))).one()
    return RunHarm(run_id, reached, left, blocked)


def check(session: Session, routine: str, now: datetime) -> str | None:
    """Pause ``routine`` if its latest recent run tripped the brake; returns the reason if so."""
    state = session.get(RoutineStateRow, routine)
    if state is None or state.paused_at is not None:
        return None
    runs = session.exec(select(primary_key(RoutineRunRow.id), RoutineRunRow.started_at).where(
        RoutineRunRow.routine == routine, col(RoutineRunRow.status).in_(("done", "manual")))
        .order_by(col(RoutineRunRow.started_at).desc()).limit(HISTORY + 1)).all()
    if not runs or runs[0][1] is None:
        return None
    if state.paused_run_id is not None and runs[0][0] <= state.paused_run_id:
        return None  # an admin resumed after this run: judged already
    latest = harm(session, runs[0][0])
    if latest.reached < MIN_REACHED or latest.left + latest.blocked < MIN_EVENTS:
        return None
    usual_rates = [harm(session, run_id).rate for run_id, _ in runs[1:]]
    usual = statistics.median(usual_rates) if usual_rates else 0.0
    if latest.rate < max(usual * FACTOR, usual + MARGIN):
        return None
    reason = (f"run #{latest.run_id}: {latest.left} of {latest.reached} people left within 24 h"
              f"{f' and {latest.blocked} blocked' if latest.blocked else ''} ({latest.rate:.1%}; "
              f"usual {usual:.1%})")
    state.paused_at, state.paused_reason, state.paused_run_id = now, reason, latest.run_id
    log.error("routine %s paused by the brake: %s — `hub routines resume %s` restarts it",
              routine, reason, routine)
    return reason


def runs_to_judge(session: Session, now: datetime) -> dict[str, int]:
    """Each routine's latest finished run whose window (``WINDOW`` after it) has closed, by id.

    The scheduler judges these between slots, so a routine every few days or weekly pauses as
    soon as one run's reactions are known, before its next slot comes.
    """
    latest = (select(RoutineRunRow.routine, func.max(RoutineRunRow.id).label("run_id"))
              .where(col(RoutineRunRow.status).in_(("done", "manual"))).group_by(RoutineRunRow.routine)
              .subquery())
    rows = session.exec(select(RoutineRunRow.routine, RoutineRunRow.id, RoutineRunRow.started_at)
                        .join(latest, col(RoutineRunRow.id) == latest.c.run_id)).all()
    return {routine: run_id for routine, run_id, started in rows
            if run_id is not None and started is not None and _aware(started) + WINDOW <= now}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def resume(session: Session, routine: str) -> bool:
    """Lift the brake; the routine's next slot runs as usual. False if it was not paused."""
    state = session.get(RoutineStateRow, routine)
    if state is None or state.paused_at is None:
        return False
    state.paused_at = state.paused_reason = None  # paused_run_id stays: that run is judged
    return True


def paused(session: Session) -> list[RoutineStateRow]:
    """Routines the brake holds, for ``hub status`` and the dashboard."""
    return list(session.exec(select(RoutineStateRow).where(col(RoutineStateRow.paused_at).is_not(None))))
