"""Amounts of money: ``"150 EUR"`` in hub.toml, exact decimals in the code, micro-units in the store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICROS = Decimal("1000000")
_AMOUNT = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*([A-Za-z]{3})\s*$")


@dataclass(frozen=True)
class Money:
    """An amount in one currency (ISO 4217 code, upper case)."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount.quantize(Decimal('0.01'), ROUND_HALF_UP)} {self.currency}"


def parse_money(text: str) -> Money:
    """``"150 EUR"`` (or ``"150,50 EUR"``) → Money; a ValueError with an example otherwise."""
    found = _AMOUNT.match(text or "")
    if not found:
        raise ValueError(f'expected an amount and a currency code, e.g. "150 EUR" (got {text!r})')
    try:
        amount = Decimal(found.group(1).replace(",", "."))
    except InvalidOperation:
        raise ValueError(f'expected an amount such as "150 EUR" (got {text!r})') from None
    return Money(amount, found.group(2).upper())


def to_micros(amount: Decimal) -> int:
    """Millionths of the currency unit, the integer the store keeps (rounded half up)."""
    return int((amount * MICROS).quantize(Decimal(1), ROUND_HALF_UP))


def from_micros(micros: int) -> Decimal:
    return Decimal(micros) / MICROS


def show(amount: Decimal, currency: str, places: int = 2) -> str:
    """``12.35 USD``; amounts below a cent keep four places so a per-message price stays readable."""
    if amount and abs(amount) < Decimal("0.1"):
        places = max(places, 4)
    return f"{amount.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)} {currency}"
