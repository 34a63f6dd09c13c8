"""``hub preview --subscriber NUMBER``: one person's next runs (issue 14, item 10).

Through the CLI, as an admin asks it: which stories, when, what the caps hold back and why, for
the person named by number or by business-scoped user id; the number shown whole (the admin
typed it) but never written to a log.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from hub.storage.tables import DeliveryRow, ItemRow, SubscriberRow
from tests.conftest import HubRunner
from tests.test_routines import World

BSUID = "ES.13491208655302741918"
CONFIG = ('[hub]\ndatabase_url = "{url}"\ntimezone = "Europe/Madrid"\n\n[sinks.console]\n\n'
          '[caps]\nper_subscriber_per_day = 2\nmin_gap = "none"\nquiet_hours = "none"\n\n'
          '[[routines]]\nname = "diaria"\nevery = "1 day"\nat = "09:00"\nmode = "each"\n'
          'max_items = 10\n')


def _story(w: World, title: str, hours_ago: int, priority: bool = False,
           planned: bool = False) -> int:
    now = w.clock.now()
    with w.store.write() as session:
        row = ItemRow(source="diario", guid=title, url=f"https://villa.example.org/{title}/",
                      title=title, tags=[], status="ready", priority=priority,
                      published_at=now - timedelta(hours=hours_ago), fetched_at=now, ready_at=now,
                      planned_at=now if planned else None)
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def _held_back(w: World, subscriber_id: int, item_id: int) -> None:
    """A story an earlier run held back for this person by the daily cap."""
    now = w.clock.now()
    with w.store.write() as session:
        session.add(DeliveryRow(key=f"item:{item_id}:{subscriber_id}", subscriber_id=subscriber_id,
                                item_id=item_id, routine="diaria", status="skipped",
                                reason="cap: 2 message(s) per day", created_at=now, due_at=now,
                                body={"kind": "item", "text": "x", "items": [{"id": item_id}]}))


def test_a_subscribers_forecast_names_stories_times_and_what_the_cap_holds(
        project: Path, database_url: str, hub_cli: HubRunner, caplog: pytest.LogCaptureFixture) -> None:
    w = World(project, CONFIG.format(url=database_url), datetime.now(UTC))
    try:
        w.people(2)
        with w.store.write() as session:
            person = session.exec(select(SubscriberRow).order_by(SubscriberRow.id)).first()
            assert person is not None and person.id is not None and person.phone is not None
            person.user_id = BSUID
            phone, subscriber_id = person.phone, person.id
        held = _story(w, "Pleno municipal", hours_ago=10, priority=True, planned=True)
        _held_back(w, subscriber_id, held)
        for n, title in enumerate(("Fiestas", "Mercado", "Biblioteca")):
            _story(w, title, hours_ago=n + 1)
    finally:
        w.close()

    caplog.set_level(logging.DEBUG)
    shown = hub_cli("preview", "--subscriber", f"+{phone}")
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert f"Forecast for +{phone}" in out, "the number the admin asked about, whole"
    assert "diaria: next run" in out
    planned = [line for line in out.splitlines() if "«" in line and "held back (" not in line]
    assert len(planned) == 2, out
    assert "Pleno municipal" in planned[0] and "[held back by the cap before" in planned[0], \
        "the story held back last time competes again, and ranks first (priority)"
    assert "Fiestas" in planned[1], "then the freshest new story"
    held_lines = [line for line in out.splitlines() if "held back (cap: 2 message(s) per day" in line]
    assert [("Mercado" in line, "Biblioteca" in line) for line in held_lines] == [(True, False),
                                                                                   (False, True)]
    assert all(phone not in record.getMessage() for record in caplog.records), "never logged whole"

    by_bsuid = hub_cli("preview", "--subscriber", BSUID)
    assert by_bsuid.exit_code == 0, by_bsuid.output
    assert by_bsuid.output == out, "a BSUID names the same person"

    unknown = hub_cli("preview", "--subscriber", "+34699999999")
    assert unknown.exit_code != 0 and "no subscriber with number" in unknown.output
