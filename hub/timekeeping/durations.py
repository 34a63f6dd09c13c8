"""Human intervals from hub.toml ("10 minutes", "2 days", "1 week") as timedeltas."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
    "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400,
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$")


def parse_interval(text: str) -> timedelta:
    """``"10 minutes"`` → 10 minutes; raise ``ValueError`` with an example otherwise."""
    match = _PATTERN.match(text.lower())
    unit = match and (_UNITS.get(match.group(2)) or _UNITS.get(match.group(2) + "s"))
    if not match or not unit:
        raise ValueError(f'not an interval: {text!r} (expected e.g. "10 minutes", "2 days")')
    seconds = float(match.group(1)) * unit
    if seconds <= 0:
        raise ValueError(f"interval must be positive: {text!r}")
    return timedelta(seconds=seconds)
