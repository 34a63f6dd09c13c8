"""The brake: a run after which many more people leave than usual pauses its routine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import select

from hub.audience.consent import record_opt_out
from hub.storage.tables import RoutineRunRow, RoutineStateRow, SubscriberRow
from tests.conftest import HubRunner
from tests.test_routines import World, _madrid, _toml

DAILY = '[[routines]]\nname = "diaria"\nevery = "1 day"\nat = "09:30"\nmode = "digest"\nmax_items = 2\n'


@pytest.fixture
def w(project) -> Iterator[World]:
    """A daily 09:30 digest routine on a fake clock starting Monday 2 March, 08:00 Madrid."""
    made = World(project, _toml(routines=DAILY), _madrid(2026, 3, 2, 8, 0))
    yield made
    made.close()


def _day(w: World, title: str) -> int:
    """One day of the routine: a story at 08:00, the run at 09:30, the sends."""
    w.item(title, ["noticias"])
    w.clock.advance(minutes=90)
    reports = w.routines.tick()
    sent = w.send()
    w.clock.advance(hours=22, minutes=30)
    return sent if reports and reports[0].status == "done" else -1


def test_a_run_that_drives_people_away_pauses_the_routine_until_resumed(w, project) -> None:
    w.people(60)
    w.routines.tick()  # the daemon starts at 08:00
    assert _day(w, "Lunes") == 60
    assert _day(w, "Martes") == 60
    # Wednesday's story annoys: 9 of the 60 leave within hours of it (usual: nobody).
    w.item("Miércoles", ["noticias"])
    w.clock.advance(minutes=90)
    w.routines.tick()
    assert w.send() == 60
    w.clock.advance(hours=3)
    with w.store.write() as session:
        for person in session.exec(select(SubscriberRow).limit(9)).all():
            record_opt_out(session, person, w.clock.now(), channel="whatsapp", words="BAJA")
    w.clock.advance(hours=19, minutes=30)

    # Thursday 09:30: the brake holds the run; the slot is recorded, nothing is planned or sent.
    w.item("Jueves", ["noticias"])
    w.clock.advance(minutes=90)
    reports = w.routines.tick()
    assert [r.status for r in reports] == ["missed"]
    assert "paused by the brake" in reports[0].note and "9 of 60 people left" in reports[0].note
    assert w.send() == 0

    runner = HubRunner(project / "hub.toml")
    status = runner("status")
    assert "Routine diaria: PAUSED by the brake" in status.output, status.output
    assert "“Miércoles”" in status.output and "hub routines resume diaria" in status.output
    listed = runner("routines")
    assert "PAUSED by the brake" in listed.output

    resumed = runner("routines", "resume", "diaria")
    assert resumed.exit_code == 0 and "resumed" in resumed.output
    w.clock.advance(hours=22, minutes=30)
    assert _day(w, "Viernes") == 51  # runs again, for those who stayed
    with w.store.read() as session:
        runs = session.exec(select(RoutineRunRow.status).order_by(RoutineRunRow.id)).all()
    assert runs == ["done", "done", "done", "missed", "done"]


def test_a_normal_share_of_leavers_does_not_pause(w) -> None:
    w.people(60)
    w.routines.tick()  # the daemon starts at 08:00
    for day in ("Lunes", "Martes"):
        assert _day(w, day) == 60
    w.item("Miércoles", ["noticias"])
    w.clock.advance(minutes=90)
    w.routines.tick()
    w.send()
    with w.store.write() as session:  # one person leaves: below the brake's minimum
        record_opt_out(session, session.exec(select(SubscriberRow)).first(), w.clock.now(),
                       channel="whatsapp", words="BAJA")
    w.clock.advance(hours=22, minutes=30)
    assert _day(w, "Jueves") == 59


@pytest.mark.parametrize("every", ["3 days", "1 week"])
def test_a_routine_every_few_days_is_paused_the_day_after_a_bad_run(project, every: str) -> None:
    """Judged on the 24 h after each run, whatever the cadence, and paused before the next slot."""
    routine = f'[[routines]]\nname = "semanal"\nevery = "{every}"\nat = "09:30"\nmode = "digest"\n'
    w = World(project, _toml(routines=routine), _madrid(2026, 3, 2, 8, 0))
    try:
        w.people(60)
        w.routines.tick()  # the daemon starts at 08:00
        gap = timedelta(days=3) if every == "3 days" else timedelta(days=7)
        for n in range(3):
            w.item(f"Historia {n}", ["noticias"])
            w.clock.advance(minutes=90)
            assert [r.status for r in w.routines.tick()] == ["done"]
            assert w.send() == 60
            if n < 2:
                w.clock.set(w.clock.now() + gap - timedelta(minutes=90))
        # The third run annoys: 9 of 60 leave within hours of it (usual: nobody).
        w.clock.advance(hours=3)
        with w.store.write() as session:
            for person in session.exec(select(SubscriberRow).limit(9)).all():
                record_opt_out(session, person, w.clock.now(), channel="whatsapp", words="BAJA")
        w.clock.advance(hours=22)  # the day after: its window has closed
        assert w.routines.tick() == []  # nothing due yet...
        with w.store.read() as session:
            state = session.get(RoutineStateRow, "semanal")
            assert state is not None and state.paused_at == w.clock.now(), "...but already paused"
            assert "9 of 60 people left" in (state.paused_reason or "")
        w.item("La siguiente", ["noticias"])
        w.clock.set(_madrid(2026, 3, 2, 9, 30) + 3 * gap)  # the next slot
        reports = w.routines.tick()
        assert [r.status for r in reports] == ["missed"] and "paused by the brake" in reports[0].note
        assert w.send() == 0
    finally:
        w.close()
