"""The webhook's edges: handshake, limits, bad bodies, repeats, and statuses out of order."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text
from sqlmodel import select

from hub import hookimpl
from hub.audience.consent import record_opt_in
from hub.config import AudienceConfig
from hub.contracts import OutgoingMessage, SendResult
from hub.delivery.replier import Replier
from hub.plugins import load
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, InboundMessageRow, StatusEventRow, SubscriberRow
from hub.web.asgi_server import serve_in_thread
from hub.web.signature import sign
from hub.web.webhook import build_app
from tests.audience_kit import (
    PHONE,
    Hub,
    RecordingSink,
    Switch,
    envelope,
    snapshot,
    status,
    text_message,
)
from tests.backend import db_url
from tests.status_kit import apply_status


def test_verification_handshake_echoes_the_challenge_only_for_the_right_token(hub: Hub) -> None:
    good = {"hub.mode": "subscribe", "hub.verify_token": "test-verify-token", "hub.challenge": "1158201444"}
    response = hub.client.get("/webhook", params=good)
    assert (response.status_code, response.text) == (200, "1158201444")
    for wrong in ({**good, "hub.verify_token": "nope"}, {**good, "hub.mode": "unsubscribe"},
                  {"hub.challenge": "1"}):
        assert hub.client.get("/webhook", params=wrong).status_code == 403


def test_broken_json_and_unknown_shapes_get_400_without_a_traceback(hub: Hub) -> None:
    before = snapshot(hub.store)
    for raw in [b"{not json", b"\xff\xfe", b"[]", b'{"object": "page", "entry": []}',
                b'{"entry": [{"changes": [{"field": "messages", "value": 3}]}]}', b'"text"']:
        response = hub.post(None, raw=raw)
        assert response.status_code == 400, raw
        assert "Traceback" not in response.text
    assert snapshot(hub.store) == before


def test_a_body_over_the_limit_gets_413_and_changes_nothing(tmp_path: Path, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback, max_body_bytes=2048)
    before = snapshot(hub.store)
    big = text_message("x" * 5000)
    assert hub.post(big).status_code == 413
    chunked = hub.client.post("/webhook", content=iter([json.dumps(big).encode()]),
                              headers={"X-Hub-Signature-256": "sha256=0"})  # no Content-Length
    assert chunked.status_code == 413
    assert snapshot(hub.store) == before
    assert hub.post(text_message("hola")).status_code == 200


def test_the_same_message_twice_is_stored_and_answered_once(hub: Hub) -> None:
    payload = text_message("ALTA", when=hub.clock.now())
    assert hub.post(payload).status_code == 200
    after_first = snapshot(hub.store)
    assert hub.post(payload).status_code == 200
    assert snapshot(hub.store) == after_first
    assert len(hub.replies()) == 1


def test_unknown_types_and_fields_are_stored_and_ignored(hub: Hub) -> None:
    odd = text_message("x", when=hub.clock.now())
    message = odd["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({"type": "hologram", "hologram": {"depth": 3}})
    del message["text"]
    assert hub.post(odd).status_code == 200
    unsupported = text_message("x", when=hub.clock.now())
    msg = unsupported["entry"][0]["changes"][0]["value"]["messages"][0]
    msg.update({"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]})
    assert hub.post(unsupported).status_code == 200
    assert hub.post(envelope({"event": "APPROVED"}, field_name="message_template_status_update")
                    ).status_code == 200
    reaction = text_message("x", when=hub.clock.now())
    rmsg = reaction["entry"][0]["changes"][0]["value"]["messages"][0]
    rmsg.update({"type": "reaction", "reaction": {"message_id": "wamid.ours", "emoji": "👍"}})
    assert hub.post(reaction).status_code == 200
    with hub.store.read() as session:
        rows = session.exec(select(InboundMessageRow).order_by(InboundMessageRow.id)).all()
    assert [(r.type, r.text) for r in rows] == [
        ("hologram", None), ("unsupported", "Message type unknown"),
        ("field:message_template_status_update", None), ("reaction", "👍")]
    assert len(hub.replies()) == 1  # help once a day; a reaction gets no answer


def test_a_caption_speaks_like_text_and_system_messages_get_no_answer(hub: Hub) -> None:
    photo = text_message("x", when=hub.clock.now())
    msg = photo["entry"][0]["changes"][0]["value"]["messages"][0]
    msg.update({"type": "image", "image": {"id": "1", "mime_type": "image/jpeg", "caption": "Alta cultura"}})
    del msg["text"]
    assert hub.post(photo).status_code == 200
    assert hub.person().status == "active" and hub.person().topics == ["cultura"]
    changed = text_message("x", when=hub.clock.now())
    smsg = changed["entry"][0]["changes"][0]["value"]["messages"][0]
    smsg.update({"type": "system", "system": {"body": "User changed number", "wa_id": "34699000000",
                                              "type": "customer_changed_number"}})
    del smsg["text"]
    replies = len(hub.replies())
    assert hub.post(changed).status_code == 200
    assert len(hub.replies()) == replies


def test_a_message_without_wa_id_subscribes_by_business_scoped_user_id(hub: Hub) -> None:
    payload = text_message("ALTA", when=hub.clock.now())
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Ana"}, "user_id": "ES.1234567890"}]
    del value["messages"][0]["from"]
    value["messages"][0]["from_user_id"] = "ES.1234567890"
    assert hub.post(payload).status_code == 200
    with hub.store.read() as session:
        row = session.exec(select(InboundMessageRow)).one()
        person = session.exec(select(SubscriberRow)).one()
    assert (row.phone, row.user_id, row.name) == (None, "ES.1234567890", "Ana")
    assert row.action == "subscribed"
    assert (person.phone, person.user_id, person.status) == (None, "ES.1234567890", "active")


def _delivery(hub: Hub, wamid: str | None, status_: str = "sent") -> int:
    now = hub.clock.now()
    with hub.store.write() as session:
        person = record_opt_in(session, PHONE, now, channel="cli", note="test")
        row = DeliveryRow(key=f"k{wamid}", subscriber_id=person.id, body={"kind": "item", "text": "hi"},
                          status=status_, wamid=wamid, created_at=now, due_at=now)
        session.add(row)
        session.flush()
        return row.id


def _state(hub: Hub, delivery_id: int) -> DeliveryRow:
    with hub.store.read() as session:
        return session.get(DeliveryRow, delivery_id)


def test_statuses_out_of_order_never_go_backwards(hub: Hub) -> None:
    did = _delivery(hub, "wamid.A")
    t = hub.clock.now()
    for state, minutes in [("read", 3), ("delivered", 2), ("sent", 1), ("delivered", 2)]:
        assert hub.post(status("wamid.A", state, t + timedelta(minutes=minutes))).status_code == 200
    row = _state(hub, did)
    assert row.status == "read"
    assert (row.sent_at, row.delivered_at, row.read_at) == (
        t + timedelta(minutes=1), t + timedelta(minutes=2), t + timedelta(minutes=3))
    with hub.store.read() as session:
        assert len(session.exec(select(StatusEventRow)).all()) == 3  # the repeat is not stored


def test_read_without_delivered_implies_delivered_and_failed_keeps_the_error(hub: Hub) -> None:
    read_only = _delivery(hub, "wamid.R")
    failing = _delivery(hub, "wamid.F")
    t = hub.clock.now()
    hub.post(status("wamid.R", "read", t))
    hub.post(status("wamid.F", "failed", t, errors=[{
        "code": 131026, "title": "Message undeliverable",
        "error_data": {"details": "the number is not on WhatsApp"}}]))
    assert (_state(hub, read_only).status, _state(hub, read_only).delivered_at) == ("read", t)
    failed = _state(hub, failing)
    assert (failed.status, failed.error_code) == ("failed", 131026)
    assert "not on WhatsApp" in failed.error_detail


def test_a_status_with_odd_pricing_and_error_code_types_is_stored_not_a_500(hub: Hub) -> None:
    """A category that is an object and a code past 32 bits: stored as unknown, never a retry loop."""
    did = _delivery(hub, "wamid.O")
    payload = status("wamid.O", "failed", hub.clock.now(), errors=[{"code": 2**40, "title": "odd"}])
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["pricing"] = {"category": {"x": [1]}}
    assert hub.post(payload).status_code == 200
    assert _state(hub, did).status == "planned", "an unknown error code is retried"
    with hub.store.read() as session:
        event = session.exec(select(StatusEventRow)).one()
    assert (event.status, event.error_code, event.category) == ("failed", None, None)


def test_read_and_delivered_settled_at_the_same_moment_end_read(hub: Hub) -> None:
    """Two webhooks about one message in flight together (Meta sends them in any order): the
    second reads the row after the first commits, so a late "delivered" cannot undo "read"."""
    did = _delivery(hub, "wamid.T")
    t = hub.clock.now()
    with hub.store.write() as first:  # "read" is being settled and not yet committed …
        apply_status(first, status="read", at=t + timedelta(seconds=1), wamid="wamid.T")
        first.flush()

        def delivered_receipt() -> None:
            with hub.store.write() as second:
                apply_status(second, status="delivered", at=t, wamid="wamid.T")

        other = threading.Thread(target=delivered_receipt)
        other.start()
        _wait_until_blocked_by(first, other)  # … while "delivered" arrives and waits for the row
    other.join(10)
    assert _state(hub, did).status == "read"


def _wait_until_blocked_by(session: Any, thread: threading.Thread, timeout: float = 10) -> None:
    """On PostgreSQL, until another session waits on ``session``'s locks (SQLite's second writer
    waits at BEGIN IMMEDIATE by design: nothing to observe there)."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    deadline = time.monotonic() + timeout
    with connection.engine.connect() as probe:
        while thread.is_alive() and time.monotonic() < deadline:
            if probe.execute(text("SELECT count(*) FROM pg_stat_activity "
                                  "WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": pid}).scalar():
                return
            probe.commit()
            threading.Event().wait(0.01)
    raise AssertionError("the second status never waited for the row lock")


def test_unknown_wamid_is_matched_by_the_echoed_delivery_id(hub: Hub) -> None:
    """An in-doubt claim (sending, no wamid) is settled by the status that echoes its id."""
    did = _delivery(hub, None, status_="sending")
    hub.post(status("wamid.B", "delivered", hub.clock.now(), opaque=str(did)))
    row = _state(hub, did)
    assert (row.status, row.wamid) == ("delivered", "wamid.B")


def test_unknown_wamid_is_kept_and_applied_when_the_send_records_it(hub: Hub) -> None:
    """The status can beat the dispatcher's commit; it waits, then counts."""
    with hub.store.write() as session:
        person = record_opt_in(session, PHONE, hub.clock.now(), channel="cli", note="test")
        person.last_inbound_at = hub.clock.now()
        session.add(DeliveryRow(key="k", subscriber_id=person.id, body={"kind": "item", "text": "x"},
                                created_at=hub.clock.now(), due_at=hub.clock.now()))
    hub.post(status("wamid.sent1", "delivered", hub.clock.now()))  # RecordingSink answers wamid.sent<id>
    with hub.store.read() as session:
        assert session.exec(select(StatusEventRow)).one().delivery_id is None
    report = hub.dispatch(RecordingSink())
    assert report.sent == 1
    row = hub.deliveries()[0]
    assert (row.status, row.wamid) == ("delivered", "wamid.sent1")


def test_a_status_that_crossed_the_send_record_unseen_is_applied_by_the_next_run(hub: Hub) -> None:
    """On PostgreSQL the webhook and the dispatcher's commit can overlap and miss each other: the
    status is stored as unknown after the dispatcher looked for early statuses. The next run,
    even one with nothing to send, applies it."""
    now = hub.clock.now()
    with hub.store.write() as session:  # the state both transactions leave behind
        person = record_opt_in(session, PHONE, now, channel="cli", note="test")
        session.add(DeliveryRow(key="k", subscriber_id=person.id, body={"kind": "item", "text": "x"},
                                status="sent", wamid="wamid.crossed", attempts=1, sent_at=now,
                                created_at=now, due_at=now))
        session.add(StatusEventRow(key="e", wamid="wamid.crossed", status="read", at=now, received_at=now))
    report = hub.dispatch(RecordingSink())
    assert report.sent == 0
    row = hub.deliveries()[0]
    assert (row.status, row.read_at) == ("read", now)
    with hub.store.read() as session:
        assert session.exec(select(StatusEventRow)).one().delivery_id == row.id


def test_the_real_server_answers_on_loopback(hub: Hub) -> None:
    assert hub.server.base_url.startswith("http://127.0.0.1:")
    response = hub.post(text_message("ALTA", when=hub.clock.now()))
    assert response.status_code == 200 and response.text == "ok"


class Recorder:
    """A test plugin that notes what the hooks report."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    @hookimpl
    def on_delivery_status(self, delivery: DeliveryRow, status: str) -> None:
        self.events.append(("delivery", status))

    @hookimpl
    def on_subscriber_change(self, subscriber: SubscriberRow, change: str) -> None:
        self.events.append((subscriber.status, change))


def test_plugins_hear_about_statuses_and_subscribers_after_the_commit(tmp_path: Path,
                                                                      loopback: Switch) -> None:
    recorder = Recorder()
    pm, _ = load([recorder])
    hub = Hub(tmp_path / "hub.db", loopback)
    hub.app = build_app(hub.store, hub.audience, ZoneInfo("Europe/Madrid"), app_secret="test-app-secret",
                        verify_token=None, clock=hub.clock, pm=pm)
    loopback.target = hub.app
    hub.say("ALTA")
    hub.say("BAJA")
    did = _delivery(hub, "wamid.H")
    hub.post(status("wamid.H", "read", hub.clock.now()))
    assert _state(hub, did).status == "read"
    assert recorder.events == [("active", "subscribed"), ("unsubscribed", "unsubscribed"),
                               ("delivery", "read")]



class Signalling(RecordingSink):
    """A recording sink that also tells the test thread when something was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()

    async def send(self, message: OutgoingMessage) -> SendResult:
        result = await super().send(message)
        self.arrived.set()
        return result


def test_a_replier_beside_the_webhook_sends_the_welcome_at_once(tmp_path: Path) -> None:
    """As `hub serve` runs it: nobody has to run `hub send` for the welcome to go out."""
    sink = Signalling()
    store = Store(db_url(tmp_path / 'hub.db'))
    replier = Replier(store, lambda: sink, every=600)  # only the poke can wake it in time
    app = build_app(store, AudienceConfig(), ZoneInfo("Europe/Madrid"), app_secret="test-app-secret",
                    verify_token=None, replier=replier)
    body = json.dumps(text_message("ALTA")).encode()
    with serve_in_thread(app) as base, httpx.Client(base_url=base) as client:
        response = client.post("/webhook", content=body,
                               headers={"X-Hub-Signature-256": sign(body, "test-app-secret")})
        assert response.status_code == 200
        assert sink.arrived.wait(timeout=10)
    assert "Te has suscrito" in sink.sent[0].text
    store.dispose()


def test_each_refused_post_is_logged_with_its_reason_never_the_secret(hub: Hub, caplog) -> None:  # noqa: ANN001
    body = json.dumps(text_message("ALTA")).encode()
    with caplog.at_level("WARNING", logger="hub.web.webhook"):
        assert hub.client.post("/webhook", content=body).status_code == 401
        wrong = sign(body, "not-the-secret")
        assert hub.client.post("/webhook", content=body,
                               headers={"X-Hub-Signature-256": wrong}).status_code == 401
        assert hub.post(None, raw=b"{not json").status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [line.split(":")[1].strip() for line in lines] == [
        "signature missing", "signature wrong", "not JSON"]
    assert "no X-Hub-Signature-256 header" in lines[0]
    assert not any(wrong in line or "sha256=" in line for line in lines)
