"""Stories the daily cap held back compete in the person's next run (issue 14, item 3).

A busy day delays news instead of losing it: the third story of a day with a cap of 2 goes out
in the next run, if it is still younger than the routine's ``max_age``; an older one does not,
and nobody gets the same story twice.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from hub.storage.tables import ItemRow
from tests.policy_helpers import RecordingSink
from tests.test_routines import World, _madrid

DAILY = ('[[routines]]\nname = "diaria"\nevery = "1 day"\nat = "09:00"\nmode = "{mode}"\n'
         'max_items = {max_items}\nmax_age = "30 hours"\n')


def _config(database_url: str, mode: str = "each", max_items: int = 10, extra: str = "") -> str:
    """Default caps (2 a day, 2 hours apart, quiet 22:00-08:00): the config says nothing of them."""
    return (f'[hub]\ndatabase_url = "{database_url}"\ntimezone = "Europe/Madrid"\n\n'
            f'[[filters]]\ntype = "dedup"\n\n[sinks.console]\n\n'
            f'{DAILY.format(mode=mode, max_items=max_items)}\n{extra}')


def _story(w: World, title: str, published: datetime) -> None:
    with w.store.write() as session:
        session.add(ItemRow(source="diario", guid=title, url=f"https://villa.example.org/{title}/",
                            title=title, tags=[], status="ready", published_at=published,
                            fetched_at=w.clock.now(), ready_at=w.clock.now()))


def _titles() -> list[str]:
    return [s.message.text.splitlines()[0].strip("*") for s in RecordingSink.sent]


def _day(w: World, *at: tuple[int, int, int, int]) -> int:
    """Send at each of these local times; how many went."""
    sent = 0
    for moment in at:
        w.clock.set(_madrid(2026, 3, *moment))
        sent += w.send()
    return sent


def test_a_story_held_back_by_the_cap_goes_in_the_next_run(project: Path, database_url: str) -> None:
    w = World(project, _config(database_url), _madrid(2026, 3, 10, 8, 0))
    try:
        w.people(1)
        w.routines.tick()
        _story(w, "Vieja", _madrid(2026, 3, 9, 10, 0))  # 47 h old at the next run: past max_age
        _story(w, "Tercera", _madrid(2026, 3, 10, 6, 0))  # 27 h old at the next run: still fresh
        _story(w, "Primera", _madrid(2026, 3, 10, 7, 30))
        _story(w, "Segunda", _madrid(2026, 3, 10, 7, 0))
        w.clock.set(_madrid(2026, 3, 10, 9, 0))
        first = w.routines.tick()[0].stats
        assert first is not None and (first.planned, first.skipped) == (2, 2), "2 a day: two held back"
        assert _day(w, (10, 9, 0), (10, 11, 0), (10, 13, 0), (10, 21, 0)) == 2

        w.clock.set(_madrid(2026, 3, 11, 8, 30))
        _story(w, "Nueva", _madrid(2026, 3, 11, 8, 30))
        w.clock.set(_madrid(2026, 3, 11, 9, 0))
        second = w.routines.tick()[0].stats
        assert second is not None and second.planned == 2, "the new story and the one held back"
        assert _day(w, (11, 9, 0), (11, 11, 0), (11, 13, 0), (11, 21, 0)) == 2, "still 2 a day"

        w.clock.set(_madrid(2026, 3, 12, 9, 0))
        w.routines.tick()
        assert _day(w, (12, 9, 0), (12, 11, 0), (12, 13, 0)) == 0, "nothing is sent twice"
        assert _titles() == ["Primera", "Segunda", "Nueva", "Tercera"], "Vieja was past max_age"
    finally:
        w.close()


def test_a_digest_held_back_by_the_cap_rides_in_the_next_digest(project: Path, database_url: str) -> None:
    hourly = ('[[routines]]\nname = "cada-hora"\nevery = "3 hours"\nat = "09:00"\nmode = "digest"\n'
              'max_items = 3\nmax_age = "1 day"\n')
    w = World(project, _config(database_url, extra=hourly).replace(
        DAILY.format(mode="each", max_items=10), ""), _madrid(2026, 3, 10, 8, 0))
    try:
        w.people(1)
        w.routines.tick()
        for n, hour in enumerate((9, 12, 15)):  # three digests in a day with a cap of 2
            w.clock.set(_madrid(2026, 3, 10, hour, 0))
            _story(w, f"Historia {n + 1}", w.clock.now())
            w.routines.tick()
            w.send()
        assert len(RecordingSink.sent) == 2, "the third digest was held back by the cap"
        w.clock.set(_madrid(2026, 3, 11, 9, 0))
        _story(w, "Historia 4", w.clock.now())
        w.routines.tick()
        w.send()
        assert len(RecordingSink.sent) == 3
        text = RecordingSink.sent[-1].message.text
        assert "Historia 3" in text and "Historia 4" in text, text
        assert "Historia 1" not in text and "Historia 2" not in text, "nothing twice"
    finally:
        w.close()
