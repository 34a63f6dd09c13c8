"""Each hook fires where its event happens, for any plugin: a third-party sink has the built-in
one's powers, and event hooks hear every path (webhook, CLI, import, dispatcher)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
from click.testing import CliRunner

import hub
from hub.audience.consent import record_opt_in
from hub.config import HubConfig
from hub.contracts import (
    Action,
    Drop,
    FetchContext,
    FetchResult,
    Filter,
    FilterContext,
    Keep,
    OutgoingMessage,
    Pacing,
    SendResult,
    Sink,
    Source,
    Verdict,
)
from hub.delivery import account
from hub.delivery.send import DispatchReport, dispatch_due
from hub.events import Events
from hub.news import NewsItem
from hub.plugins import HubPluginManager, load, make_manager
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, SubscriberRow
from hub.timekeeping.clock import FakeClock
from tests.backend import db_url
from tests.conftest import HubRunner, write_config

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class Listener:
    """A test plugin that notes every event hook call."""

    def __init__(self) -> None:
        self.people: list[tuple[str, str]] = []
        self.deliveries: list[tuple[int, str, str]] = []
        self.started: list[tuple[HubConfig, Store]] = []

    @hub.hookimpl
    def on_subscriber_change(self, subscriber: SubscriberRow, change: str) -> None:
        self.people.append((subscriber.phone, change))

    @hub.hookimpl
    def on_delivery_status(self, delivery: DeliveryRow, status: str) -> None:
        self.deliveries.append((delivery.id or 0, delivery.status, status))

    @hub.hookimpl
    def startup(self, config: HubConfig, store: Store) -> None:
        self.started.append((config, store))


# --- a third-party sink: it speaks for its API, the dispatcher obeys ---------------------------

class ScriptedSink(Sink):
    """Answers each send with the next result of ``script`` (then success)."""

    script: ClassVar[list[SendResult]] = []
    calls: ClassVar[list[OutgoingMessage]] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.calls.append(message)
        if self.script:
            return self.script.pop(0)
        return SendResult(ok=True, message_id=f"sms.{message.delivery_id}")

    def pacing(self) -> Pacing:
        return Pacing(concurrency=1, recipient_gap=timedelta(seconds=6), max_attempts=4)


class SmsPlugin:
    @hub.hookimpl
    def register_sinks(self, register: Any) -> None:
        register("sms", ScriptedSink)


class SinkWorld:
    def __init__(self, tmp_path: Path) -> None:
        self.listener = Listener()
        pm, registry = load([SmsPlugin(), self.listener])
        registered = registry.get("sinks", "sms")
        assert registered is not None and issubclass(registered.cls, Sink)
        self.sink = registered.cls(registered.cls.Options())
        self.clock = FakeClock(START)
        self.store = Store(db_url(tmp_path / "hub.db"))
        self.store.events = Events(pm)
        ScriptedSink.script, ScriptedSink.calls = [], []

    def plan(self, phone: str) -> int:
        with self.store.write() as session:
            person = record_opt_in(session, phone, self.clock.now(), channel="cli", note="test")
            row = DeliveryRow(key=f"t:{phone}", subscriber_id=person.id or 0, created_at=self.clock.now(),
                              due_at=self.clock.now(), body={"kind": "item", "text": "Hola", "items": []})
            session.add(row)
            session.flush()
            return row.id or 0

    def dispatch(self) -> DispatchReport:
        return asyncio.run(dispatch_due(self.store, self.sink, self.clock))

    def row(self, delivery_id: int) -> DeliveryRow:
        with self.store.read() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None
            return row


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SinkWorld]:
    world = SinkWorld(tmp_path)
    yield world
    world.store.dispose()


def test_a_third_party_sink_makes_only_its_person_wait(world: SinkWorld) -> None:
    waiting, other = world.plan("34600000001"), world.plan("34600000002")
    ScriptedSink.script = [SendResult(ok=False, error_code=429, action=Action.WAIT_PERSON)]
    report = world.dispatch()
    assert (report.sent, report.retrying, report.failed) == (1, 1, 0)
    row = world.row(waiting)
    assert row.status == "planned" and row.next_try_at == START + timedelta(seconds=6)
    assert world.row(other).status == "sent"
    world.clock.advance(seconds=6)
    assert world.dispatch().sent == 1 and world.row(waiting).status == "sent"


def test_a_third_party_sink_can_pause_all_sending_and_a_probe_resumes_it(world: SinkWorld) -> None:
    first, second = world.plan("34600000001"), world.plan("34600000002")
    ScriptedSink.script = [SendResult(ok=False, error_code=401, error_detail="bad key", action=Action.PAUSE)]
    report = world.dispatch()
    assert report.sent == 0 and report.failed == 0 and report.blocked
    with world.store.read() as session:
        assert account.current(session).state == "paused"
    assert {world.row(first).status, world.row(second).status} == {"planned"}  # nothing failed
    calls = len(ScriptedSink.calls)
    world.clock.advance(minutes=5)  # past the pause's next try
    assert world.dispatch().sent == 2  # the probe went through: sending resumed
    assert len(ScriptedSink.calls) == calls + 2


def test_a_third_party_sink_can_ask_for_the_template_once(world: SinkWorld) -> None:
    delivery = world.plan("34600000001")
    ScriptedSink.script = [SendResult(ok=False, error_code=470, action=Action.TEMPLATE)]
    assert world.dispatch().sent == 1
    assert [m.force_template for m in ScriptedSink.calls] == [False, True]
    assert world.row(delivery).force_template


def test_a_failure_without_an_action_is_retried_then_fails_at_max_attempts(world: SinkWorld) -> None:
    delivery = world.plan("34600000001")
    ScriptedSink.script = [SendResult(ok=False, error_detail="flaky") for _ in range(4)]
    for _ in range(4):
        world.dispatch()
        world.clock.advance(hours=1)
    row = world.row(delivery)
    assert row.status == "failed" and row.attempts == 4


# --- on_delivery_status: every outcome, at send time too --------------------------------------

def test_plugins_hear_each_outcome_at_send_time(world: SinkWorld) -> None:
    sent, retried, failed = world.plan("34600000001"), world.plan("34600000002"), world.plan("34600000003")
    ScriptedSink.script = [SendResult(ok=True, message_id="sms.1"),
                           SendResult(ok=False, error_code=503, action=Action.RETRY),
                           SendResult(ok=False, error_code=400, action=Action.FAIL)]
    world.dispatch()
    assert sorted(world.listener.deliveries) == sorted([
        (sent, "sent", "sent"), (retried, "planned", "retrying"), (failed, "failed", "failed")])


def test_no_listener_no_rows_read(tmp_path: Path) -> None:
    """Without a plugin implementing the hook nothing is collected for it."""
    store = Store(db_url(tmp_path / "hub.db"))
    store.events = Events(make_manager([]))
    with store.write() as session:
        assert "hub.events.pending" not in session.info
    store.dispose()


# --- on_subscriber_change: the CLI and an import alike ----------------------------------------

def _project(project: Path) -> Path:
    return write_config(project / "hub.toml", '[hub]\ndatabase_url = "sqlite:///hub.db"\n')


def test_plugins_hear_people_change_from_the_cli_and_an_import(project: Path) -> None:
    listener = Listener()
    run = HubRunner(_project(project), extra_plugins=[listener])
    (project / "people.csv").write_text("number,name\n+34612000001,Ana\n+34612000002,Luis\n")
    assert run("subscribers", "import", str(project / "people.csv"), "--consent", "form").exit_code == 0
    assert run("subscribers", "add", "+34612000003", "--consent", "form").exit_code == 0
    assert run("subscribers", "tag", "+34612000003", "cultura").exit_code == 0
    assert run("subscribers", "remove", "+34612000001").exit_code == 0
    assert run("subscribers", "forget", "+34612000002", "--yes").exit_code == 0
    assert [change for _, change in listener.people] == [
        "subscribed", "subscribed", "subscribed", "topics", "unsubscribed", "forgotten"]
    assert listener.people[0][0] == "34612000001"


def test_an_import_that_fails_tells_plugins_nothing(project: Path) -> None:
    listener = Listener()
    run = HubRunner(_project(project), extra_plugins=[listener])
    (project / "people.csv").write_text("+34612000001\nnot a number\n")
    assert run("subscribers", "import", str(project / "people.csv"), "--consent", "form").exit_code != 0
    assert listener.people == []


# --- startup, register_filters, register_commands ---------------------------------------------

def test_startup_fires_once_with_the_config_and_the_open_store(project: Path) -> None:
    listener = Listener()
    run = HubRunner(_project(project), extra_plugins=[listener])
    assert run("subscribers", "list").exit_code == 0
    [(config, store)] = listener.started
    assert config.path == project / "hub.toml" and isinstance(store, Store)


class TwoStories(Source):
    async def fetch(self, ctx: FetchContext) -> FetchResult:
        return FetchResult([NewsItem(source=self.name, guid="1", title="Pleno municipal"),
                            NewsItem(source=self.name, guid="2", title="Oferta patrocinado")])


class NoSponsored(Filter):
    def check(self, item: NewsItem, ctx: FilterContext) -> Verdict:
        return Drop("sponsored") if "patrocinado" in item.title else Keep(item)


class NewsPlugin:
    @hub.hookimpl
    def register_sources(self, register: Any) -> None:
        register("two", TwoStories)

    @hub.hookimpl
    def register_filters(self, register: Any) -> None:
        register("no_sponsored", NoSponsored)


def test_a_plugin_filter_drops_what_it_says(project: Path) -> None:
    write_config(project / "hub.toml", '[hub]\ndatabase_url = "sqlite:///hub.db"\n'
                 '[[sources]]\ntype = "two"\nname = "t"\n[[filters]]\ntype = "no_sponsored"\n')
    run = HubRunner(project / "hub.toml", extra_plugins=[NewsPlugin()])
    result = run("poll", "--once")
    assert "t: 2 fetched, 1 new" in result.output, result.output


class Greeter:
    @hub.hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command()
        def hello() -> None:
            click.echo("hola")


def test_a_plugin_adds_a_command() -> None:
    pm: HubPluginManager = make_manager([Greeter()])
    group = click.Group("hub")
    pm.hook.register_commands(cli=group)
    assert CliRunner().invoke(group, ["hello"]).output == "hola\n"
