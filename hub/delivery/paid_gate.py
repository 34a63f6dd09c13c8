"""The budget gate in the claim: a paid message is claimed only while this month's budget covers it.

Inside each claim's transaction the gate prices the batch (the rate card, by the person's country,
a template outside their 24-hour window) and commits what it lets through against the month
(:mod:`hub.pricing.budget`). A paid message that would cross the budget is not claimed: it stays
planned and is looked at again in an hour, or next month. Free messages (inside the window, or a
category the card prices at 0) always pass.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update as sa_update
from sqlmodel import Session

from hub.pricing.budget import Budget
from hub.pricing.card import RateCard
from hub.pricing.country import country_of
from hub.pricing.estimate import goes_as_template
from hub.pricing.money import show
from hub.storage.tables import DeliveryRow

log = logging.getLogger("hub.delivery.paid_gate")
LOOK_AGAIN = timedelta(hours=1)


class PaidGate:
    """Admits claims in order while the month's committed charge stays within the budget."""

    def __init__(self, budget: Budget, card: RateCard, category: str) -> None:
        self.budget, self.card, self.category = budget, card, category
        self.exhausted: str | None = None  # why paid messages were held in this dispatch run

    def price(self, claim: Any, now: datetime) -> Decimal:
        template = goes_as_template(claim.body, claim.force_template, claim.last_inbound_at, now)
        return self.card.price(country_of(claim.phone), self.category if template else "service").amount

    def admit(self, session: Session, now: datetime, claims: list[Any]) -> list[Any]:
        """The claims that fit; the others are put back to wait (``next_try_at`` in an hour)."""
        committed = self.budget.committed(session, now, lock=True)
        limit = self.budget.limit.amount
        admitted, held, spend = [], [], Decimal(0)
        for claim in claims:
            price = self.price(claim, now)
            if price > 0 and committed + spend + price > limit:
                held.append(claim.id)
                continue
            spend += price
            admitted.append(claim)
        self.budget.commit(session, now, spend)
        if held:
            currency = self.card.currency
            self.exhausted = (f"monthly budget reached: {show(committed + spend, currency)} of "
                              f"{self.budget.limit} committed; {len(held)} paid message(s) wait")
            table = DeliveryRow.__table__  # type: ignore[attr-defined]
            session.connection().execute(sa_update(table).where(table.c.id.in_(held)).values(
                next_try_at=now + LOOK_AGAIN, reason="budget", updated_at=now))
            self.budget.alert(session, now, self.exhausted)
            log.warning("%s", self.exhausted)
        return admitted


def paid_gate_for(config: Any, session: Session) -> PaidGate | None:
    """The gate ``[hub] monthly_budget`` asks for, or None when there is no budget."""
    from hub.cloudapi.templates import uses_from_config
    from hub.delivery.template_status import category_of

    if config.monthly_budget is None:
        return None
    default = config.pricing.default_category if config.pricing else "marketing"
    category = category_of(session, uses_from_config(config), default)
    return PaidGate(Budget(config.monthly_budget, config.tz), config.rate_card(), category)
