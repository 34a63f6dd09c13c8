"""People with a WhatsApp username: known by a business-scoped user id (BSUID), maybe never by number.

Meta's BSUID-shaped payloads (``../shared/whatsapp-samples/bsuid/``) posted signed to the webhook
subscribe, settle and unsubscribe the right person; a number and a BSUID seen together are one
person ever after; and, end to end through the simulator, such a person joins, reads a story sent
by ``recipient``, leaves, and is forgotten without a trace. SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, select

from hub.app import App
from hub.commands.serve import webhook_app
from hub.delivery.send import dispatch_due
from hub.simulator import SimulatorServer
from hub.simulator.faults import Fault
from hub.storage.tables import (
    ConsentEventRow,
    DeliveryRow,
    InboundMessageRow,
    PersonIdRow,
    SubscriberRow,
)
from hub.timekeeping.clock import FakeClock
from hub.web.asgi_server import serve_in_thread
from tests.audience_kit import PHONE, Hub, RecordingSink, Switch, envelope, text_message
from tests.backend import db_url
from tests.conftest import HubRunner
from tests.test_e2e_phones import SECRET, START, Phones, wait_for

BSUID = "US.13491208655302741918"  # the samples' person: Sheena, @sheena


def _sample(shared: Path, name: str) -> bytes:
    return (shared / "whatsapp-samples" / "bsuid" / name).read_bytes()


def _people(hub: Hub) -> list[SubscriberRow]:
    with hub.store.read() as session:
        return list(session.exec(select(SubscriberRow).order_by(SubscriberRow.id)).all())


def _plan_story(hub: Hub, person_id: int | None, key: str = "story") -> int:
    now = hub.clock.now()
    with hub.store.write() as session:
        row = DeliveryRow(key=key, subscriber_id=person_id or 0, status="planned", created_at=now,
                          due_at=now, body={"kind": "item", "text": "Pleno municipal", "items": []})
        session.add(row)
        session.flush()
        return row.id or 0


def bsuid_only(text: str, user_id: str, when: Any, username: str | None = "@sheena") -> dict[str, Any]:
    """A text from someone whose number Meta does not share: ``user_id`` and ``username`` only."""
    profile = {"name": "Sheena", **({"username": username} if username else {})}
    return envelope({"contacts": [{"profile": profile, "user_id": user_id}],
                     "messages": [{"from_user_id": user_id, "id": f"wamid.b{abs(hash((text, when)))}",
                                   "timestamp": str(int(when.timestamp())), "type": "text",
                                   "text": {"body": text}}]})


# ---- Meta's BSUID examples through the signed webhook ---------------------------------------------

def test_a_username_only_alta_subscribes_with_topics_and_is_answered_by_recipient(
        shared: Path, tmp_path: Path, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback)
    assert hub.post(None, raw=_sample(shared, "inbound_text_username_only.json")).status_code == 200
    [person] = _people(hub)
    assert (person.phone, person.user_id, person.username) == (None, BSUID, "@sheena")
    assert (person.status, person.topics, person.name) == ("active", ["deportes"], "Sheena Nelson")
    with hub.store.read() as session:
        [consent] = session.exec(select(ConsentEventRow)).all()
        ids = session.exec(select(PersonIdRow.value)).all()
    assert (consent.kind, consent.user_id, consent.phone, consent.words) == (
        "opt_in", BSUID, None, "ALTA deportes")
    assert ids == [BSUID]
    sink = RecordingSink()
    hub.dispatch(sink)
    [welcome] = sink.sent
    assert (welcome.phone, welcome.user_id, welcome.address) == ("", BSUID, BSUID)
    assert "Deportes" in welcome.text
    # TEMAS and ¿POR QUÉ? answer the same person, found by the BSUID alone.
    hub.clock.advance(minutes=1)
    assert hub.post(bsuid_only("TEMAS", BSUID, hub.clock.now())).status_code == 200
    hub.clock.advance(minutes=1)
    assert hub.post(bsuid_only("¿Por qué?", BSUID, hub.clock.now())).status_code == 200
    with hub.store.read() as session:
        actions = [r.action for r in session.exec(select(InboundMessageRow).order_by(InboundMessageRow.id))]
    assert actions == ["subscribed", "topics list", "why"]
    assert len(_people(hub)) == 1


def test_a_status_with_only_recipient_user_id_settles_the_delivery(
        shared: Path, tmp_path: Path, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback)
    assert hub.post(None, raw=_sample(shared, "inbound_text_username_only.json")).status_code == 200
    [person] = _people(hub)
    raw = _sample(shared, "status_delivered_bsuid_only.json")
    wamid = json.loads(raw)["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]
    story = _plan_story(hub, person.id)
    with hub.store.write() as session:
        row = session.get(DeliveryRow, story)
        assert row is not None
        row.status, row.wamid, row.sent_at = "sent", wamid, hub.clock.now()
    assert hub.post(None, raw=raw).status_code == 200
    assert hub.deliveries(id=story)[0].status == "delivered"


def test_a_user_preferences_stop_with_only_user_id_unsubscribes(
        shared: Path, tmp_path: Path, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback)
    assert hub.post(None, raw=_sample(shared, "inbound_text_username_only.json")).status_code == 200
    [person] = _people(hub)
    hub.dispatch()  # the welcome goes
    story = _plan_story(hub, person.id)
    assert hub.post(None, raw=_sample(shared, "user_preferences_stop_bsuid_only.json")).status_code == 200
    [after] = _people(hub)
    assert (after.status, after.marketing_stopped) == ("unsubscribed", True)
    assert hub.deliveries(id=story)[0].status == "skipped"
    sink = RecordingSink()
    hub.dispatch(sink)
    assert sink.sent == []


# ---- one person, several identifiers ------------------------------------------------------------

def test_baja_from_a_username_account_unsubscribes_the_person_who_joined_by_number(
        shared: Path, tmp_path: Path, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback)
    hub.say("ALTA", phone="16505551234")  # joined with a number, years ago
    hub.dispatch()
    hub.clock.advance(hours=1)
    # Meta shows both once (the sample: wa_id, from, user_id, from_user_id): they are linked.
    assert hub.post(None, raw=_sample(shared, "inbound_text_phone_and_bsuid.json")).status_code == 200
    [person] = _people(hub)
    assert (person.phone, person.user_id, person.username) == ("16505551234", BSUID, "@sheena")
    hub.dispatch()
    story = _plan_story(hub, person.id)
    hub.clock.advance(hours=1)
    assert hub.post(bsuid_only("BAJA", BSUID, hub.clock.now())).status_code == 200
    [after] = _people(hub)
    assert after.id == person.id and after.status == "unsubscribed"
    assert hub.deliveries(id=story)[0].status == "skipped"
    sink = RecordingSink()
    hub.dispatch(sink)
    assert [m.body.get("kind") for m in sink.sent] == ["reply"]  # the goodbye, and nothing planned
    assert sink.sent[0].phone == "16505551234"  # sent to the number, which the hub knows


def test_two_rows_found_to_be_one_person_merge_and_an_opt_out_is_never_lost(
        tmp_path: Path, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback)
    hub.say("ALTA", phone=PHONE)
    hub.clock.advance(minutes=5)
    assert hub.post(bsuid_only("ALTA", "ES.77", hub.clock.now())).status_code == 200
    hub.clock.advance(minutes=5)
    assert hub.post(bsuid_only("BAJA", "ES.77", hub.clock.now())).status_code == 200
    by_number, by_bsuid = _people(hub)
    story = _plan_story(hub, by_number.id)
    assert (by_number.status, by_bsuid.status) == ("active", "unsubscribed")
    hub.clock.advance(minutes=5)
    both = text_message("hola", PHONE, "Lucía", hub.clock.now())
    value = both["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["user_id"] = "ES.77"
    value["messages"][0]["from_user_id"] = "ES.77"
    assert hub.post(both).status_code == 200
    [person] = _people(hub)
    assert (person.id, person.phone, person.user_id, person.status) == (
        by_number.id, PHONE, "ES.77", "unsubscribed")
    assert hub.deliveries(id=story)[0].status == "skipped"
    with hub.store.read() as session:
        kinds = [e.kind for e in session.exec(select(ConsentEventRow).order_by(ConsentEventRow.id))]
        assert {e.subscriber_id for e in session.exec(select(ConsentEventRow))} == {person.id}
    assert kinds == ["opt_in", "opt_in", "opt_out", "merged"]


def test_a_new_business_scoped_user_id_finds_the_same_person(tmp_path: Path, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback)
    assert hub.post(bsuid_only("ALTA", "ES.100", hub.clock.now())).status_code == 200
    hub.clock.advance(minutes=1)
    change = bsuid_only("x", "ES.200", hub.clock.now())
    message = change["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({"type": "system", "system": {"body": "User changed", "type": "user_changed_user_id",
                                                 "previous_user_id": "ES.100", "user_id": "ES.200"}})
    del message["text"]
    assert hub.post(change).status_code == 200
    hub.clock.advance(minutes=1)
    assert hub.post(bsuid_only("BAJA", "ES.200", hub.clock.now())).status_code == 200
    [person] = _people(hub)
    assert (person.user_id, person.status) == ("ES.200", "unsubscribed")


def test_a_changed_number_already_known_as_a_contact_stays_one_person(
        tmp_path: Path, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback)
    hub.say("ALTA", phone=PHONE)
    hub.clock.advance(minutes=1)
    hub.say("hola", phone="34699000000")  # the new number wrote once before: a mere contact
    hub.clock.advance(minutes=1)
    change = text_message("x", PHONE, "Lucía", hub.clock.now())
    message = change["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({"type": "system", "system": {"body": "User changed number", "type": "user_changed_number",
                                                 "wa_id": "34699000000"}})
    del message["text"]
    assert hub.post(change).status_code == 200
    [person] = _people(hub)
    assert (person.phone, person.status) == ("34699000000", "active")


# ---- end to end through the simulator -----------------------------------------------------------

@pytest.fixture
def username_phones(tmp_path: Path, cloud_api_factory: Callable[..., SimulatorServer],
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[Phones]:
    clock = FakeClock(START)
    server = cloud_api_factory(clock=clock, read_share=1.0, app_secret=SECRET,
                               usernames={BSUID: "@sheena"}, phones={BSUID: "Sheena"})
    monkeypatch.setenv("WHATSAPP_APP_SECRET", SECRET)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "e2e-verify")
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\ndatabase_url = "{db_url(tmp_path / "hub.db")}"\nsink = "whatsapp"\n\n'
        "[sinks.whatsapp]\n"
        f'phone_number_id = "{server.simulator.config.phone_number_id}"\n'
        f'base_url = "{server.base_url}"\ntimeout = 5\n'
        'template = { name = "news_update", language = "es", body = ["{title}", "{url}"] }\n\n'
        "[audience]\n"
        'topics = { deportes = "Deportes", cultura = "Cultura" }\n',
        encoding="utf-8")
    app = App(config)
    with serve_in_thread(webhook_app(app, clock=clock)) as base_url:
        server.simulator.poster.url = f"{base_url}{app.config.webhook.path}"
        yield Phones(app, server, clock)
        server.drain_webhooks()
    app.store.dispose()


def _everything(app: App) -> str:
    """Every value in every table, as one text to search for a trace."""
    with app.store.read() as session:
        rows = [tuple(r) for t in SQLModel.metadata.sorted_tables
                for r in session.connection().execute(sa_select(t)).all()]
    return json.dumps(rows, default=str, ensure_ascii=False)


def test_a_person_without_a_number_joins_reads_leaves_and_is_forgotten(
        username_phones: Phones, tmp_path: Path) -> None:
    phones, sim = username_phones, username_phones.sim
    received = lambda: sim.received_by(BSUID)  # noqa: E731

    inbound = phones.server.run(lambda: sim.inbound_text(BSUID, "ALTA deportes"))
    value = inbound["entry"][0]["changes"][0]["value"]
    assert "wa_id" not in value["contacts"][0] and "from" not in value["messages"][0]
    welcome = wait_for(lambda: received()[0] if received() else None, "the welcome")
    assert welcome.payload["recipient"] == BSUID and "to" not in welcome.payload
    with phones.app.store.read() as session:
        person = session.exec(select(SubscriberRow)).one()
    assert (person.phone, person.user_id, person.status) == (None, BSUID, "active")
    assert person.topics == ["deportes"]

    phones.clock.advance(minutes=1)
    [story_id] = phones.news("El equipo local asciende", ["deportes"])
    asyncio.run(dispatch_due(phones.app.store, phones.app.sink(), phones.clock))
    story = wait_for(lambda: [m for m in received() if m.callback == f"hub:delivery:{story_id}"],
                     "the story")[0]
    assert story.payload["recipient"] == BSUID and "to" not in story.payload
    wait_for(lambda: phones.delivery(story_id).status == "read", "the story's read receipt")
    statuses = [p.payload["entry"][0]["changes"][0]["value"]["statuses"][0] for p in sim.poster.log
                if "statuses" in p.payload["entry"][0]["changes"][0]["value"]]
    assert statuses and all("recipient_id" not in s and s["recipient_user_id"] == BSUID for s in statuses)
    hub = HubRunner(phones.app.config_path)
    stats = hub("stats")
    assert stats.exit_code == 0, stats.output
    assert "read" in stats.output and " 1 " in stats.output

    # Meta refuses some messages to a BSUID (131062): that delivery fails once, clearly, no retry.
    phones.clock.advance(minutes=10)
    sim.faults.add(Fault(code=131062, details="BSUID recipients are not supported for this message",
                         recipients=frozenset({BSUID})))
    requests = sim.requests
    [refused_id] = phones.news("Corte de agua", ["deportes"])
    asyncio.run(dispatch_due(phones.app.store, phones.app.sink(), phones.clock))
    refused = phones.delivery(refused_id)
    assert (refused.status, refused.error_code, refused.next_try_at) == ("failed", 131062, None)
    assert sim.requests == requests + 1
    status = hub("status")
    assert "131062 (Business-scoped user ID (BSUID) recipients are not supported" in status.output
    assert "131062 (Business-scoped" in hub("stats").output
    sim.faults.clear()

    phones.clock.advance(minutes=10)
    seen = len(received())
    phones.server.run(lambda: sim.inbound_text(BSUID, "BAJA"))
    goodbye = wait_for(lambda: received()[seen] if len(received()) > seen else None, "the goodbye")
    assert goodbye.payload["recipient"] == BSUID
    wait_for(lambda: phones.app.store and _status(phones) == "unsubscribed", "the opt-out")

    listed = hub("subscribers", "list", "--status", "unsubscribed").output
    assert "US.••••18" in listed and BSUID not in listed and "@sheena" in listed
    shown = hub("subscribers", "show", BSUID).output
    assert BSUID in shown and "@sheena" in shown
    exported = json.loads(hub("subscribers", "export", BSUID).output)
    assert exported["user_ids"] == [BSUID] and len(exported["inbound_messages"]) == 2
    phones.server.drain_webhooks()
    forgotten = hub("subscribers", "forget", BSUID, "--yes")
    assert forgotten.exit_code == 0, forgotten.output
    assert BSUID not in forgotten.output
    trace = _everything(phones.app)
    for secret in (BSUID, "13491208655302741918", "@sheena", "sheena", "Sheena"):
        assert secret not in trace


def _status(phones: Phones) -> str:
    with phones.app.store.read() as session:
        return session.exec(select(SubscriberRow.status)).one()
