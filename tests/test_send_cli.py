"""The admin's view: ``hub send --dry-run``, ``hub send``, ``hub status``, ``hub sandbox``, and
``[sinks.whatsapp]`` in ``hub.toml`` validated like every other table."""

from __future__ import annotations

from hub.audience.consent import record_opt_in
from hub.simulator import Fault
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow
from hub.timekeeping.clock import SystemClock
from tests.backend import db_url, open_db
from tests.conftest import write_config
from tests.wa_world import story


def _config(base_url: str, extra: str = "") -> str:
    return (
        '[hub]\ndatabase_url = "sqlite:///hub.db"\nsink = "whatsapp"\n\n'
        '[caps]  # about sending, not restraint: at any hour, as often as due\n'
        'per_subscriber_per_day = "unlimited"\nmin_gap = "none"\nquiet_hours = "none"\n\n'
        "[sinks.whatsapp]\n"
        'phone_number_id = "1234567890"\n'
        f'base_url = "{base_url}"\n'
        'template = { name = "news_update", language = "es", body = ["{title}", "{url}"] }\n'
        + extra
    )


def _plan(project, people: int = 2) -> None:
    store = Store(db_url(project / 'hub.db'))
    now = SystemClock().now()
    with store.write() as session:
        for n in range(people):
            subscriber = record_opt_in(session, f"3460000000{n}", now, channel="cli", note="t")
            session.flush()
            session.add(DeliveryRow(key=f"k{n}", subscriber_id=subscriber.id, created_at=now, due_at=now,
                                    body={"kind": "item", "text": "Hola", "items": [story(n)]}))
    store.dispose()


def test_dry_run_shows_the_requests_and_sends_nothing(hub_cli, project, cloud_api) -> None:
    write_config(hub_cli.config, _config(cloud_api.base_url))
    _plan(project)
    result = hub_cli("send", "--dry-run")
    assert result.exit_code == 0, result.output
    assert '"type": "template"' in result.output and '"name": "news_update"' in result.output
    assert "+34•••••••00" in result.output and "34600000000" not in result.output
    assert "2 due now; nothing was sent (--dry-run)." in result.output
    assert cloud_api.simulator.requests == 0
    db = open_db(project / "hub.db")
    assert db.execute("SELECT status, attempts FROM deliveries").fetchall() == [("planned", 0)] * 2


def test_send_delivers_and_summarises(hub_cli, project, cloud_api) -> None:
    write_config(hub_cli.config, _config(cloud_api.base_url))
    _plan(project)
    result = hub_cli("send")
    assert result.exit_code == 0, result.output
    assert "2 sent, 0 failed, 0 skipped" in result.output
    assert len(cloud_api.simulator.accepted) == 2
    assert all(m.plus for m in cloud_api.simulator.accepted)  # always +<country code><number>


def test_status_shows_a_stop_and_its_alert(hub_cli, project, cloud_api) -> None:
    # One request at a time: with two in flight, the second may leave before the first's answer
    # (the stop) is back, as it would with Meta; this test is about what the stop holds back.
    write_config(hub_cli.config, _config(cloud_api.base_url, "concurrency = 1\n"))
    _plan(project)
    cloud_api.simulator.faults.add(Fault(code=131031, times=1))
    sent = hub_cli("send")
    assert sent.exit_code == 1 and "sending is stopped" in sent.output
    status = hub_cli("status")
    assert status.exit_code == 0, status.output
    assert "Sending: stopped" in status.output and "[ERROR]" in status.output
    assert "code 131031" in status.output and "planned 2" in status.output
    resumed = hub_cli("status", "--resume")
    assert "Sending resumed" in resumed.output and "Alerts: none" in resumed.output
    assert "2 sent" in hub_cli("send").output


def test_missing_token_is_one_clear_line(hub_cli, project, cloud_api, monkeypatch) -> None:
    monkeypatch.delenv("WHATSAPP_TOKEN")
    write_config(hub_cli.config, _config(cloud_api.base_url))
    _plan(project)
    result = hub_cli("send")
    assert result.exit_code == 1 and "WHATSAPP_TOKEN is not set" in result.output
    assert "Traceback" not in result.output


def test_bad_whatsapp_options_are_reported_by_key_path(hub_cli) -> None:
    write_config(hub_cli.config, _config("not a url", 'rate = 5000\ntemplat = "x"\n'))
    result = hub_cli("check")
    assert result.exit_code == 1
    assert "sinks.whatsapp.base_url: expected an http(s) URL" in result.output
    assert "sinks.whatsapp.rate: " in result.output and "sinks.whatsapp.templat: unknown key" in result.output


def test_template_placeholders_are_checked(hub_cli) -> None:
    write_config(hub_cli.config, _config("https://graph.facebook.com").replace("{url}", "{link}"))
    result = hub_cli("check")
    assert result.exit_code == 1 and "unknown placeholder {link}" in result.output


def test_sandbox_starts_prints_how_to_use_it_and_stops(hub_cli) -> None:
    result = hub_cli("sandbox", "--port", "0", "--for", "0.2", "--phone", "34600000001:Lucía")
    assert result.exit_code == 0, result.output
    assert "simulated phone: 34600000001 (Lucía)" in result.output
    assert "Cloud API simulator at http://127.0.0.1:" in result.output
    assert "base_url" in result.output and "0 message(s) accepted" in result.output


def test_send_waits_out_the_gap_between_two_messages_to_one_person(hub_cli, project,
                                                                   cloud_api_factory) -> None:
    server = cloud_api_factory(pair_gap=0.3)
    write_config(hub_cli.config, _config(server.base_url, "per_recipient_seconds = 0.4\n"))
    _plan(project, people=1)
    store = Store(db_url(project / 'hub.db'))
    now = SystemClock().now()
    with store.write() as session:
        session.add(DeliveryRow(key="second", subscriber_id=1, created_at=now, due_at=now,
                                body={"kind": "item", "text": "Otra", "items": [story(2)]}))
    store.dispose()
    result = hub_cli("send")
    assert "2 sent, 0 failed" in result.output, result.output
    first, second = server.simulator.received_by("34600000000")
    assert second.mono - first.mono >= 0.4
