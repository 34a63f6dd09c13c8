"""Every payload in ../shared/whatsapp-samples/, posted signed, unsigned and wrongly signed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from hub.audience.consent import record_opt_in
from hub.storage.tables import ConsentEventRow, DeliveryRow, InboundMessageRow, StatusEventRow, SubscriberRow
from hub.web.signature import sign
from tests.audience_kit import Hub, Switch, snapshot
from tests.conftest import SHARED

SAMPLES = SHARED / "whatsapp-samples"  # HUB_SHARED_DIR, as every test reads the shared folder
NAMES = sorted(p.name for p in SAMPLES.glob("*.json")) if SAMPLES.is_dir() else ["(absent)"]
WEBHOOKS = [n for n in NAMES if "inbound" in n or "status_" in n or "user_preferences" in n]


def _load(shared: Path, name: str) -> tuple[bytes, dict]:
    raw = (shared / "whatsapp-samples" / name).read_bytes()
    return raw, json.loads(raw)


def _prepare(hub: Hub, data: dict) -> DeliveryRow | None:
    """For a status sample, the delivery it is about (sent to the sample's recipient)."""
    value = data["entry"][0]["changes"][0]["value"]
    prefs = value.get("user_preferences")
    if not value.get("statuses") and not prefs:
        return None
    now = hub.clock.now()
    with hub.store.write() as session:
        phone = value["statuses"][0]["recipient_id"] if value.get("statuses") else prefs[0]["wa_id"]
        person = record_opt_in(session, phone, now, channel="cli", note="sample recipient")
        if prefs:
            person.marketing_stopped = True
            return None
        delivery = DeliveryRow(key="sample", subscriber_id=person.id, body={"kind": "item", "text": "x"},
                               status="sent", wamid=value["statuses"][0]["id"], created_at=now,
                               due_at=now, sent_at=now)
        session.add(delivery)
    return delivery


@pytest.mark.parametrize("name", WEBHOOKS)
def test_each_webhook_sample_is_accepted_with_its_effect(
        shared: Path, tmp_path: Path, name: str, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback)
    raw, data = _load(shared, name)
    delivery = _prepare(hub, data)
    response = hub.post(None, raw=raw)  # the exact bytes, signed as Meta signs them
    assert response.status_code == 200, response.text
    value = data["entry"][0]["changes"][0]["value"]
    with hub.store.read() as session:
        inbound = session.exec(select(InboundMessageRow)).all()
        events = session.exec(select(StatusEventRow)).all()
        if value.get("statuses"):
            entry = value["statuses"][0]
            row = session.get(DeliveryRow, delivery.id)
            assert [(e.wamid, e.status, e.delivery_id) for e in events] == [
                (entry["id"], entry["status"], delivery.id)]
            code = entry["errors"][0]["code"] if entry["status"] == "failed" else None
            if code == 131047:  # outside the 24 h window: sent again, as the approved template
                assert (row.status, row.force_template) == ("planned", True)
                assert row.superseded_wamid == entry["id"] and row.wamid is None
            elif code == 131049:  # Meta held it to protect engagement: try again in 24 h
                assert row.status == "planned" and row.next_try_at is not None
            else:
                assert row.status == entry["status"]
            if code is not None:
                assert entry["errors"][0]["title"] in (row.last_error or row.error_detail or "")
            if code not in (None, 131047, 131049):
                assert row.error_code == code
        elif value.get("user_preferences"):
            person = session.exec(select(SubscriberRow)).one()
            assert person.marketing_stopped is False  # "resume"
            assert person.status == "active"
            kinds = [e.kind for e in session.exec(select(ConsentEventRow)).all()]
            assert kinds == ["opt_in", "preference"]
            assert [m.type for m in inbound] == ["user_preferences"]
        else:
            message = value["messages"][0]
            assert [(m.message_id, m.phone, m.type) for m in inbound] == [
                (message["id"], message["from"], message["type"])]
            assert inbound[0].name == value["contacts"][0]["profile"]["name"]
            person = session.exec(select(SubscriberRow)).one()
            assert person.status == "contact"  # writing is not subscribing
            assert person.last_inbound_at == datetime.fromtimestamp(int(message["timestamp"]), UTC)
            replies = session.exec(select(DeliveryRow)).all()
            assert len(replies) == 1 and replies[0].body["kind"] == "reply"
            assert "ALTA" in replies[0].body["text"]  # the help text says how to join
            if message["type"] == "interactive":
                kind = message["interactive"]["type"]
                assert inbound[0].reply_id == message["interactive"][kind]["id"]
            if message["type"] == "button":
                assert inbound[0].reply_id == message["button"]["payload"]
    again = snapshot(hub.store)
    assert hub.post(None, raw=raw).status_code == 200  # Meta's retry: accepted, changes nothing
    assert snapshot(hub.store) == again


@pytest.mark.parametrize("name", [n for n in NAMES if n not in WEBHOOKS])
def test_payloads_that_are_not_webhooks_get_400_and_change_nothing(
        shared: Path, tmp_path: Path, name: str, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback)
    raw, _ = _load(shared, name)
    before = snapshot(hub.store)
    response = hub.post(None, raw=raw)
    assert response.status_code == 400
    assert "Traceback" not in response.text
    assert snapshot(hub.store) == before


@pytest.mark.parametrize("name", WEBHOOKS)
def test_unsigned_or_wrongly_signed_samples_get_401_and_change_nothing(
        shared: Path, tmp_path: Path, name: str, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback)
    raw, data = _load(shared, name)
    _prepare(hub, data)
    before = snapshot(hub.store)
    tampered = raw.replace(b'"timestamp"', b'"timestamp" ', 1)
    for signature, body in [(None, raw), ("sha256=" + "0" * 64, raw), ("garbage", raw),
                            (sign(raw, "another-secret"), raw), (sign(raw, "test-app-secret"), tampered)]:
        response = hub.post(None, raw=body, signature=signature)
        assert response.status_code == 401, signature
    assert snapshot(hub.store) == before


def test_the_samples_folder_holds_what_its_readme_lists(shared: Path) -> None:
    """The README counts 40 files but lists 20; every listed file must be here (see issue note)."""
    readme = (shared / "whatsapp-samples" / "README.md").read_text()
    listed = {line.split("`")[1] for line in readme.splitlines()
              if line.startswith("| `") and ".json`" in line}
    assert listed <= set(NAMES)


def test_all_samples_into_one_store_in_a_row(shared: Path, tmp_path: Path, loopback: Switch) -> None:
    """Two bindambc samples reuse one message id (text and button): the second is a repeat."""
    hub = Hub(tmp_path / "hub.db", loopback)
    ids = set()
    for name in WEBHOOKS:
        raw, data = _load(shared, name)
        assert hub.post(None, raw=raw).status_code == 200, name
        for message in data["entry"][0]["changes"][0]["value"].get("messages", []):
            ids.add(message["id"])
    with hub.store.read() as session:
        stored = session.exec(select(InboundMessageRow)).all()
        pending = session.exec(select(StatusEventRow)).all()
    assert {m.message_id for m in stored if m.message_id} == ids
    assert len(stored) == len(ids) + 1  # and the user_preferences event
    assert all(e.delivery_id is None for e in pending)  # statuses for sends we never made: kept
