"""Business hours such as ``"Mon-Fri 09:00-18:00, Sat 10:00-13:00"``, read in the hub's zone.

Used for the away message: outside these hours a person gets it once per closed period, and a
closed period is named by the moment it began (the last closing time), so the same period gives
the same key however many times they write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "lun": 0, "mar": 1, "mie": 2, "jue": 3, "vie": 4, "sab": 5, "dom": 6,
}
_SPEC = re.compile(r"^\s*([a-zéá]{3})(?:\s*-\s*([a-zéá]{3}))?\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$",
                   re.IGNORECASE)


@dataclass(frozen=True)
class Span:
    """Open on ``days`` (0 = Monday) from ``start`` to ``end`` local time."""

    days: frozenset[int]
    start: time
    end: time


def _day(name: str) -> int:
    key = name.lower().replace("é", "e").replace("á", "a")
    if key not in _DAYS:
        raise ValueError(f"unknown day {name!r} (expected Mon…Sun or Lun…Dom)")
    return _DAYS[key]


def _clock(text: str) -> time:
    hours, minutes = (int(p) for p in text.split(":"))
    if hours == 24 and minutes == 0:
        return time(23, 59, 59)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"bad time {text!r} (expected HH:MM)")
    return time(hours, minutes)


def parse_hours(text: str) -> list[Span]:
    """Parse comma- or semicolon-separated spans; raises ``ValueError`` saying what is wrong."""
    spans = []
    for part in re.split(r"[,;]", text):
        if not part.strip():
            continue
        match = _SPEC.match(part)
        if not match:
            raise ValueError(f"cannot read {part.strip()!r} (expected e.g. 'Mon-Fri 09:00-18:00')")
        first = _day(match[1])
        last = _day(match[2]) if match[2] else first
        days = {(first + i) % 7 for i in range(((last - first) % 7) + 1)}
        start, end = _clock(match[3]), _clock(match[4])
        if end <= start:
            raise ValueError(f"{part.strip()!r}: closing time must be after opening time")
        spans.append(Span(frozenset(days), start, end))
    if not spans:
        raise ValueError("no opening hours given (expected e.g. 'Mon-Fri 09:00-18:00')")
    return spans


def is_open(spans: list[Span], moment: datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    return any(local.weekday() in s.days and s.start <= local.time() < s.end for s in spans)


def closed_since(spans: list[Span], moment: datetime, zone: ZoneInfo) -> datetime:
    """When the current closed period began: the latest closing time at or before ``moment``."""
    local = moment.astimezone(zone)
    latest: datetime | None = None
    for back in range(8):
        day = (local - timedelta(days=back)).date()
        for span in spans:
            if day.weekday() in span.days:
                closing = datetime.combine(day, span.end, tzinfo=zone)
                if closing <= local and (latest is None or closing > latest):
                    latest = closing
    return latest or datetime(1970, 1, 1, tzinfo=zone)
