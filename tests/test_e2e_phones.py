"""End to end with the simulator's phones: a person joins, picks topics, asks why, and leaves.

Every part is real: the Cloud API simulator on loopback plays the phone and posts signed webhooks
(inbound messages and sent/delivered/read statuses) to the hub's webhook app, served by uvicorn on
loopback with its replier; replies and news go out through the ``whatsapp`` sink pointed at the
simulator; the store is a SQLite file. One FakeClock is the time of the hub and of the simulator.
Waiting is only for real hand-offs between threads (a webhook posted, a reply sent), each polled
against a bounded deadline.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlmodel import select

from hub.app import App
from hub.commands.serve import webhook_app
from hub.delivery.plan import plan_each
from hub.delivery.send import dispatch_due
from hub.simulator import AcceptedMessage, SimulatorServer
from hub.storage.tables import ConsentEventRow, DeliveryRow, ItemRow, StatusEventRow, SubscriberRow
from hub.timekeeping.clock import FakeClock
from hub.web.asgi_server import serve_in_thread

T = TypeVar("T")
PHONE = "34611222333"
SECRET = "e2e-app-secret"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def wait_for(condition: Callable[[], T], what: str, timeout: float = 15.0) -> T:
    """Poll ``condition`` until it is truthy (a hand-off between threads), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.02)


@dataclass
class Phones:
    """The hub (webhook + replier + sink) and the simulator, wired to each other."""

    app: App
    server: SimulatorServer
    clock: FakeClock

    @property
    def sim(self) -> Any:
        return self.server.simulator

    def write(self, text: str) -> dict[str, Any]:
        """The phone sends ``text``; returns the inbound webhook the simulator posted."""
        return self.server.run(lambda: self.sim.inbound_text(PHONE, text, "Marta"))

    def tap_row(self, row_id: str, title: str, context: str) -> dict[str, Any]:
        return self.server.run(lambda: self.sim.tap_list_row(PHONE, row_id, title, context))

    def received(self) -> list[AcceptedMessage]:
        return self.sim.received_by(PHONE)

    def next_message(self, before: int, what: str) -> AcceptedMessage:
        """The first message the phone received after the ``before`` it had."""
        return wait_for(lambda: self.received()[before] if len(self.received()) > before else None, what)

    def person(self) -> SubscriberRow | None:
        with self.app.store.read() as session:
            return session.exec(select(SubscriberRow).where(SubscriberRow.phone == PHONE)).first()

    def deliveries(self) -> list[DeliveryRow]:
        with self.app.store.read() as session:
            return list(session.exec(select(DeliveryRow).order_by(DeliveryRow.id)).all())

    def delivery(self, delivery_id: int) -> DeliveryRow:
        with self.app.store.read() as session:
            row = session.get(DeliveryRow, delivery_id)
        assert row is not None
        return row

    def news(self, title: str, tags: list[str], due_in: timedelta = timedelta(0)) -> list[int]:
        """Plan one story as the routine «mañanas» would; returns the planned delivery ids."""
        now = self.clock.now()
        with self.app.store.write() as session:
            item = ItemRow(source="web", guid=title, url=f"https://villanueva.example.org/{len(title)}/",
                           title=title, summary="Lo contamos todo.", tags=tags, fetched_at=now)
            session.add(item)
            session.flush()
            plan_each(session, [item], now, routine="mañanas")
            rows = session.exec(select(DeliveryRow).where(DeliveryRow.item_id == item.id)).all()
            for row in rows:
                row.due_at = now + due_in
            return [r.id or 0 for r in rows]

    def dispatch(self) -> Any:
        return asyncio.run(dispatch_due(self.app.store, self.app.sink(), self.clock))


@pytest.fixture
def phones(tmp_path: Path, cloud_api_factory: Callable[..., SimulatorServer],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Phones]:
    clock = FakeClock(START)
    server = cloud_api_factory(clock=clock, read_share=1.0, app_secret=SECRET)
    monkeypatch.setenv("WHATSAPP_APP_SECRET", SECRET)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "e2e-verify")
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\ndatabase_url = "sqlite:///{tmp_path / "hub.db"}"\nsink = "whatsapp"\n\n'
        "[sinks.whatsapp]\n"
        f'phone_number_id = "{server.simulator.config.phone_number_id}"\n'
        f'base_url = "{server.base_url}"\ntimeout = 5\n'
        'template = { name = "news_update", language = "es", body = ["{title}", "{url}"] }\n\n'
        "[audience]\n"
        'topics = { deportes = "Deportes", cultura = "Cultura", obras = "Obras y tráfico" }\n',
        encoding="utf-8")
    app = App(config)
    with serve_in_thread(webhook_app(app, clock=clock)) as base_url:
        server.simulator.poster.url = f"{base_url}{app.config.webhook.path}"
        yield Phones(app, server, clock)
        server.drain_webhooks()
    app.store.dispose()


def _text(message: AcceptedMessage) -> str:
    payload = message.payload
    if message.type == "text":
        return payload["text"]["body"]
    return payload["interactive"]["body"]["text"]


def test_a_person_joins_picks_topics_asks_why_and_leaves(phones: Phones) -> None:
    # 1. ALTA with topics: consent recorded, the welcome arrives at the phone.
    alta = phones.write("ALTA deportes cultura")
    welcome = phones.next_message(0, "the welcome")
    person = phones.person()
    assert person is not None
    assert (person.status, sorted(person.topics or [])) == ("active", ["cultura", "deportes"])
    with phones.app.store.read() as session:
        [consent] = session.exec(select(ConsentEventRow)).all()
    assert (consent.kind, consent.channel, consent.words) == ("opt_in", "whatsapp", "ALTA deportes cultura")
    assert consent.message_id == alta["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert welcome.type == "text" and welcome.plus and "BAJA" in _text(welcome)
    assert welcome.payload["context"] == {"message_id": consent.message_id}
    [welcome_row] = phones.deliveries()
    assert welcome.callback == f"hub:delivery:{welcome_row.id}"

    # 2. TEMAS → an interactive list; a tap on a row changes the topics.
    phones.clock.advance(minutes=1)
    phones.write("TEMAS")
    listing = phones.next_message(1, "the topics list")
    assert listing.type == "interactive" and listing.payload["interactive"]["type"] == "list"
    rows = {r["id"]: r["title"] for s in listing.payload["interactive"]["action"]["sections"]
            for r in s["rows"]}
    assert {"hub:topic:deportes", "hub:topic:cultura", "hub:topic:obras"} <= set(rows)
    phones.clock.advance(minutes=1)
    phones.tap_row("hub:topic:deportes", rows["hub:topic:deportes"], listing.wamid)
    wait_for(lambda: (p := phones.person()) and p.topics == ["cultura"], "the topics to change")
    toggled = _text(phones.next_message(2, "the answer to the tap"))
    assert "Cultura" in toggled and "Deportes" not in toggled

    # 3. A story for their topic reaches the phone; ¿POR QUÉ? explains it.
    phones.clock.advance(minutes=1)
    seen = len(phones.received())
    [story_id] = phones.news("Concierto de primavera en la plaza", ["cultura"])
    assert phones.news("El equipo local asciende", ["deportes"]) == []  # topic just dropped
    phones.dispatch()  # (or the webhook's replier, waking on its own: claims make it either, never both)
    story = wait_for(lambda: [m for m in phones.received()[seen:] if "Concierto" in _text(m)], "the story")[0]
    assert story.callback == f"hub:delivery:{story_id}"
    wait_for(lambda: phones.delivery(story_id).status == "read", "the story's read receipt")
    phones.clock.advance(hours=2)
    seen = len(phones.received())
    phones.write("¿POR QUÉ?")
    why = _text(phones.next_message(seen, "the why answer"))
    assert "«Concierto de primavera en la plaza»" in why and "rutina «mañanas»" in why
    assert "Cultura" in why

    # 4. A story planned for later, then BAJA: the confirmation arrives, the story never does.
    phones.clock.advance(minutes=1)
    [later_id] = phones.news("Corte de agua el jueves", ["cultura"], due_in=timedelta(minutes=30))
    seen = len(phones.received())
    phones.write("BAJA")
    goodbye = phones.next_message(seen, "the unsubscribe confirmation")
    assert goodbye.type == "interactive" and "no recibirás más" in _text(goodbye)
    assert [b["reply"]["id"] for b in goodbye.payload["interactive"]["action"]["buttons"]] == [
        "hub:weekly", "hub:pause"]
    later = phones.delivery(later_id)
    assert (later.status, later.reason) == ("skipped", "opted out")
    # The confirmation's answer is recorded by the replier thread a moment after the phone has it;
    # only then may the fake clock jump an hour (a claim still open then would look in doubt).
    wait_for(lambda: not [d for d in phones.deliveries() if d.status == "sending"],
             "the confirmation's answer to be recorded")
    phones.clock.advance(hours=1)  # the story's time comes
    report = phones.dispatch()
    assert report.sent == 0
    phones.server.drain_webhooks()
    assert not [m for m in phones.received() if "Corte de agua" in _text(m)]
    assert len(phones.received()) == seen + 1
    assert phones.delivery(later_id).status == "skipped"
    assert phones.person().status == "unsubscribed"  # type: ignore[union-attr]

    # 5. Statuses from the simulator moved every sent message forward, to read.
    sent = [d for d in phones.deliveries() if d.wamid]
    assert len(sent) == len(phones.received()) == 6  # welcome, list, toggle, story, why, goodbye
    wait_for(lambda: all(phones.delivery(d.id or 0).status == "read" for d in sent), "every read receipt")
    for d in sent:
        row = phones.delivery(d.id or 0)
        assert row.sent_at is not None and row.delivered_at is not None and row.read_at is not None
    with phones.app.store.read() as session:
        kinds = sorted(e.status for e in session.exec(select(StatusEventRow)).all())
    assert kinds == sorted(["sent", "delivered", "read"] * 6)
    assert phones.sim.rejected == []
