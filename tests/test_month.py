"""A simulated month of the hub, on an injected clock, checked the way a subscriber would.

Three sources (one site's feed, the same site's web API republishing its stories with tracking
parameters, and an agenda that repeats itself), two routines (a digest every two days at 09:00
Madrid, and breaking news every two hours), 300 subscribers over three topics, stories
arriving at random hours (also at night, in quiet hours), the October DST change, and the daemon
stopped over one 09:00 run and started again. The config says nothing about caps: the calm
defaults (2 a day, 2 hours apart, quiet 22:00-08:00) must hold by themselves.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select

from hub.audience.consent import record_opt_out
from hub.config import load_config
from hub.delivery.caps import Caps
from hub.delivery.send import dispatch_due
from hub.intake.pipeline import poll_once
from hub.news import NewsItem
from hub.plugins import load
from hub.routines import Routines
from hub.storage.store import Store
from hub.storage.tables import (
    ConsentEventRow,
    DeliveryRow,
    ItemRow,
    RoutineRunRow,
    RoutineStateRow,
    SubscriberRow,
)
from hub.timekeeping.clock import FakeClock
from tests.backend import sqlite_only
from tests.policy_helpers import PolicyTestPlugin, RecordingSink, ScriptedSource

MADRID = ZoneInfo("Europe/Madrid")
START = datetime(2026, 10, 10, 0, 0, tzinfo=MADRID).astimezone(UTC)
DAYS = 30
STEP = timedelta(hours=1)  # one tick an hour: hub run ticks more often, the rules are the same
PEOPLE = 300  # enough for every topic mix; each promise is checked per person
TOPICS = ["deportes", "cultura", "municipal"]
CATEGORY = {"deportes": "Deportes", "cultura": "Agenda cultural", "municipal": "Ayuntamiento"}

CONFIG = """
[hub]
database_url = "sqlite:///month.db"
timezone = "Europe/Madrid"
sink = "recording"

[[sources]]
type = "scripted"
name = "diario"
every = "1 hour"

[[sources]]
type = "scripted"
name = "web"
every = "1 hour"

[[sources]]
type = "scripted"
name = "agenda"
every = "1 hour"

[[filters]]
type = "dedup"

[[filters]]
type = "relevance"
exclude = ["patrocinado"]
topics = { deportes = ["Deportes", "fútbol"], cultura = ["Agenda cultural"], municipal = ["Ayuntamiento"] }
priority_tags = ["urgente"]

[[filters]]
type = "guard"

[sinks.recording]

[[routines]]
name = "mañanas"
every = "2 days"
at = "09:00"
mode = "digest"
max_items = 3

[[routines]]
name = "urgente"
every = "2 hours"
priority_only = true
mode = "each"
max_items = 3
"""


def _story(rng: random.Random, number: int, at: datetime) -> dict:
    topic = rng.choice(TOPICS)
    return {
        "key": f"story-{number}", "at": at, "topic": topic,
        "title": f"Noticia {number}: {rng.choice(['Pleno', 'Concierto', 'Partido', 'Obras'])} "
                 f"{rng.choice(['del lunes', 'en la plaza', 'del sábado', 'del barrio'])} {number}",
        "urgent": rng.random() < 0.12, "sponsored": rng.random() < 0.05,
    }


def _script(seed: int = 7) -> tuple[dict[str, list[NewsItem]], dict[str, str]]:
    """Every source's items, and for each URL the story it tells (to spot repeats)."""
    rng = random.Random(seed)
    stories = []
    for n in range(8):  # already published before the hub starts watching
        stories.append(_story(rng, n, START - timedelta(hours=3 * (n + 1))))
    number = 8
    for day in range(DAYS):
        for _ in range(rng.randint(2, 5)):
            minute = rng.randrange(24 * 60)  # any hour, quiet hours included
            stories.append(_story(rng, number, START + timedelta(days=day, minutes=minute)))
            number += 1
    stories.sort(key=lambda s: s["at"])
    script: dict[str, list[NewsItem]] = {"diario": [], "web": [], "agenda": []}
    story_of_url: dict[str, str] = {}

    def add(source: str, guid: str, url: str, story: dict, at: datetime, title: str | None = None) -> None:
        tags = [CATEGORY[story["topic"]]] + (["urgente"] if story["urgent"] else [])
        summary = "Contenido patrocinado." if story["sponsored"] else f"Resumen de {story['key']}."
        script[source].append(NewsItem(source=source, guid=guid, url=url, canonical_url=_canon(url),
                                       title=title or story["title"], summary=summary, tags=tags,
                                       published_at=at))
        story_of_url[url] = story["key"]

    for s in stories:
        url = f"https://villa.example.org/{s['key']}/"
        add("diario", f"diario-{s['key']}", url, s, s["at"])
        if rng.random() < 0.5:  # the site's web API republishes it, tracked, a little later
            later = s["at"] + timedelta(minutes=rng.randrange(5, 90))
            add("web", f"wp-{s['key']}", url + "?utm_source=wp&utm_medium=api", s, later)
        if rng.random() < 0.15:  # the agenda copies the title under its own link
            later = s["at"] + timedelta(hours=rng.randrange(1, 30))
            add("agenda", f"agenda-{s['key']}", f"https://agenda.example.org/e/{s['key']}", s, later,
                title=s["title"].upper())
    for source in script:
        script[source].sort(key=lambda i: i.published_at)
    return script, story_of_url


def _canon(url: str) -> str:
    from hub.text import canonical_url

    return canonical_url(url)


@pytest.fixture
def month_plugin() -> Iterator[PolicyTestPlugin]:
    plugin = PolicyTestPlugin()
    yield plugin
    ScriptedSource.script, RecordingSink.sent, RecordingSink.clock = {}, [], None


class Daemon:
    """What ``hub run`` does each tick: poll what is due, run due routines, send what is due."""

    def __init__(self, path: Path, plugin: object, clock: FakeClock) -> None:
        self.pm, self.registry = load([plugin])
        self.plugin = plugin
        self.config = load_config(path, self.registry)
        self.store = Store(self.config.database_url)
        self.clock = clock
        self.routines = Routines(self.config, self.store, clock)
        self.caps = Caps.from_config(self.config)
        sink_type = self.registry.get("sinks", "recording")
        assert sink_type is not None
        self.sink = sink_type.cls(sink_type.cls.Options())
        self.client = httpx.AsyncClient()  # one per daemon, as `hub run` keeps one

    def tick(self) -> None:
        asyncio.run(poll_once(self.config, self.store, self.registry, clock=self.clock,
                              client=self.client))
        self.routines.tick()
        asyncio.run(dispatch_due(self.store, self.sink, self.clock, caps=self.caps))

    def stop(self) -> None:
        self.store.dispose()
        self.pm.unregister(self.plugin)


def _expected_slots(first_day: date, every_days: int, at: time, until: datetime) -> list[datetime]:
    slots, day = [], first_day
    while (moment := datetime.combine(day, at, MADRID).astimezone(UTC)) <= until:
        slots.append(moment)
        day += timedelta(days=every_days)
    return slots


@sqlite_only("a month of policy on an injected clock, 1,440 ticks: minutes of round trips on "
             "PostgreSQL; each promise it checks has its own test on both backends")
def test_a_month_of_news_keeps_every_promise(project: Path, month_plugin: PolicyTestPlugin) -> None:
    script, story_of_url = _script()
    ScriptedSource.script = script
    clock = FakeClock(START)
    RecordingSink.clock = clock
    path = project / "hub.toml"
    path.write_text(CONFIG, encoding="utf-8")

    daemon = Daemon(path, month_plugin, clock)
    rng = random.Random(11)
    with daemon.store.write() as session:  # an import of opted-in people, with proof
        for n in range(PEOPLE):
            topics = rng.sample(TOPICS, rng.choice([0, 1, 1, 2]))
            session.add(SubscriberRow(id=n + 1, phone=f"3460{n:07d}", topics=topics,
                                      created_at=clock.now(), opted_in_at=clock.now()))
        session.flush()
        session.add_all([ConsentEventRow(subscriber_id=n + 1, phone=f"3460{n:07d}", kind="opt_in",
                                         channel="import", at=clock.now()) for n in range(PEOPLE)])

    end = START + timedelta(days=DAYS)
    restart_slot = datetime(2026, 10, 28, 9, 0, tzinfo=MADRID).astimezone(UTC)
    leavers: dict[int, datetime] = {}
    while clock.now() < end:
        now = clock.now()
        if now == restart_slot:  # the daemon is down from 09:00 to 10:00, over the 09:00 run
            daemon.stop()
            clock.advance(minutes=60)
            daemon = Daemon(path, month_plugin, clock)
            continue
        if now == START + timedelta(days=15):  # 1 % leave mid-month: no brake
            with daemon.store.write() as session:
                for subscriber in session.exec(select(SubscriberRow).limit(PEOPLE // 100)):
                    record_opt_out(session, subscriber, now, channel="whatsapp", words="BAJA")
                    leavers[subscriber.id] = now
        daemon.tick()
        clock.advance(minutes=STEP.total_seconds() / 60)
    daemon.tick()

    sent = RecordingSink.sent
    print(f"{len(sent)} messages sent")
    assert len(sent) > 0.3 * PEOPLE * DAYS, "the month sent its digests and breaking news"
    phone_to_id = {}
    with daemon.store.read() as session:
        for s in session.exec(select(SubscriberRow)):
            phone_to_id[s.phone] = s.id
        runs = session.exec(select(RoutineRunRow).order_by(RoutineRunRow.id)).all()
        outcomes = Counter((d.status, (d.reason or "").split(":")[0])
                           for d in session.exec(select(DeliveryRow)))
        print("deliveries by outcome:", dict(outcomes))
        statuses = Counter(i.status for i in session.exec(select(ItemRow)))
    daemon.stop()

    per_day: Counter[tuple[str, date]] = Counter()
    stories: dict[str, list[str]] = defaultdict(list)
    last_sent: dict[str, datetime] = {}
    for record in sent:
        phone, local = record.message.phone, record.at.astimezone(MADRID)
        # Nothing in quiet hours (22:00-08:00 Madrid), whatever the arrival time.
        assert time(8) <= local.time() < time(22), f"sent at {local}"
        per_day[(phone, local.date())] += 1
        if phone in last_sent:
            assert record.at - last_sent[phone] >= timedelta(hours=2), "default minimum gap kept"
        last_sent[phone] = record.at
        for item in record.message.items:
            stories[phone].append(story_of_url[item["url"]])
        left = leavers.get(phone_to_id[phone])
        assert left is None or record.at < left, "nothing after BAJA"
    assert max(per_day.values()) <= 2, "never more than the daily cap"
    for phone, keys in stories.items():
        repeated = [k for k, n in Counter(keys).items() if n > 1]
        assert not repeated, f"{phone} got {repeated} twice"
    # Duplicates were recognised as such (web API copies, agenda's shouted titles), and the
    # backlog found on the first polls was recorded, not sent.
    assert statuses["dropped"] > 40 and statuses["seen"] >= 8 and statuses["held"] == 0

    # Every routine ran exactly on schedule: each slot once, none skipped, none repeated.
    by_routine: dict[str, list[RoutineRunRow]] = defaultdict(list)
    for run in runs:
        by_routine[run.routine].append(run)
    mananas = by_routine["mañanas"]
    expected = _expected_slots(date(2026, 10, 10), 2, time(9, 0), end)
    assert [r.scheduled_for for r in mananas] == expected
    assert all(r.status == "done" for r in mananas)
    assert {r.scheduled_for.astimezone(MADRID).time() for r in mananas} == {time(9, 0)}
    assert {r.scheduled_for.hour for r in mananas} == {7, 8}, "UTC hour moves with DST"
    for run in mananas:
        late = run.started_at - run.scheduled_for
        assert late == (timedelta(minutes=60) if run.scheduled_for == restart_slot else timedelta(0))
    urgent = by_routine["urgente"]
    expected_urgent = sorted({
        datetime.combine(START.astimezone(MADRID).date() + timedelta(days=d), time(h), MADRID)
        .astimezone(UTC) for d in range(DAYS + 1) for h in range(0, 24, 2)
    })
    expected_urgent = [s for s in expected_urgent if START < s <= end]
    assert [r.scheduled_for for r in urgent] == expected_urgent
    assert all(r.status == "done" for r in urgent)
    # The month did put the rules to work: news planned at night waited for the morning, and
    # the daily cap held messages back.
    night_runs = [r for r in urgent if r.planned and not time(8) <= r.scheduled_for.astimezone(MADRID)
                  .time() < time(22)]
    assert night_runs, "some breaking news was planned inside quiet hours"
    assert outcomes[("skipped", "cap")] > 0


WEEKLY = """
[hub]
database_url = "sqlite:///weekly.db"
timezone = "Europe/Madrid"
sink = "recording"

[[sources]]
type = "scripted"
name = "diario"
every = "1 hour"

[sinks.recording]

[[routines]]
name = "semanal"
every = "1 week"
at = "10:00"
mode = "digest"
max_items = 3
"""


def test_a_weekly_run_that_drives_people_away_is_paused_before_its_next_run(
        project: Path, month_plugin: PolicyTestPlugin) -> None:
    """Four weeks of a weekly digest, default caps; the third run makes 60 of 400 leave."""
    ScriptedSource.script = {"diario": [
        NewsItem(source="diario", guid=f"n{n}", url=f"https://villa.example.org/n{n}/",
                 title=f"Semana {n}", summary="Resumen.", tags=["Ayuntamiento"],
                 published_at=START + timedelta(days=7 * n, hours=2))
        for n in range(5)]}
    clock = FakeClock(START)
    RecordingSink.clock = clock
    path = project / "hub.toml"
    path.write_text(WEEKLY, encoding="utf-8")
    daemon = Daemon(path, month_plugin, clock)
    with daemon.store.write() as session:
        for n in range(400):
            session.add(SubscriberRow(id=n + 1, phone=f"3460{n:07d}", topics=[], created_at=clock.now(),
                                      opted_in_at=clock.now()))
    third_run = datetime(2026, 10, 24, 10, 0, tzinfo=MADRID).astimezone(UTC)
    paused_at: datetime | None = None
    while clock.now() < START + timedelta(days=29):
        daemon.tick()
        if clock.now() == third_run + timedelta(hours=4):  # the annoyed leave that afternoon
            with daemon.store.write() as session:
                for subscriber in session.exec(select(SubscriberRow).limit(60)):
                    record_opt_out(session, subscriber, clock.now(), channel="whatsapp", words="BAJA")
        if paused_at is None:
            with daemon.store.read() as session:
                state = session.get(RoutineStateRow, "semanal")
                paused_at = state.paused_at if state is not None else None
        clock.advance(minutes=STEP.total_seconds() / 60)
    with daemon.store.read() as session:
        runs = session.exec(select(RoutineRunRow).order_by(RoutineRunRow.id)).all()
    daemon.stop()
    assert [r.status for r in runs] == ["done", "done", "done", "missed", "missed"]
    assert "paused by the brake" in (runs[3].note or "")
    assert paused_at is not None and third_run + timedelta(hours=24) <= paused_at <= \
        third_run + timedelta(hours=25), "paused the day after the bad run, days before the next"
    sent_after = [r for r in RecordingSink.sent if r.at > third_run + timedelta(hours=1)]
    assert not sent_after, "nothing sent by the paused routine"
    local = [r.at.astimezone(MADRID) for r in RecordingSink.sent]
    assert local and all(time(8) <= t.time() < time(22) for t in local)
