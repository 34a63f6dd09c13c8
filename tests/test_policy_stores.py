"""The same routine run, caps and claims on either backend (``--backend``).

PostgreSQL takes the SQLAlchemy Core insert path of the planner and the server's own JSON and
timestamp types; the outcome a subscriber sees must not differ.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from hub.storage.tables import SubscriberRow
from tests.policy_helpers import RecordingSink
from tests.test_routines import World, _madrid, _toml


def test_run_caps_and_claims_agree_on_every_store(project: Path, database_url: str) -> None:
    caps = ('per_subscriber_per_day = 2\nquiet_hours = "22:00-08:00"\nmessaging_limit = 250\n'
            'min_gap = "none"\n')
    w = World(project, _toml(caps).replace("sqlite:///hub.db", database_url),
              _madrid(2026, 10, 12, 8, 0))
    try:
        w.people(3, ["deportes"])
        w.people(2)
        with w.store.write() as session:
            for n in range(300):
                session.add(SubscriberRow(phone=f"3462{n:07d}", topics=["Cultura"],
                                          created_at=w.clock.now(), opted_in_at=w.clock.now()))
        w.routines.tick()
        w.clock.advance(minutes=1)
        w.item("Gol", ["deportes"])
        w.clock.advance(minutes=1)
        w.item("Teatro", ["cultura"], priority=True)
        w.clock.set(_madrid(2026, 10, 12, 9, 30))
        reports = {r.routine: r for r in w.routines.tick()}
        assert reports["urgente"].stats.planned == 302, "breaking news first: cultura + all topics"
        assert reports["mañanas"].stats.planned == 5, "the digest gets what is left: Gol"
        assert w.send() == 252, "250 people; the 2 with no topics also get the digest"
        assert len({s.message.phone for s in RecordingSink.sent}) == 250
        waiting = [d for d in w.deliveries() if d.status == "planned"]
        assert len(waiting) == 55 and {d.due_at for d in waiting} == {_madrid(2026, 10, 13, 9, 30)}
        assert all(d.reason.startswith("messaging limit: 250") for d in waiting)
        w.clock.set(_madrid(2026, 10, 13, 23, 0))
        w.item("De noche", ["cultura"], priority=True)
        w.clock.set(_madrid(2026, 10, 14, 0, 0))
        w.routines.tick()
        assert w.send() == 0, "quiet hours"
        w.clock.set(_madrid(2026, 10, 14, 8, 0))
        morning = w.send()
        people = {s.message.phone for s in RecordingSink.sent[-morning:]}
        assert morning > 250 and len(people) == 250, "a new window: 250 people again, no more"
        texts = [s.message.text for s in RecordingSink.sent]
        assert all(t.startswith(("*Teatro*", "*Gol*", "*De noche*")) for t in texts)
        with w.store.read() as session:
            assert len(list(session.exec(select(SubscriberRow)))) == 305
    finally:
        w.close()
