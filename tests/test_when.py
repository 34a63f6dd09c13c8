"""Routine slots and quiet hours in Madrid wall time, across both DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from hub.timekeeping.when import Cadence, QuietHours, day_bounds

MADRID = ZoneInfo("Europe/Madrid")


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID).astimezone(UTC)


def _slots(cadence: Cadence, start: datetime, count: int) -> list[str]:
    out, moment, anchor = [], start, None
    for _ in range(count):
        moment = cadence.next_after(moment, MADRID, anchor)
        anchor = anchor or moment.astimezone(MADRID).date()
        out.append(moment.astimezone(MADRID).strftime("%a %d %H:%M %Z"))
    return out


def test_daily_time_stays_local_across_october_change() -> None:
    slots = _slots(Cadence.parse("2 days", "09:30"), _local(2026, 10, 21, 12, 0), 4)
    assert slots == ["Thu 22 09:30 CEST", "Sat 24 09:30 CEST", "Mon 26 09:30 CET", "Wed 28 09:30 CET"]


def test_march_change_and_the_missing_hour() -> None:
    cadence = Cadence.parse("1 day", "02:30")  # 02:30 does not exist on 29 March 2026
    assert _slots(cadence, _local(2026, 3, 27, 12, 0), 3) == [
        "Sat 28 02:30 CET", "Sun 29 03:30 CEST", "Mon 30 02:30 CEST"]


def test_hours_restart_each_local_day_and_the_repeated_hour_runs_once() -> None:
    cadence = Cadence.parse("1 hour", "00:30")
    slots = _slots(cadence, _local(2026, 10, 25, 0, 0), 4)
    assert slots == ["Sun 25 00:30 CEST", "Sun 25 01:30 CEST", "Sun 25 02:30 CEST", "Sun 25 03:30 CET"]


def test_hours_keep_step_with_at_through_the_whole_day() -> None:
    cadence = Cadence.parse("6 hours", "09:30")
    assert _slots(cadence, _local(2026, 10, 20, 0, 0), 5) == [
        "Tue 20 03:30 CEST", "Tue 20 09:30 CEST", "Tue 20 15:30 CEST", "Tue 20 21:30 CEST",
        "Wed 21 03:30 CEST"]
    uneven = Cadence.parse("5 hours", "00:00")  # does not divide a day: restarts at midnight
    assert _slots(uneven, _local(2026, 10, 20, 19, 0), 2) == ["Tue 20 20:00 CEST", "Wed 21 00:00 CEST"]


def test_weekdays_and_every_two_weeks() -> None:
    weekly = Cadence.parse("1 week", "08:00", ["mon", "jueves"])
    assert _slots(weekly, _local(2026, 10, 20, 12, 0), 3) == [
        "Thu 22 08:00 CEST", "Mon 26 08:00 CET", "Thu 29 08:00 CET"]
    fortnight = Cadence.parse("2 weeks", "08:00", ["mon"])
    days = _slots(fortnight, _local(2026, 10, 20, 12, 0), 3)
    assert days == ["Mon 26 08:00 CET", "Mon 09 08:00 CET", "Mon 23 08:00 CET"]


@pytest.mark.parametrize(("every", "weekdays", "message"), [
    ("36 hours", [], "whole days or weeks"),
    ("2 days", ["mon"], "cannot be combined with weekdays"),
    ("30 seconds", [], "too short"),
    ("1 day", ["someday"], "not a weekday"),
])
def test_cadence_mistakes(every, weekdays, message) -> None:
    with pytest.raises(ValueError, match=message):
        Cadence.parse(every, "09:00", weekdays)


def test_quiet_hours_over_midnight() -> None:
    quiet = QuietHours.parse("22:00-08:00")
    assert quiet.contains(_local(2026, 10, 24, 23, 0), MADRID)
    assert quiet.contains(_local(2026, 10, 25, 7, 59), MADRID)
    assert not quiet.contains(_local(2026, 10, 25, 8, 0), MADRID)
    # Quiet from Saturday 23:00 CEST ends at 08:00 CET on Sunday: nine, not ten, UTC hours later.
    assert quiet.end_after(_local(2026, 10, 24, 23, 0), MADRID) == _local(2026, 10, 25, 8, 0)
    assert quiet.end_after(_local(2026, 10, 25, 12, 0), MADRID) == _local(2026, 10, 25, 12, 0)


def test_calendar_day_is_25_hours_in_october() -> None:
    start, end = day_bounds(_local(2026, 10, 25, 12, 0), MADRID)
    assert (end - start).total_seconds() == 25 * 3600
    assert start.astimezone(MADRID).date() == date(2026, 10, 25)
    assert start.astimezone(MADRID).time() == time(0)
