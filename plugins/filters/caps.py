"""The ``caps`` filter: how much, how often and when anyone may be sent anything.

Its options live in ``hub.toml`` with the other filters, but a cap is about people, not items,
so it acts when a routine plans the outbox (``hub.outbox``: per-day cap, gap, quiet hours) and
again when each message is claimed for sending (``hub.caps``: every rule, against what was
really sent) — the second check is what makes the caps hold whatever the backlog.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

import hub
from hub.contracts import Filter, FilterContext, FilterOptions, Keep, Verdict
from hub.durations import parse_interval
from hub.news import NewsItem
from hub.when import QuietHours

MESSAGING_LIMITS = (250, 1_000, 2_000, 10_000, 100_000)


class CapsOptions(FilterOptions):
    """``[[filters]] type = "caps"``."""

    per_subscriber_per_day: int | None = Field(
        2, ge=1, description="messages per person per calendar day in [hub] timezone")
    min_gap: str | None = Field(None, description='least time between two messages to one person')
    quiet_hours: str | None = Field(None, description='never send inside, e.g. "22:00-08:00"')
    messaging_limit: int | Literal["unlimited"] = Field(
        "unlimited", description="unique recipients per moving 24 h (your WhatsApp messaging "
        "limit tier: 250, 2000, 10000, 100000 or unlimited)")

    @field_validator("min_gap")
    @classmethod
    def _gap(cls, value: str | None) -> str | None:
        if value is not None:
            parse_interval(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            QuietHours.parse(value)
        return value

    @field_validator("messaging_limit")
    @classmethod
    def _limit(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value not in MESSAGING_LIMITS:
            raise ValueError(f"{value} is not a WhatsApp messaging limit (expected one of "
                             f"{', '.join(str(v) for v in MESSAGING_LIMITS)} or \"unlimited\")")
        return value


class CapsFilter(Filter):
    """Keeps every item: the caps are applied to people when planning and sending."""

    Options = CapsOptions
    options: CapsOptions

    def check(self, item: NewsItem, ctx: FilterContext) -> Verdict:
        return Keep(item, note="caps apply when planning and sending")


@hub.hookimpl
def register_filters(register: Any) -> None:
    register("caps", CapsFilter)
