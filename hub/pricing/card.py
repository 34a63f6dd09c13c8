"""The rate card: price per delivered message by category and recipient country, dated.

The card ships as ``hub/pricing/rates.csv`` (its source and date are written at its top) and can
be replaced without a release: ``[pricing] card = "path/to/rates.csv"`` (the same format), or the
whole card inline in ``hub.toml`` (``currency``, ``valid_from``, ``source``, ``rates``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.errors import ConfigError

CATEGORIES = ("marketing", "utility", "authentication", "service")
SHIPPED = "rates.csv"


@dataclass(frozen=True)
class Price:
    """One message's price; ``listed`` is False when the country is not on the card (estimated)."""

    amount: Decimal
    listed: bool = True


@dataclass
class RateCard:
    """Rates per country (ISO two letters) and category, in one currency, valid from a date."""

    currency: str
    valid_from: date
    source: str
    rates: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def price(self, country: str | None, category: str) -> Price:
        """What one delivered message of ``category`` to ``country`` costs.

        A country missing from the card (or unknown) is priced at the card's highest rate for the
        category, marked ``listed=False``: an estimate that never undercounts what the card knows.
        """
        category = normal_category(category)
        row = self.rates.get((country or "").upper())
        if row is not None:
            return Price(row.get(category, Decimal(0)))
        highest = max((r.get(category, Decimal(0)) for r in self.rates.values()), default=Decimal(0))
        return Price(highest, listed=False)

    def describe(self) -> str:
        return (f"rate card in {self.currency}, valid from {self.valid_from.isoformat()}, "
                f"{len(self.rates)} countr{'y' if len(self.rates) == 1 else 'ies'} ({self.source})")


def normal_category(category: str | None) -> str:
    """Meta's category names (``MARKETING``, ``authentication_international``, ``marketing_lite``)
    → one of :data:`CATEGORIES`."""
    value = (category or "marketing").lower()
    for known in CATEGORIES:
        if value.startswith(known):
            return known
    return "service" if value in ("referral_conversion",) else "marketing"


def parse_card(text: str, where: str) -> RateCard:
    """A card from CSV text: ``# key: value`` lines (currency, valid_from, source), then rows."""
    meta: dict[str, str] = {}
    rows: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            body = stripped.lstrip("#")
            key, sep, value = body.strip().partition(":")
            if sep and key.strip() in ("currency", "valid_from", "source", "checked"):
                meta[key.strip()] = value.strip()
        elif stripped:
            rows.append(line)
    for needed in ("currency", "valid_from"):
        if not meta.get(needed):
            raise ConfigError(f"{where}: missing '# {needed}: …' line",
                              hint="start the card with '# currency: EUR' and '# valid_from: 2026-10-01'")
    try:
        valid_from = date.fromisoformat(meta["valid_from"])
    except ValueError:
        raise ConfigError(f"{where}: valid_from {meta['valid_from']!r} is not a date like "
                          "2026-10-01") from None
    card = RateCard(meta["currency"].upper(), valid_from, meta.get("source") or "source not given")
    reader = csv.DictReader(io.StringIO("\n".join(rows)))
    missing = [c for c in ("country", *CATEGORIES) if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(f"{where}: the header lacks {', '.join(missing)}",
                          hint="expected: country,marketing,utility,authentication,service")
    for number, row in enumerate(reader, start=2):
        country = (row.get("country") or "").strip().upper()
        if len(country) != 2 or not country.isalpha():
            raise ConfigError(f"{where}: row {number}: country {country!r} is not a two-letter code")
        try:
            card.rates[country] = {c: Decimal((row.get(c) or "0").strip() or "0") for c in CATEGORIES}
        except InvalidOperation:
            raise ConfigError(f"{where}: row {number} ({country}): a rate is not a number") from None
    return card


def shipped_card() -> RateCard:
    """The card that ships with the hub."""
    text = resources.files("hub.pricing").joinpath(SHIPPED).read_text(encoding="utf-8")
    return parse_card(text, f"hub/pricing/{SHIPPED}")


class PricingSettings(BaseModel):
    """``[pricing]``: replace the shipped rate card, by a CSV path or inline."""

    model_config = ConfigDict(extra="forbid")

    card: str | None = Field(None, description="path to a rate-card CSV (relative to hub.toml)")
    currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$", description="ISO code, e.g. EUR")
    valid_from: date | None = Field(None, description="the date the rates apply from")
    source: str | None = Field(None, description="where the figures come from, and when you read them")
    rates: dict[str, dict[str, float]] = Field(
        default_factory=dict, description='per country: {ES = {marketing = 0.0509, utility = …}}')
    default_category: str = Field("marketing", description="category of a template not yet read "
                                                           "from the account (hub templates)")

    @field_validator("rates")
    @classmethod
    def _rates(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for country, row in value.items():
            if len(country) != 2 or not country.isalpha():
                raise ValueError(f"{country!r}: expected a two-letter country code such as ES")
            unknown = set(row) - set(CATEGORIES)
            if unknown:
                raise ValueError(f"{country}: unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                                 f"{', '.join(sorted(unknown))} (expected {', '.join(CATEGORIES)})")
            if any(v < 0 for v in row.values()):
                raise ValueError(f"{country}: a rate below zero")
        return value

    def build(self, base_dir: Path) -> RateCard:
        """The card these settings describe (the shipped one when they say nothing)."""
        if self.card:
            path = (base_dir / self.card) if not Path(self.card).is_absolute() else Path(self.card)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"pricing.card: cannot read {path}: {exc.strerror or exc}") from None
            card = parse_card(text, f"pricing.card ({path.name})")
        elif self.rates:
            if not self.currency or self.valid_from is None:
                raise ConfigError("pricing: inline rates need currency and valid_from too",
                                  hint='e.g. currency = "EUR", valid_from = 2026-10-01')
            card = RateCard(self.currency.upper(), self.valid_from,
                            self.source or "given in hub.toml")
        else:
            card = shipped_card()
        for country, row in self.rates.items():
            base = card.rates.get(country.upper(), {c: Decimal(0) for c in CATEGORIES})
            card.rates[country.upper()] = {**base, **{k: Decimal(str(v)) for k, v in row.items()}}
        return card


def card_from(settings: PricingSettings | None, base_dir: Path) -> RateCard:
    return (settings or PricingSettings.model_validate({})).build(base_dir)


def dump(card: RateCard) -> dict[str, Any]:
    """The card as plain data (for ``hub templates``-like listings and tests)."""
    return {"currency": card.currency, "valid_from": card.valid_from.isoformat(),
            "source": card.source, "rates": {k: {c: str(v) for c, v in r.items()}
                                             for k, r in card.rates.items()}}
