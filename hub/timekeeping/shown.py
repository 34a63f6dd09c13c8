"""Times as people read them: in the hub's time zone, the zone named, the day only when not today.

Every CLI line that says "until …" or "at …" goes through here, so the zone is never a guess.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def shown(moment: datetime, tz: ZoneInfo, now: datetime) -> str:
    """``10:42 CET``, ``tomorrow 08:00 CET`` or ``Thu 2026-12-03 09:30 CET`` (``now``: the clock's)."""
    local, today = moment.astimezone(tz), now.astimezone(tz).date()
    if abs(moment - now) < timedelta(minutes=1):  # the pair rate's seconds matter
        return local.strftime("%H:%M:%S %Z")
    if local.date() == today:
        return local.strftime("%H:%M %Z")
    if local.date() == today + timedelta(days=1):
        return local.strftime("tomorrow %H:%M %Z")
    return local.strftime("%a %Y-%m-%d %H:%M %Z")


def stamp(moment: datetime, tz: ZoneInfo) -> str:
    """``2026-11-29 10:42 CET``: a full local time, for listings and JSON-free tables."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def zone_note(tz: ZoneInfo) -> str:
    """``(times in Europe/Madrid)``: said once under a listing."""
    return f"(times in {tz.key})"
