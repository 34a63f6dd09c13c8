"""Dates as sites really write them, and whether a batch's dates can be trusted.

Feeds should carry RFC 822 (RSS) or RFC 3339 (Atom) dates; many carry ``2020/1/10 14:33:00``,
which feedparser reads as 1 November. Web pages carry ``12 de marzo de 2026``. A date that
cannot be trusted is worse than none: "max age" and "newest first" depend on it, so
:func:`vet_dates` replaces untrustworthy ones with the fetch time and says why.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

FUTURE_SLACK = timedelta(days=1)  # a clock a little ahead, or a time zone misdeclared
SAME_INSTANT_MIN = 3  # this many items or more, all on one instant: a template's date, not theirs

_NUMERIC = re.compile(
    r"^\s*(?P<y>\d{4})[/.-](?P<m>\d{1,2})[/.-](?P<d>\d{1,2})"
    r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?\s*$")
_DAY_FIRST = re.compile(
    r"^\s*(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})"
    r"(?:[ T,]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?\s*$")
_MONTHS = {
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
    "ene": 1, "feb": 2, "mar": 3, "abr": 4, "may": 5, "jun": 6, "jul": 7, "ago": 8, "sep": 9,
    "sept": 9, "set": 9, "oct": 10, "nov": 11, "dic": 12,
}
_WORDS = re.compile(
    r"(?P<d>\d{1,2})\s*(?:de\s+)?(?P<month>[a-záéíóú]+)\.?\s*(?:de\s+|del\s+)?(?P<y>\d{4})"
    r"(?:\D{0,12}?(?P<H>\d{1,2})[:.h](?P<M>\d{2}))?", re.IGNORECASE)


def parse_loose_date(text: str, zone: tzinfo = UTC) -> datetime | None:
    """``2020/1/10 14:33:00``, ``10/01/2020``, ``2026-03-12T10:00+01:00`` or ``jueves, 12 de
    marzo de 2026, 10:30`` as an aware UTC datetime; None when it is none of these. Times
    without an offset are read in ``zone``."""
    value = text.strip()
    if not value:
        return None
    when: datetime | None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        when = _numeric(value) or _words(value)
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=zone)).astimezone(UTC)


def looks_year_first(text: str) -> bool:
    """A ``2020/1/10``-style date, which feedparser misreads: it must be parsed here."""
    return bool(_NUMERIC.match(text or ""))


def _numeric(value: str) -> datetime | None:
    found = _NUMERIC.match(value) or _DAY_FIRST.match(value)
    return _build(found.groupdict(), int(found["m"])) if found else None


def _words(value: str) -> datetime | None:
    for found in _WORDS.finditer(value):
        month = _MONTHS.get(found["month"].lower().translate(_ACCENTS))
        if month:
            return _build(found.groupdict(), month)
    return None


_ACCENTS = str.maketrans("áéíóú", "aeiou")


def _build(parts: dict[str, str | None], month: int) -> datetime | None:
    try:
        return datetime(int(parts["y"] or 0), month, int(parts["d"] or 0), int(parts["H"] or 0),
                        int(parts["M"] or 0), int(parts.get("S") or 0))
    except ValueError:
        return None


def vet_dates(times: list[datetime | None], now: datetime, source: str
              ) -> tuple[list[datetime | None], list[str]]:
    """The dates kept (None where the fetch time must stand in) and a warning per reason.

    Untrustworthy: missing or unreadable, more than a day in the future, or every item of the
    batch (three or more) on one identical instant.
    """
    warnings: list[str] = []
    missing = sum(1 for t in times if t is None)
    future = [t for t in times if t is not None and t > now + FUTURE_SLACK]
    kept: list[datetime | None] = [None if t is not None and t > now + FUTURE_SLACK else t
                                   for t in times]
    dated = [t for t in kept if t is not None]
    if len(dated) >= SAME_INSTANT_MIN and len(dated) == len(times) and len(set(dated)) == 1:
        warnings.append(f"{source}: all {len(dated)} items carry the same date "
                        f"({dated[0]:%Y-%m-%d %H:%M} UTC); the fetch time is used instead")
        kept = [None] * len(times)
    if missing:
        warnings.append(f"{source}: {missing} item(s) without a readable date; the fetch time is "
                        "used instead")
    if future:
        warnings.append(f"{source}: {len(future)} item(s) dated in the future (up to "
                        f"{max(future):%Y-%m-%d %H:%M} UTC); the fetch time is used instead")
    return kept, warnings
