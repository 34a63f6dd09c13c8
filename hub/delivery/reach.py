"""Who a routine run can reach through the sink, and what happens to a run that reaches nobody.

A run planned for people the sink cannot reach (no template for those outside the 24-hour
window, the token's variable missing…) used to be planned, fail at send, and use its stories up.
Now each planned row is put to :meth:`hub.contracts.Sink.reach_problem` in the run's transaction:
the unreachable are skipped with the reason, and a run that reaches nobody is undone — its rows
deleted, its stories left for the next run — and raises an alert for ``hub status``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from hub.contracts import Sink
from hub.storage.tables import AlertRow, DeliveryRow, SubscriberRow


@dataclass
class Unreachable:
    """People a run's planned rows are for, and why some (or all) cannot be reached."""

    planned: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(self.reasons.values())

    @property
    def nobody(self) -> bool:
        return self.planned > 0 and self.count == self.planned

    def describe(self) -> str:
        return "; ".join(f"{n} of {self.planned} people: {why}" for why, n in self.reasons.most_common())


def people_unreachable(session: Session, sink: Sink, now: datetime) -> Unreachable:
    """Active subscribers the sink cannot reach now, by reason (``hub check``, ``hub preview``)."""
    found = Unreachable()
    for last_inbound_at in session.exec(select(SubscriberRow.last_inbound_at).where(
            SubscriberRow.status == "active", col(SubscriberRow.opted_in_at).is_not(None))).all():
        found.planned += 1
        problem = sink.reach_problem(last_inbound_at, now)
        if problem:
            found.reasons[problem] += 1
    return found


def skip_unreachable(session: Session, sink: Sink, run_id: int | None, now: datetime) -> Unreachable:
    """Skip the run's planned rows the sink cannot deliver; undo the whole run if that is all."""
    found = Unreachable()
    rows = session.exec(select(DeliveryRow.id, SubscriberRow.last_inbound_at).join(
        SubscriberRow, col(SubscriberRow.id) == DeliveryRow.subscriber_id).where(
        DeliveryRow.run_id == run_id, DeliveryRow.status == "planned")).all()
    skipped: dict[str, list[int]] = {}
    for delivery_id, last_inbound_at in rows:
        found.planned += 1
        problem = sink.reach_problem(last_inbound_at, now)
        if problem:
            found.reasons[problem] += 1
            skipped.setdefault(problem, []).append(int(delivery_id or 0))
    if found.nobody:
        session.execute(delete(DeliveryRow).where(col(DeliveryRow.run_id) == run_id))
        return found
    for problem, ids in skipped.items():
        session.execute(update(DeliveryRow).where(col(DeliveryRow.id).in_(ids)).values(
            status="skipped", reason=f"unreachable: {problem}", updated_at=now))
    return found


def alert(session: Session, routine: str, note: str, now: datetime) -> None:
    """An open alert for ``hub status``, once while the same problem stays open."""
    message = f"routine {routine}: a run {note}; its stories wait for the next run"
    already = session.exec(select(AlertRow.id).where(AlertRow.message == message,
                                                     col(AlertRow.cleared_at).is_(None))).first()
    if already is None:
        session.add(AlertRow(at=now, level="error", message=message))
