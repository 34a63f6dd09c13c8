"""One line per routine run for the dashboard: when, which stories, and how it was received.

The figures are the report's and the cost ledger's own (``hub stats`` prints the same), looked up
by run; this module only picks the latest runs and names their stories, so the page reads a
bounded number of rows whatever the size of the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import type_coerce
from sqlmodel import Session, col, func, or_, select

from hub.pricing.spent import Spent, run_key
from hub.stats import Report, run_label
from hub.storage.tables import DeliveryRow, ItemRow, RoutineRunRow, UTCDateTime

RAN = ("done", "manual")


@dataclass(frozen=True)
class RunLine:
    """A run as an editor reads it: people reached, messages delivered and read, people who left."""

    run_id: int
    routine: str
    at: datetime | None
    stories: tuple[tuple[int, str], ...]
    reached: int
    delivered: int
    read: int
    left: int
    cost: Decimal | None


def recent_runs(session: Session, report: Report, cost: Spent | None, limit: int = 10) -> list[RunLine]:
    """The latest ``limit`` runs, newest first: those recorded by the scheduler and those seen in
    the outbox (a run's deliveries may outlive its record, e.g. in an imported store)."""
    found: dict[int, tuple[str, datetime | None, list[int]]] = {}
    for run_id, routine, started, item_ids in session.exec(
            select(RoutineRunRow.id, RoutineRunRow.routine, RoutineRunRow.started_at, RoutineRunRow.item_ids)
            .where(col(RoutineRunRow.status).in_(RAN)).order_by(col(RoutineRunRow.id).desc()).limit(limit)):
        if run_id is not None:
            found[run_id] = (routine, started, list(item_ids or []))
    d = DeliveryRow
    first_seen = type_coerce(func.min(func.coalesce(d.sent_at, d.created_at)), UTCDateTime())
    for run_id, name, first in session.exec(
            select(d.run_id, d.routine, first_seen)
            .where(col(d.run_id).is_not(None)).group_by(col(d.run_id), col(d.routine))
            .order_by(col(d.run_id).desc()).limit(limit)):
        if run_id is not None and run_id not in found:
            found[run_id] = (name or "", first, [])
    chosen = sorted(found, reverse=True)[:limit]
    titles = _stories(session, chosen, [i for r in chosen for i in found[r][2]])
    reached_left = {a.run: (a.reached, a.unsubscribed) for a in report.annoyance}
    lines = []
    for run_id in chosen:
        routine, at, item_ids = found[run_id]
        counts = report.by_run.get(run_label(routine or None, run_id))
        reached, left = reached_left.get(run_label(routine or None, run_id), (0, 0))
        ids = item_ids or sorted(i for i, (_, planned) in titles.items() if planned == run_id)
        spent_line = cost.by_run.get(run_key(routine or None, run_id)) if cost is not None else None
        lines.append(RunLine(
            run_id=run_id, routine=routine, at=at,
            stories=tuple((i, titles[i][0]) for i in ids if i in titles),
            reached=reached, delivered=counts.delivered if counts else 0, read=counts.read if counts else 0,
            left=left,
            cost=(spent_line.cost if spent_line else Decimal(0)) if cost is not None else None))
    return lines


def _stories(session: Session, run_ids: list[int], item_ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """Titles of the items a run recorded or planned, by id, with the run that planned each."""
    if not run_ids:
        return {}
    wanted = or_(col(ItemRow.planned_run_id).in_(run_ids), col(ItemRow.id).in_(item_ids or [-1]))
    return {i: (title, planned) for i, title, planned in session.exec(
        select(ItemRow.id, ItemRow.title, ItemRow.planned_run_id).where(wanted)) if i is not None}
