"""Wall-clock time in the hub's time zone: routine slots, quiet hours and calendar days.

Everything is stored in UTC and reasoned about in local wall time, so "09:30 Madrid" stays
09:30 across the October and March changes. A local time that does not exist (the spring-forward
gap) is read with the offset before the change, so 02:30 becomes 03:30; one that happens twice
(autumn) is taken once, the first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.timekeeping.durations import parse_interval

DAY = timedelta(days=1)
WEEKDAYS: dict[str, int] = {}
for _index, _names in enumerate((
    ("mon", "monday", "lun", "lunes", "l"),
    ("tue", "tuesday", "mar", "martes", "m"),
    ("wed", "wednesday", "mie", "mié", "miercoles", "miércoles", "x"),
    ("thu", "thursday", "jue", "jueves", "j"),
    ("fri", "friday", "vie", "viernes", "v"),
    ("sat", "saturday", "sab", "sáb", "sabado", "sábado", "s"),
    ("sun", "sunday", "dom", "domingo", "d"),
)):
    for _name in _names:
        WEEKDAYS[_name] = _index
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_clock(text: str) -> time:
    """``"09:30"`` → 09:30; ``ValueError`` with an example otherwise."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise ValueError(f'not a time of day: {text!r} (expected "HH:MM", e.g. "09:30")')
    return time(int(match.group(1)), int(match.group(2)))


def parse_weekday(text: str) -> int:
    """``"mon"``, ``"Monday"``, ``"lunes"`` → 0."""
    key = text.strip().lower()
    if key not in WEEKDAYS or len(key) == 1:
        raise ValueError(f"not a weekday: {text!r} (expected mon, tue, wed, thu, fri, sat, sun)")
    return WEEKDAYS[key]


def local_wall(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall time ``at`` on ``day`` in ``tz`` (PEP 495, ``fold=0``)."""
    return datetime.combine(day, at).replace(tzinfo=tz, fold=0).astimezone(UTC)


def day_bounds(moment: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Start and end (UTC) of the local calendar day holding ``moment`` (23 or 25 h on DST days)."""
    day = moment.astimezone(tz).date()
    return local_wall(day, time(0), tz), local_wall(day + DAY, time(0), tz)


@dataclass(frozen=True)
class QuietHours:
    """A nightly window ("22:00-08:00") during which nothing is sent."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        parts = text.split("-")
        if len(parts) != 2:
            raise ValueError(f'not a quiet-hours window: {text!r} (expected e.g. "22:00-08:00")')
        start, end = parse_clock(parts[0]), parse_clock(parts[1])
        if start == end:
            raise ValueError(f"quiet hours {text!r} start and end at the same time")
        return cls(start, end)

    def contains(self, moment: datetime, tz: ZoneInfo) -> bool:
        local = moment.astimezone(tz).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def end_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first instant at or after ``moment`` outside the window."""
        if not self.contains(moment, tz):
            return moment
        day = moment.astimezone(tz).date()
        for offset in (0, 1):
            candidate = local_wall(day + timedelta(days=offset), self.end, tz)
            if candidate > moment:
                return candidate
        raise AssertionError("unreachable: quiet hours end within a day")

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Cadence:
    """When a routine runs: every interval, at a wall time, optionally on some weekdays.

    Below a day, the slots repeat through each local day in step with ``at`` (every 6 hours at
    09:30 → 03:30, 09:30, 15:30, 21:30; an interval that does not divide a day restarts at the
    first slot after midnight). From a day up, the interval is whole days or weeks counted on the
    local calendar from ``anchor`` (the date of the first run), always at ``at``. With weekdays,
    the routine runs on those days of every week (or of every N weeks, for ``every = "N weeks"``).
    """

    every: timedelta
    at: time
    weekdays: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, every: str, at: str | None, weekdays: list[str] | tuple[str, ...] = ()) -> Cadence:
        interval = parse_interval(every)
        days = frozenset(parse_weekday(w) for w in weekdays)
        if interval >= DAY:
            if interval % DAY:
                raise ValueError(f"{every!r}: from a day up, use whole days or weeks "
                                 '(e.g. "2 days"); below a day, hours or minutes')
            if days and interval.days != 1 and interval.days % 7:
                raise ValueError(f"{every!r} cannot be combined with weekdays "
                                 '(expected "1 day" or a whole number of weeks)')
        elif interval < timedelta(minutes=1):
            raise ValueError(f"{every!r} is too short for a routine (expected at least 1 minute)")
        default = "00:00" if interval < DAY else "09:00"
        return cls(interval, parse_clock(at or default), days)

    @property
    def signature(self) -> str:
        days = ",".join(str(d) for d in sorted(self.weekdays))
        return f"{int(self.every.total_seconds())}s@{self.at:%H:%M}/{days}"

    def next_after(self, after: datetime, tz: ZoneInfo, anchor: date | None = None) -> datetime:
        """The first slot strictly after ``after`` (UTC)."""
        start_day = after.astimezone(tz).date() - DAY
        for offset in range(0, 7 * 366):
            day = start_day + timedelta(days=offset)
            if not self._day_allowed(day, anchor):
                continue
            for at in self._slots():
                candidate = local_wall(day, at, tz)
                if candidate > after:
                    return candidate
        raise AssertionError("no slot within seven years")  # pragma: no cover

    def _slots(self) -> list[time]:
        if self.every >= DAY:
            return [self.at]
        midnight = datetime.combine(date(2000, 1, 1), time(0))
        offset = (datetime.combine(midnight.date(), self.at) - midnight) % self.every
        slots, moment = [], midnight + offset
        while moment.date() == midnight.date():
            slots.append(moment.time())
            moment += self.every
        return slots

    def _day_allowed(self, day: date, anchor: date | None) -> bool:
        if self.weekdays:
            if day.weekday() not in self.weekdays:
                return False
            weeks = self.every.days // 7 if self.every >= DAY else 1
            if weeks > 1 and anchor is not None:
                monday = day - timedelta(days=day.weekday())
                anchor_monday = anchor - timedelta(days=anchor.weekday())
                return ((monday - anchor_monday).days // 7) % weeks == 0
            return True
        if self.every >= DAY and anchor is not None:
            return (day - anchor).days % self.every.days == 0
        return True
