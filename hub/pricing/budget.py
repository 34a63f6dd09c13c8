"""``[hub] monthly_budget``: what the month's sends may commit, and what is left of it.

Each paid message is committed against the month when it is claimed, in the claim's own
transaction (a row lock on PostgreSQL, the write lock on SQLite), so several dispatchers share one
budget and the sum never crosses it. A message that then fails stays committed: the budget errs
on the safe side. Months are calendar months in the hub's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from hub.pricing.money import Money, from_micros, to_micros
from hub.storage.tables import AlertRow, BudgetMonthRow


def month_of(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m")


@dataclass(frozen=True)
class Budget:
    """A monthly budget in the rate card's currency."""

    limit: Money
    tz: ZoneInfo

    def committed(self, session: Session, now: datetime, *, lock: bool = False) -> Decimal:
        query = select(BudgetMonthRow).where(BudgetMonthRow.month == month_of(now, self.tz))
        row = session.exec(query.with_for_update() if lock else query).first()
        return from_micros(row.committed_micros) if row else Decimal(0)

    def left(self, session: Session, now: datetime) -> Decimal:
        return max(Decimal(0), self.limit.amount - self.committed(session, now))

    def commit(self, session: Session, now: datetime, amount: Decimal) -> None:
        """Add ``amount`` to this month's committed sum (call inside the claim's transaction)."""
        if amount <= 0:
            return
        month = month_of(now, self.tz)
        row = session.get(BudgetMonthRow, month, with_for_update=True)
        if row is None:
            row = BudgetMonthRow(month=month, currency=self.limit.currency, committed_micros=0)
            session.add(row)
        row.committed_micros += to_micros(amount)
        row.updated_at = now
        session.flush()

    def alert(self, session: Session, now: datetime, message: str) -> None:
        """One open alert per kind of budget stop (``hub status`` shows it)."""
        head = message.split(":", 1)[0]
        for existing in session.exec(select(AlertRow).where(col(AlertRow.cleared_at).is_(None))):
            if existing.message.startswith(head):
                return
        session.add(AlertRow(at=now, level="warning", message=message))
