"""Routines and caps as an admin and a subscriber see them: the CLI, the schedule, the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from hub.audience.consent import record_opt_in, record_opt_out
from hub.config import load_config
from hub.delivery.caps import Caps
from hub.delivery.send import dispatch_due
from hub.plugins import load
from hub.routines import Routines
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, ItemRow, RoutineRunRow, SubscriberRow
from hub.timekeeping.clock import FakeClock
from tests.backend import Db, db_url, open_db
from tests.conftest import write_config
from tests.policy_helpers import PolicyTestPlugin, RecordingSink

MADRID = ZoneInfo("Europe/Madrid")


def _madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID).astimezone(UTC)


def _toml(caps: str = "", routines: str | None = None) -> str:
    routines = routines if routines is not None else (
        '[[routines]]\nname = "mañanas"\nevery = "1 day"\nat = "09:30"\nmode = "digest"\n'
        'max_items = 2\nheading = "Buenos días"\n\n'
        '[[routines]]\nname = "urgente"\nevery = "1 hour"\npriority_only = true\nmode = "each"\n')
    return ('[hub]\ndatabase_url = "sqlite:///hub.db"\ntimezone = "Europe/Madrid"\n\n'
            '[[filters]]\ntype = "dedup"\n\n'
            f'[caps]\n{caps}\n[sinks.console]\n\n{routines}')


class World:
    """A store, a config and routines on a fake clock, with items and people added directly."""

    def __init__(self, project: Path, toml: str, start: datetime) -> None:
        self.plugin = PolicyTestPlugin()
        self.pm, registry = load([self.plugin])
        self.registry = registry
        path = write_config(project / "hub.toml", toml)
        self.config = load_config(path, registry)
        self.store = Store(self.config.database_url)
        self.clock = FakeClock(start)
        RecordingSink.clock, RecordingSink.sent = self.clock, []
        self.routines = Routines(self.config, self.store, self.clock)
        self.caps = Caps.from_config(self.config)
        self.sink = RecordingSink(RecordingSink.Options())

    def people(self, count: int, topics: list[str] | None = None) -> None:
        with self.store.write() as session:
            for n in range(count):
                record_opt_in(session, f"34611{len(self._phones()) + n:06d}", self.clock.now(),
                              channel="import", topics=topics or [])

    def _phones(self) -> list[str]:
        with self.store.read() as session:
            return list(session.exec(select(SubscriberRow.phone)))

    def item(self, title: str, tags: list[str] | None = None, priority: bool = False) -> int:
        now = self.clock.now()
        with self.store.write() as session:
            row = ItemRow(source="diario", guid=title, url=f"https://villa.example.org/{len(title)}/",
                          title=title, tags=tags or [], priority=priority, status="ready",
                          published_at=now, fetched_at=now, ready_at=now)
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def send(self) -> int:
        before = len(RecordingSink.sent)
        asyncio.run(dispatch_due(self.store, self.sink, self.clock, caps=self.caps))
        return len(RecordingSink.sent) - before

    def deliveries(self) -> list[DeliveryRow]:
        with self.store.read() as session:
            return list(session.exec(select(DeliveryRow).order_by(DeliveryRow.id)))

    def close(self) -> None:
        self.store.dispose()
        self.pm.unregister(self.plugin)
        RecordingSink.clock, RecordingSink.sent = None, []


@pytest.fixture
def world(project: Path) -> Iterator[World]:
    made: list[World] = []

    def make(toml: str, start: datetime) -> World:
        made.append(World(project, toml, start))
        return made[-1]

    yield make  # type: ignore[misc]
    for w in made:
        w.close()


def test_digest_is_fixed_at_plan_time_and_matches_topics(world) -> None:
    w = world(_toml(), _madrid(2026, 10, 12, 8, 0))
    w.people(2, ["deportes"])
    w.people(1, ["cultura"])
    w.people(1)  # no topics: everything
    w.routines.tick()  # first sight: schedules 09:30
    for title, tags in (("Gol en el último minuto", ["Deportes"]), ("Concierto en la plaza", ["cultura"]),
                        ("Mercadillo", ["otros"])):
        w.clock.advance(minutes=1)
        w.item(title, tags)
    w.clock.set(_madrid(2026, 10, 12, 9, 30))
    [report] = [r for r in w.routines.tick() if r.routine == "mañanas"]
    assert report.status == "done" and report.stats.recipients == 4
    with w.store.write() as session:  # an editor fixes a title after planning
        for row in session.exec(select(ItemRow)):
            row.title = "CAMBIADO"
    assert w.send() == 4
    texts = {s.message.phone: s.message.text for s in RecordingSink.sent}
    assert all("CAMBIADO" not in t for t in texts.values())
    sports_fan = texts["34611000000"]
    assert "Gol en el último minuto" in sports_fan and "Concierto" not in sports_fan
    everything = texts["34611000003"]
    assert everything.startswith("*Buenos días*"), "max_items = 2, newest first, as a digest"
    assert "Mercadillo" in everything and "Concierto" in everything and "Gol" not in everything
    assert texts["34611000002"].startswith("*Concierto en la plaza*"), "one story: no digest heading"


def test_quiet_hours_hold_a_run_until_morning(world) -> None:
    routines = '[[routines]]\nname = "noche"\nevery = "1 day"\nat = "23:00"\nmode = "each"\n'
    w = world(_toml('quiet_hours = "22:00-08:00"\n', routines), _madrid(2026, 10, 12, 20, 0))
    w.people(3)
    w.routines.tick()
    w.item("Aviso de tormenta")
    w.clock.set(_madrid(2026, 10, 12, 23, 0))
    [report] = w.routines.tick()
    assert report.stats.waiting_quiet == 3
    assert w.send() == 0
    w.clock.set(_madrid(2026, 10, 13, 7, 59))
    assert w.send() == 0
    w.clock.set(_madrid(2026, 10, 13, 8, 0))
    assert w.send() == 3


def test_daily_cap_and_gap_hold_across_routines(world) -> None:
    w = world(_toml('per_subscriber_per_day = 2\nmin_gap = "2 hours"\n'), _madrid(2026, 10, 12, 8, 0))
    w.people(1)
    w.routines.tick()
    for n in range(3):
        w.item(f"Urgente {n}", ["urgente"], priority=True)
    w.clock.set(_madrid(2026, 10, 12, 9, 0))
    w.routines.tick()  # urgente, each: two items in one run, so the second waits for the gap
    assert w.send() == 1
    w.clock.set(_madrid(2026, 10, 12, 9, 30))
    w.item("Noticia del día", ["local"])
    w.routines.tick()  # mañanas: a third message today is over the cap
    statuses = [(d.status, d.reason) for d in w.deliveries()]
    assert ("skipped", "cap: 2 message(s) per day") in statuses
    w.clock.set(_madrid(2026, 10, 12, 11, 0))
    assert w.send() == 1
    w.clock.set(_madrid(2026, 10, 12, 21, 0))
    assert w.send() == 0
    sent = [s.at for s in RecordingSink.sent]
    assert sent[1] - sent[0] >= timedelta(hours=2)


def test_messaging_limit_lets_the_rest_wait_for_the_next_window(world) -> None:
    w = world(_toml('messaging_limit = 250\nper_subscriber_per_day = 5\nmin_gap = "none"\n'),
              _madrid(2026, 10, 12, 8, 0))
    with w.store.write() as session:
        for n in range(300):
            session.add(SubscriberRow(phone=f"3462{n:07d}", created_at=w.clock.now(),
                                      opted_in_at=w.clock.now()))
    w.routines.tick()
    w.item("Urgente", ["x"], priority=True)
    w.clock.set(_madrid(2026, 10, 12, 9, 0))
    w.routines.tick()
    assert w.send() == 250
    waiting = [d for d in w.deliveries() if d.status == "planned"]
    assert len(waiting) == 50 and all("messaging limit" in d.reason for d in waiting)
    assert {d.due_at for d in waiting} == {_madrid(2026, 10, 13, 9, 0)}
    w.clock.set(_madrid(2026, 10, 12, 20, 0))
    w.item("Otra urgente", ["x"], priority=True)
    shown = w.routines.preview("urgente")
    assert (shown.ceiling_used, shown.stats.recipients, shown.ceiling_wait) == (250, 300, 50)
    w.routines.tick()
    assert w.send() == 250, "people reached in the last 24 h may get more; new ones may not"
    w.clock.set(_madrid(2026, 10, 13, 9, 0))
    assert w.send() == 0, "the 250 reached at 20:00 still fill the moving window"
    assert {d.due_at for d in w.deliveries() if d.status == "planned"} == {_madrid(2026, 10, 13, 20, 0)}
    w.clock.set(_madrid(2026, 10, 13, 20, 0))
    assert w.send() == 100, "the 50 who waited get both stories"
    assert len({s.message.phone for s in RecordingSink.sent[-100:]}) == 50


def test_someone_who_left_gets_nothing_already_planned(world) -> None:
    w = world(_toml(), _madrid(2026, 10, 12, 8, 0))
    w.people(2)
    w.routines.tick()
    w.item("Noticia")
    w.clock.set(_madrid(2026, 10, 12, 9, 30))
    w.routines.tick()
    with w.store.write() as session:
        first = session.exec(select(SubscriberRow).order_by(SubscriberRow.id)).first()
        record_opt_out(session, first, w.clock.now(), channel="whatsapp", words="BAJA")
    assert w.send() == 1
    assert ("skipped", "opted out") in [(d.status, d.reason) for d in w.deliveries()]


def test_restart_after_grace_skips_and_logs(world, caplog) -> None:
    w = world(_toml(routines='[[routines]]\nname = "mañanas"\nat = "09:30"\ngrace = "1 hour"\n'),
              _madrid(2026, 10, 12, 8, 0))
    w.routines.tick()
    w.clock.set(_madrid(2026, 10, 14, 10, 0))  # down for two days; today's run is 30 min late
    reports = w.routines.tick()
    assert [(r.status, r.scheduled_for) for r in reports] == [
        ("missed", _madrid(2026, 10, 12, 9, 30)), ("missed", _madrid(2026, 10, 13, 9, 30)),
        ("done", _madrid(2026, 10, 14, 9, 30))]
    w.clock.set(_madrid(2026, 10, 15, 11, 0))  # down again, 90 min past the slot: beyond grace
    [missed] = w.routines.tick()
    assert missed.status == "missed" and "more than 1 hour late" in missed.note
    assert "run of 2026-10-15 09:30 CEST skipped" in caplog.text
    assert w.routines.tick() == [], "a tick right after does nothing more"
    [status] = w.routines.status()
    assert status.next_run_at == _madrid(2026, 10, 16, 9, 30)


# -- the CLI ---------------------------------------------------------------------------------


def _cli_world(hub_cli, project) -> Db:
    write_config(hub_cli.config, _toml('per_subscriber_per_day = 1\n'))
    assert hub_cli("check").exit_code == 0
    now = datetime.now(UTC)
    store = Store(db_url(project / 'hub.db'))
    with store.write() as session:
        for n, topics in enumerate([["deportes"], ["cultura"], []]):
            record_opt_in(session, f"3463000000{n}", now, channel="import", topics=topics)
        for title, tags in (("Gol", ["deportes"]), ("Teatro", ["cultura"])):
            session.add(ItemRow(source="diario", guid=title, title=title, url=f"https://x.org/{title}",
                                tags=tags, status="ready", fetched_at=now, ready_at=now, published_at=now))
    store.dispose()
    db = open_db(project / "hub.db")
    return db


def test_routines_list_preview_and_run(hub_cli, project) -> None:
    db = _cli_world(hub_cli, project)
    listed = hub_cli("routines")
    assert listed.exit_code == 0, listed.output
    assert "mañanas: every 1 day at 09:30, digest, up to 2 item(s)" in listed.output
    assert "urgente: every 1 hour, each, up to 3 item(s), priority only" in listed.output
    assert "09:30 CE" in listed.output

    counts = lambda: db.execute("SELECT (SELECT count(*) FROM deliveries), "  # noqa: E731
                                "(SELECT count(*) FROM routine_runs)").fetchone()
    preview = hub_cli("preview", "mañanas")
    assert preview.exit_code == 0, preview.output
    assert "Items (2):" in preview.output and "Gol" in preview.output
    assert "Recipients: 3" in preview.output
    assert "deportes: 1" in preview.output and "(all topics): 1" in preview.output
    assert "*Buenos días*" in preview.output, "the rendered digest is shown"
    assert counts() == (0, 0), "a preview writes nothing"

    ran = hub_cli("routines", "run", "mañanas")
    assert ran.exit_code == 0, ran.output
    assert "2 item(s), 3 message(s) planned for 3 subscriber(s)" in ran.output
    assert counts() == (3, 1)
    again = hub_cli("routines", "run", "mañanas")
    assert "no new items since the last run" in again.output
    assert hub_cli("preview").exit_code == 0

    unknown = hub_cli("routines", "run", "tardes")
    assert unknown.exit_code == 1 and "no routine named 'tardes'" in unknown.output
    assert "Traceback" not in unknown.output


@pytest.mark.parametrize(("toml", "path", "expected"), [
    ('[[routines]]\nname = "a"\nat = "25:00"\n', "routines[0].at", "not a time of day"),
    ('[[routines]]\nname = "a"\nevery = "36 hours"\n', "routines[0].every", "whole days"),
    ('[[routines]]\nname = "a"\nweekdays = ["funday"]\n', "routines[0].weekdays", "not a weekday"),
    ('[[routines]]\nname = "a"\nevery = "2 days"\nweekdays = ["mon"]\n', "routines[0].weekdays",
     "cannot be combined"),
    ('[[routines]]\nname = "a"\n[[routines]]\nname = "a"\n', "routines[1].name", "already used"),
    ('[[routines]]\nname = "a"\nmode = "burst"\n', "routines[0].mode", "'digest' or 'each'"),
    ('[caps]\nquiet_hours = "22-08"\n', "caps.quiet_hours",
     "not a time of day"),
    ('[caps]\nmessaging_limit = 300\n', "caps.messaging_limit",
     "not a WhatsApp messaging limit"),
    ('[[filters]]\ntype = "relevance"\nmax_age = "old"\n', "filters[0].max_age", "not an interval"),
    ('[[filters]]\ntype = "dedup"\nbackfill = -1\n', "filters[0].backfill", "greater than or equal"),
])
def test_policy_config_mistakes_name_their_key(hub_cli, toml, path, expected) -> None:
    write_config(hub_cli.config, toml)
    result = hub_cli("check")
    assert result.exit_code == 1, result.output
    assert f"{path}: " in result.output and expected in result.output, result.output
    assert "Traceback" not in result.output


def test_run_rows_record_what_was_chosen(world) -> None:
    w = world(_toml(), _madrid(2026, 10, 12, 8, 0))
    w.people(1)
    w.routines.tick()
    ids = []
    for n in range(4):
        w.clock.advance(minutes=1)
        ids.append(w.item(f"Noticia {n}"))
    w.clock.set(_madrid(2026, 10, 12, 9, 30))
    w.routines.tick()
    with w.store.read() as session:
        run = session.exec(select(RoutineRunRow).where(RoutineRunRow.routine == "mañanas")).one()
    assert run.item_ids == [ids[3], ids[2]] and sorted(run.passed_over) == ids[:2]


def test_driver_fast_path_stores_what_the_orm_would(world) -> None:
    """The raw SQLite path and the SQLAlchemy Core path (PostgreSQL's) write identical rows."""
    from hub.delivery.plan import RunPlan, plan_run

    w = world(_toml('per_subscriber_per_day = 1\nquiet_hours = "22:00-08:00"\n'),
              _madrid(2026, 10, 12, 23, 0))
    w.people(3, ["cultura"])
    w.people(2)
    w.item("Teatro", ["Cultura"])
    w.item("Fútbol", ["deportes"])
    with w.store.write() as session:
        items = list(session.exec(select(ItemRow).order_by(ItemRow.id)))
        for run_id, fast in ((1, True), (2, False)):
            plan = RunPlan(routine="r", run_id=run_id, mode="digest", items=items, now=w.clock.now(),
                           caps=w.caps)
            plan_run(session, plan, driver_fast_path=fast)
    rows = w.deliveries()
    fast = {d.subscriber_id: d for d in rows if d.run_id == 1}
    core = {d.subscriber_id: d for d in rows if d.run_id == 2}
    assert len(fast) == len(core) == 5
    for subscriber_id, d in fast.items():
        other = core[subscriber_id]
        assert (d.body, d.created_at, d.routine) == (other.body, other.created_at, other.routine)
        assert d.status == "planned" and d.due_at == _madrid(2026, 10, 13, 8, 0), "after quiet hours"
        assert other.status == "skipped", "the first run's rows count against the daily cap"
    assert fast[1].body["kind"] == "item" and fast[5].body["kind"] == "digest"
    with w.store.read() as session:  # rows written raw are found by the ORM's own comparisons
        due = session.exec(select(DeliveryRow).where(DeliveryRow.due_at == _madrid(2026, 10, 13, 8, 0)))
        assert len(list(due)) == 10, "both paths store the same text for the same time"


def test_a_digest_sent_as_a_template_carries_its_heading_and_every_title(world) -> None:
    """Planned by a routine, sent outside the window: {heading} is the routine's, not "-"."""
    from hub.contracts import OutgoingMessage
    from whatsapp_news_hub_plugins.sinks.whatsapp import WhatsAppOptions, WhatsAppSink

    w = world(_toml(routines='[[routines]]\nname = "tardes"\nevery = "1 day"\nat = "19:00"\n'
                              'mode = "digest"\nmax_items = 5\nheading = "Buenas tardes"\n'),
              _madrid(2026, 10, 12, 18, 0))
    w.people(1)
    w.routines.tick()  # first sight: schedules 19:00
    titles = [f"Noticia {n}" for n in range(5)]
    for title in titles:
        w.item(title)
    w.clock.set(_madrid(2026, 10, 12, 19, 0))
    w.routines.tick()
    [row] = w.deliveries()
    sink = WhatsAppSink(WhatsAppOptions(
        phone_number_id="1234567890",
        digest_template={"name": "news_digest", "language": "es", "body": ["{heading}", "{titles}"],
                         "param_limit": 70}))
    built = sink.build(OutgoingMessage(delivery_id=row.id or 0, phone="34611000000", text=row.body["text"],
                                       items=row.body["items"], body=row.body, now=w.clock.now()))
    heading, listed = (p["text"] for p in built["template"]["components"][0]["parameters"])
    assert heading == "Buenas tardes"
    assert listed.count("Noticia") == 4 and listed.endswith(" · y 1 más") and len(listed) <= 70
    roomy = WhatsAppSink(WhatsAppOptions(
        phone_number_id="1234567890",
        digest_template={"name": "news_digest", "language": "es", "body": ["{heading}", "{titles}"]}))
    built = roomy.build(OutgoingMessage(delivery_id=row.id or 0, phone="34611000000", text=row.body["text"],
                                        items=row.body["items"], body=row.body, now=w.clock.now()))
    listed = built["template"]["components"][0]["parameters"][1]["text"]
    assert all(title in listed for title in titles) and "más" not in listed


def test_schedule_library_drives_the_ticks(world) -> None:
    """The daemon's `schedule` job ticks the routines; the slots themselves come from the store."""
    import schedule

    from hub.routines import attach

    w = world(_toml(), _madrid(2026, 10, 12, 9, 0))
    scheduler = schedule.Scheduler()
    job = attach(scheduler, w.routines, seconds=30)
    assert job.interval == 30 and job.unit == "seconds"
    scheduler.run_all()  # first sight: schedules without running
    w.clock.set(_madrid(2026, 10, 12, 9, 30))
    scheduler.run_all()
    with w.store.read() as session:
        runs = session.exec(select(RoutineRunRow.routine, RoutineRunRow.scheduled_for)).all()
    assert ("mañanas", _madrid(2026, 10, 12, 9, 30)) in runs


def test_a_batch_of_people_who_left_does_not_stop_the_sending(world) -> None:
    """120 who left come first in the outbox; the 30 still subscribed behind them are sent to."""
    w = world(_toml('per_subscriber_per_day = 3\n'), _madrid(2026, 10, 12, 8, 0))
    w.people(150)
    w.routines.tick()
    w.item("Noticia")
    w.clock.set(_madrid(2026, 10, 12, 9, 30))
    w.routines.tick()
    with w.store.write() as session:
        for person in session.exec(select(SubscriberRow).order_by(SubscriberRow.id).limit(120)):
            record_opt_out(session, person, w.clock.now(), channel="whatsapp", words="BAJA")
    assert w.send() == 30
    assert sum(d.reason == "opted out" for d in w.deliveries()) == 120


@pytest.mark.parametrize(("language", "heading", "footer"), [
    ("en", "*News digest*", "_Write STOP to stop receiving this news._"),
    ("es", "*Resumen de noticias*", "_Escribe BAJA para dejar de recibir estas noticias._"),
])
def test_a_routines_heading_and_footer_are_in_the_audiences_language(world, language: str, heading: str,
                                                                     footer: str) -> None:
    routines = (f'[audience]\nlanguage = "{language}"\n\n'
                '[[routines]]\nname = "mañanas"\nevery = "1 day"\nat = "09:30"\nmode = "digest"\n\n'
                '[[routines]]\nname = "urgente"\nevery = "1 hour"\nmode = "each"\nenabled = false\n')
    w = world(_toml(routines=routines), _madrid(2026, 10, 12, 8, 0))
    w.people(1)
    w.routines.tick()
    w.item("Pleno municipal")
    w.item("Corte de agua")
    w.clock.set(_madrid(2026, 10, 12, 9, 30))
    w.routines.tick()
    assert w.send() == 1
    [text] = [s.message.text for s in RecordingSink.sent]
    assert text.startswith(heading) and text.endswith(footer)
