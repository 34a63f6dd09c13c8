"""Cost before sending: which messages go free inside the window, which as paid templates, and
what the rate card says they cost, by country.

A message is a paid template when it goes outside the person's 24-hour customer-service window
(or Meta already said the window was closed); inside it, it is a free-form message, charged at the
card's ``service`` rate (0 on the shipped card). Replies only ever go inside the window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hub.pricing.card import RateCard
from hub.pricing.country import country_of
from hub.pricing.money import show

WINDOW = timedelta(hours=24)
MARGIN = timedelta(minutes=5)  # as the whatsapp sink: a window about to close counts as closed
FREE_FORM_ONLY = ("reply", "interactive")


def goes_as_template(body: dict[str, Any] | None, force_template: bool, last_inbound_at: datetime | None,
                     now: datetime) -> bool:
    """Whether this delivery would be sent as a (billed) template rather than inside the window."""
    if (body or {}).get("kind") in FREE_FORM_ONLY:
        return False
    return force_template or last_inbound_at is None or now - last_inbound_at >= WINDOW - MARGIN


@dataclass
class CountryCost:
    paid: int = 0
    free: int = 0
    charge: Decimal = Decimal(0)


@dataclass
class Estimate:
    """Expected charge of a set of messages, by recipient country."""

    currency: str
    category: str
    by_country: dict[str, CountryCost] = field(default_factory=dict)
    unlisted: set[str] = field(default_factory=set)  # countries priced at the card's highest rate

    @property
    def paid(self) -> int:
        return sum(c.paid for c in self.by_country.values())

    @property
    def free(self) -> int:
        return sum(c.free for c in self.by_country.values())

    @property
    def charge(self) -> Decimal:
        return sum((c.charge for c in self.by_country.values()), Decimal(0))

    def add(self, identifier: str | None, template: bool, card: RateCard, count: int = 1) -> Decimal:
        """Count ``count`` messages to one person; returns what they are expected to cost."""
        country = country_of(identifier) or "??"
        price = card.price(country, self.category if template else "service")
        if not price.listed:
            self.unlisted.add(country)
        cost = self.by_country.setdefault(country, CountryCost())
        amount = price.amount * count
        if template:
            cost.paid += count
        else:
            cost.free += count
        cost.charge += amount
        return amount

    def summary(self) -> str:
        """``120 paid templates, ≈ 7.42 USD; 8 free inside the window``."""
        return (f"{self.paid} paid template(s), ≈ {show(self.charge, self.currency)}; "
                f"{self.free} free inside the window")

    def lines(self) -> list[str]:
        out = []
        for country, cost in sorted(self.by_country.items(), key=lambda kv: (-kv[1].charge, kv[0])):
            note = " (not on the card: its highest rate)" if country in self.unlisted else ""
            charge = show(cost.charge, self.currency)
            out.append(f"  {country}: {cost.paid} paid, {cost.free} free, ≈ {charge}{note}")
        return out


def estimate_people(people: Iterable[tuple[str | None, datetime | None, int]], card: RateCard,
                    category: str, now: datetime) -> Estimate:
    """``(phone or BSUID, last_inbound_at, messages)`` per person → the :class:`Estimate`.

    Only the first message to a person can go inside an open window as counted here; a run's
    later ones go after it, so they are counted the same way (the window is the person's, not the
    message's).
    """
    estimate = Estimate(card.currency, category)
    for identifier, last_inbound_at, count in people:
        if count:
            estimate.add(identifier, goes_as_template(None, False, last_inbound_at, now), card, count)
    return estimate


def people_counts(session: Any, counts: Counter[int]) -> list[tuple[str | None, datetime | None, int]]:
    """Each counted subscriber's number and last message time, read in pages."""
    from sqlmodel import col, select

    from hub.storage.tables import SubscriberRow

    ids = sorted(counts)
    out: list[tuple[str | None, datetime | None, int]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for sid, phone, last in session.exec(select(SubscriberRow.id, SubscriberRow.phone,
                                                    SubscriberRow.last_inbound_at)
                                             .where(col(SubscriberRow.id).in_(chunk))):
            out.append((phone, last, counts[sid]))
    return out
