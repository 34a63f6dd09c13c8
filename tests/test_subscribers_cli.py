"""``hub subscribers``: consent-backed admin, E.164 numbers, and GDPR export / forget."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, select

from hub.storage.tables import ConsentEventRow, DeliveryRow, InboundMessageRow, SubscriberRow
from tests.audience_kit import NAME, PHONE, Hub, Switch, list_reply, snapshot, status, text_message
from tests.conftest import HubRunner, write_config


def _project(project: Path) -> Path:
    return write_config(project / "hub.toml", '[hub]\ndatabase_url = "sqlite:///hub.db"\n'
                        '[audience]\ntopics = { deportes = "Deportes", cultura = "Cultura" }\n')


def test_add_needs_a_consent_note_and_a_valid_number(project: Path, hub_cli: HubRunner) -> None:
    _project(project)
    missing = hub_cli("subscribers", "add", "+34 612 34 56 78")
    assert missing.exit_code != 0 and "--consent" in missing.output
    bad = hub_cli("subscribers", "add", "12345", "--consent", "form")
    assert bad.exit_code != 0 and "not a valid phone number" in bad.output
    assert "Traceback" not in bad.output
    empty = hub_cli("subscribers", "add", "+34612345678", "--consent", "  ")
    assert empty.exit_code != 0 and "consent note is required" in empty.output
    ok = hub_cli("subscribers", "add", "+34 612 34 56 78", "--consent", "signed form, library",
                 "--name", "Ana", "--topic", "deportes")
    assert ok.exit_code == 0, ok.output
    shown = hub_cli("subscribers", "show", "0034612345678")
    assert "+34612345678" in shown.output and "opt_in via cli" in shown.output
    assert "signed form, library" in shown.output and "deportes" in shown.output
    local = hub_cli("subscribers", "show", "612345678", "--region", "ES")
    assert local.exit_code == 0
    listed = hub_cli("subscribers", "list")
    assert "34612345678" not in listed.output and "+34••" in listed.output  # masked on screen


def test_import_rejects_invalid_lines_by_number_and_stores_nothing(project: Path, hub_cli: HubRunner) -> None:
    _project(project)
    csv = project / "people.csv"
    csv.write_text("phone,name,topics\n+34612345678,Ana,deportes\nnot-a-number,Bea\n"
                   "+34 699 11 22 33,Carla,cultura;deportes\n+1 650\n", encoding="utf-8")
    result = hub_cli("subscribers", "import", str(csv), "--consent", "sign-up form 2025")
    assert result.exit_code != 0
    assert "line 3" in result.output and "line 5" in result.output and "nothing imported" in result.output
    assert "0 active" not in hub_cli("subscribers", "list").output
    assert "no subscribers yet" in hub_cli("subscribers", "list").output
    partial = hub_cli("subscribers", "import", str(csv), "--consent", "sign-up form 2025",
                      "--skip-invalid")
    assert partial.exit_code == 0 and "2 imported" in partial.output and "2 rejected" in partial.output
    assert "cultura,deportes" in hub_cli("subscribers", "list").output


def test_import_does_not_bring_back_someone_who_left(project: Path, hub_cli: HubRunner,
                                                   loopback: Switch) -> None:
    _project(project)
    hub = Hub(project / "hub.db", loopback)
    hub.say("ALTA")
    hub.say("BAJA")
    csv = project / "people.csv"
    csv.write_text(f"+{PHONE}\n", encoding="utf-8")
    result = hub_cli("subscribers", "import", str(csv), "--consent", "old list")
    assert "0 imported, 1 skipped" in result.output
    assert hub.person().status == "unsubscribed"


def test_tag_untag_remove(project: Path, hub_cli: HubRunner) -> None:
    _project(project)
    hub_cli("subscribers", "add", "+34612345678", "--consent", "phone call")
    assert "deportes, cultura" in hub_cli("subscribers", "tag", "+34612345678", "deportes", "cultura").output
    assert "topics cultura" in hub_cli("subscribers", "untag", "+34612345678", "deportes").output
    assert hub_cli("subscribers", "remove", "+34612345678").exit_code == 0
    assert "unsubscribed" in hub_cli("subscribers", "list").output
    unknown = hub_cli("subscribers", "remove", "+34699112233")
    assert unknown.exit_code == 1 and "no subscriber" in unknown.output


def _every_text(store: Any) -> list[str]:
    """Every text and JSON value in every table, as stored."""
    found: list[str] = []
    with store.read() as session:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns
                       if isinstance(getattr(c.type, "impl", c.type), String | Text | JSON)]
            assert table.name not in ("subscribers", "inbound_messages") or len(columns) > 3
            for row in session.connection().execute(sa_select(*columns)).all() if columns else []:
                found.extend(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
                             for v in row if v is not None)
    return found


def _wamid_numbers(texts: list[str]) -> list[str]:
    """What base64 in stored ids decodes to: a wamid carries the recipient's number."""
    decoded = []
    for text in texts:
        for part in text.replace("wamid.", " ").split():
            try:
                decoded.append(base64.b64decode(part + "=" * (-len(part) % 4)).decode("latin-1"))
            except ValueError:
                continue
    return decoded


def test_export_then_forget_leaves_no_number_and_no_name(project: Path, hub_cli: HubRunner,
                                                        loopback: Switch) -> None:
    _project(project)
    hub = Hub(project / "hub.db", loopback)
    hub.say("ALTA deportes")
    hub.post(list_reply("hub:topic:cultura", "Cultura", hub.clock.now()))
    hub.say("¿por qué?")
    sent = hub.dispatch()
    assert sent.sent == 3
    wamid = "wamid.HBgLMzQ2MTIzNDU2NzgVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"  # encodes the number
    with hub.store.write() as session:
        first = session.exec(select(DeliveryRow).order_by(DeliveryRow.id)).first()
        first.wamid = wamid
    hub.post(status(wamid, "delivered", hub.clock.now()))
    orphan = "wamid.HBgLMzQ2MTIzNDU2NzgVAgARGBJBQUFBQUFBQUFBQUFBQUFBAA=="  # a send never recorded
    hub.post(status(orphan, "sent", hub.clock.now()))
    hub.post(text_message("hello", phone="34699112233", name="Otra Persona", when=hub.clock.now()))

    exported = hub_cli("subscribers", "export", f"+{PHONE}")
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported.output)
    assert data["subscriber"]["name"] == NAME and data["subscriber"]["topics"] == ["deportes", "cultura"]
    assert len(data["inbound_messages"]) == 3 and len(data["deliveries"]) == 3
    assert [e["kind"] for e in data["consent_events"]] == ["opt_in", "topics"]
    assert data["status_events"][0]["status"] == "delivered"
    out = project / "me.json"
    assert hub_cli("subscribers", "export", f"+{PHONE}", "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text())["phone"] == PHONE

    assert hub_cli("subscribers", "forget", f"+{PHONE}").exit_code != 0  # asks first; no answer: aborts
    forgotten = hub_cli("subscribers", "forget", f"+{PHONE}", "--yes")
    assert forgotten.exit_code == 0, forgotten.output
    texts = _every_text(hub.store)
    for secret in (PHONE, NAME, "Lucía", "¿por qué?", "ALTA deportes"):
        assert not [t for t in texts if secret in t], secret
    assert not [t for t in _wamid_numbers(texts) if PHONE in t]
    assert any("34699112233" in t for t in texts)  # the other person is untouched

    with hub.store.read() as session:  # anonymous counts remain for the statistics
        person = session.exec(select(SubscriberRow).where(SubscriberRow.status == "forgotten")).one()
        deliveries = session.exec(select(DeliveryRow).where(DeliveryRow.subscriber_id == person.id)).all()
        assert sorted(d.status for d in deliveries) == ["delivered", "sent", "sent"]
        assert len(session.exec(select(ConsentEventRow)).all()) == 2
        assert len(session.exec(select(InboundMessageRow)).all()) == 4

    before = snapshot(hub.store)  # Meta repeats a status and a message it had already sent
    hub.post(status(wamid, "delivered", hub.clock.now()))
    assert snapshot(hub.store) == before
    hub.post(status(wamid, "read", hub.clock.now()))  # a late read still counts, anonymously
    texts = _every_text(hub.store)
    assert not [t for t in texts + _wamid_numbers(texts) if PHONE in t]
    assert "nothing stored" in hub_cli("subscribers", "export", f"+{PHONE}").output


def test_serve_refuses_to_start_without_its_secrets(project: Path, hub_cli: HubRunner, monkeypatch) -> None:
    _project(project)
    monkeypatch.delenv("WHATSAPP_APP_SECRET", raising=False)
    result = hub_cli("serve")
    assert result.exit_code == 1
    assert "WHATSAPP_APP_SECRET is not set" in result.output and "Traceback" not in result.output


def test_cli_changes_reach_plugins(project: Path) -> None:
    from tests.test_webhook import Recorder

    _project(project)
    recorder = Recorder()
    run = HubRunner(project / "hub.toml", [recorder])
    run("subscribers", "add", "+34612345678", "--consent", "phone call")
    run("subscribers", "tag", "+34612345678", "deportes")
    run("subscribers", "remove", "+34612345678")
    run("subscribers", "forget", "+34612345678", "--yes")
    assert [change for _, change in recorder.events] == ["subscribed", "topics", "unsubscribed", "forgotten"]
    assert recorder.events[-1][0] == "forgotten"


def test_serve_builds_the_configured_webhook_from_the_environment(project: Path, monkeypatch) -> None:
    from hub.app import App
    from hub.commands.serve import webhook_app
    from hub.web.asgi_server import serve_in_thread
    from hub.web.signature import sign

    _project(project)
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "s3cret")
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "tok")
    with serve_in_thread(webhook_app(App(project / "hub.toml"))) as base:
        import httpx

        with httpx.Client(base_url=base) as client:
            hello = client.get("/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "tok",
                                                   "hub.challenge": "42"})
            assert hello.text == "42"
            body = json.dumps(text_message("ALTA")).encode()
            assert client.post("/webhook", content=body,
                               headers={"X-Hub-Signature-256": sign(body, "s3cret")}).status_code == 200
    listed = HubRunner(project / "hub.toml")("subscribers", "list")
    assert "1 active" in listed.output


def test_audience_mistakes_are_reported_by_key_path(project: Path, hub_cli: HubRunner) -> None:
    write_config(project / "hub.toml", '[audience]\naway = { hours = "Mon-Fry 9:00-18:00", message = "x" }\n'
                 'topics = { deportes = "Deportes y mucho más que deportes" }\n[webhook]\nport = "x"\n')
    result = hub_cli("check")
    assert result.exit_code == 1
    assert "audience.away.hours: unknown day 'Fry'" in result.output
    assert "audience.topics:" in result.output and "webhook.port:" in result.output
    assert hub_cli("init", str(project / "new.toml")).exit_code == 0
    assert HubRunner(project / "new.toml")("check").exit_code == 0


def test_escape_sequences_in_a_profile_name_are_not_printed(project: Path, hub_cli: HubRunner,
                                                            loopback: Switch) -> None:
    _project(project)
    hostile = "Ana\x1b[2J\x1b]0;owned\x07\x1b[31m Ruiz\x9b1;1H\x07\r\x00\x7f"
    hub = Hub(project / "hub.db", loopback)
    hub.say("ALTA", name=hostile)
    hub.store.dispose()
    for output in (hub_cli("subscribers", "list").output, hub_cli("subscribers", "show", PHONE).output):
        assert "Ana Ruiz" in output, output
        assert not any(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) <= 0x9f for c in output), repr(output)
