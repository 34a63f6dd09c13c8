"""Cost after sending: what Meta's status webhooks said it bills, priced with the rate card.

A delivery counts as billed when one of its statuses carried ``pricing.billable = true`` (or a
``regular`` pricing type) and it reached the phone (``delivered`` or ``read``): Meta charges
delivered messages only. Its category is the one in that pricing object; its country, the
recipient's. Cost per read is what the period cost divided by the stories read in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session

from hub.pricing.card import RateCard
from hub.pricing.country import country_of
from hub.pricing.money import show
from hub.storage.tables import DeliveryRow, StatusEventRow, SubscriberRow

REACHED = ("delivered", "read")


@dataclass
class CostLine:
    """Billed messages and their cost for one run, routine or month; ``reads`` of its stories."""

    billable: int = 0
    cost: Decimal = Decimal(0)
    reads: int = 0

    @property
    def per_read(self) -> Decimal | None:
        return self.cost / self.reads if self.reads else None


@dataclass
class Spent:
    currency: str
    by_run: dict[str, CostLine] = field(default_factory=dict)
    by_routine: dict[str, CostLine] = field(default_factory=dict)
    by_month: dict[str, CostLine] = field(default_factory=dict)
    total: CostLine = field(default_factory=CostLine)

    def as_dict(self) -> dict[str, Any]:
        def line(c: CostLine) -> dict[str, Any]:
            return {"billable": c.billable, "cost": str(c.cost), "reads": c.reads,
                    "cost_per_read": str(c.per_read) if c.per_read is not None else None}
        return {"currency": self.currency, "total": line(self.total),
                "by_run": {k: line(v) for k, v in self.by_run.items()},
                "by_routine": {k: line(v) for k, v in self.by_routine.items()},
                "by_month": {k: line(v) for k, v in self.by_month.items()}}

    def render(self) -> str:
        rows = [("", self.total, "total")]
        rows += [(k, v, "month") for k, v in sorted(self.by_month.items())]
        rows += [(k, v, "routine") for k, v in sorted(self.by_routine.items())]
        rows += [(k, v, "run") for k, v in self.by_run.items()]
        out = [f"Cost (from Meta's pricing in the status webhooks, priced in {self.currency}):",
               f"  {'':<8} {'':<24} {'billable':>8} {'cost':>14} {'reads':>6} {'per read':>14}"]
        for label, c, kind in rows:
            per = show(c.per_read, self.currency) if c.per_read is not None else "—"
            out.append(f"  {kind:<8} {label:<24} {c.billable:>8} {show(c.cost, self.currency):>14} "
                       f"{c.reads:>6} {per:>14}")
        return "\n".join(out)


def run_key(routine: str | None, run_id: int | None) -> str:
    """The key of a run in :attr:`Spent.by_run` ("routine #3")."""
    return f"{routine or 'manual'} #{run_id}" if run_id is not None else (routine or "(no routine)")


def _rows(session: Session, since: datetime | None) -> Iterator[Any]:
    d, s, e = (DeliveryRow.__table__.c, SubscriberRow.__table__.c,  # type: ignore[attr-defined]
               StatusEventRow.__table__.c)  # type: ignore[attr-defined]
    billed = (sa_select(e.delivery_id, e.category)
              .where(e.delivery_id.is_not(None),
                     or_(e.billable.is_(True), and_(e.billable.is_(None), e.pricing_type == "regular")))
              .subquery())
    query = (sa_select(d.id, d.routine, d.run_id, d.status, d.sent_at, d.claimed_at, s.phone,
                       billed.c.category)
             .select_from(DeliveryRow.__table__.join(SubscriberRow.__table__,  # type: ignore[attr-defined]
                                                     s.id == d.subscriber_id)
                          .outerjoin(billed, billed.c.delivery_id == d.id))
             .where(d.status.in_(("sent", *REACHED))))
    if since is not None:
        query = query.where(d.created_at >= since)
    yield from session.connection().execute(query.execution_options(yield_per=2000))


def spent(session: Session, card: RateCard, tz: ZoneInfo, since: datetime | None = None) -> Spent:
    """Billed messages, their cost and the reads they bought, per run, routine and month."""
    out = Spent(card.currency)
    seen: set[int] = set()
    for row in _rows(session, since):
        billed = row.category is not None and row.status in REACHED and row.id not in seen
        read = row.status == "read" and row.id not in seen
        if not (billed or read):
            continue
        seen.add(row.id)
        moment = row.sent_at or row.claimed_at
        month = moment.astimezone(tz).strftime("%Y-%m") if moment else "—"
        cost = card.price(country_of(row.phone), row.category).amount if billed else Decimal(0)
        for line in (out.total, out.by_month.setdefault(month, CostLine()),
                     out.by_routine.setdefault(row.routine or "(no routine)", CostLine()),
                     out.by_run.setdefault(run_key(row.routine, row.run_id), CostLine())):
            line.billable += int(billed)
            line.cost += cost
            line.reads += int(read)
    return out
