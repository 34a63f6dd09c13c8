""""Why was nothing sent?": `hub send`, `hub status` and `hub preview` name what holds each group of
deliveries and until when, in the hub's time zone; local failures have names, not `none`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from hub.app import App
from hub.audience.consent import record_opt_in
from hub.cli import cli
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow
from hub.timekeeping.clock import FakeClock
from tests.backend import db_url
from tests.conftest import write_config
from tests.wa_world import story

# 10:00 in Madrid (CET, UTC+1) on a Thursday.
MORNING = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def _config(base_url: str) -> str:
    return ('[hub]\ndatabase_url = "sqlite:///hub.db"\nsink = "whatsapp"\ntimezone = "Europe/Madrid"\n\n'
            '[sinks.whatsapp]\nphone_number_id = "1234567890"\n'
            f'base_url = "{base_url}"\n'
            'template = { name = "news_update", language = "es", body = ["{title}", "{url}"] }\n')


def _hub(project: Path, clock: FakeClock, *args: str) -> Result:
    app = App(project / "hub.toml", clock=clock)
    return CliRunner().invoke(cli, ["--config", str(project / "hub.toml"), *args], obj=app)


def _news(key: str, person: int, now: datetime, **fields: object) -> DeliveryRow:
    values: dict[str, Any] = {"created_at": now, "due_at": now, "run_id": 1,
                                 "body": {"kind": "item", "text": "Hola", "items": [story(1)]}}
    values.update(fields)
    return DeliveryRow(key=key, subscriber_id=person, **values)


def _outbox(project: Path, now: datetime) -> None:
    """Five people, each held for another reason."""
    store = Store(db_url(project / "hub.db"))
    with store.write() as session:
        ids = []
        for n in range(5):
            person = record_opt_in(session, f"3460000001{n}", now - timedelta(days=3),
                                   channel="cli", note="t")
            person.last_inbound_at = now - timedelta(hours=1)
            session.flush()
            ids.append(person.id)
        capped, retried, gapped, paced, awaiting = ids
        for n, hour in enumerate((8, 9)):  # two news today already: the daily cap of 2
            session.add(_news(f"c{n}", capped, now, status="sent", claimed_at=now.replace(hour=hour - 1),
                              sent_at=now.replace(hour=hour - 1)))
        session.add(_news("c2", capped, now))
        session.add(_news("r", retried, now - timedelta(minutes=5), next_try_at=now + timedelta(minutes=42),
                          attempts=1, last_error="130429: rate"))
        session.add(_news("g0", gapped, now, status="sent", claimed_at=now - timedelta(minutes=30)))
        session.add(_news("g1", gapped, now))
        paced_person = session.get(type(person), paced)
        assert paced_person is not None
        paced_person.last_sent_at = now - timedelta(seconds=2)
        session.add(DeliveryRow(key="p", subscriber_id=paced, created_at=now, due_at=now,
                                body={"kind": "reply", "text": "¡Hola!"}))
        session.add(_news("a", awaiting, now - timedelta(minutes=3), status="sending",
                          claimed_at=now - timedelta(minutes=3), requested_at=now - timedelta(minutes=3),
                          lease_until=now - timedelta(minutes=2)))
    store.dispose()


def test_status_and_send_say_what_holds_each_group_and_until_when(hub_cli, project, cloud_api) -> None:
    write_config(hub_cli.config, _config(cloud_api.base_url))
    clock = FakeClock(MORNING)
    _hub(project, clock, "check")
    _outbox(project, MORNING)

    status = _hub(project, clock, "status")
    assert status.exit_code == 0, status.output
    out = status.output
    assert "1 over the daily cap (2 a day per person) until tomorrow 00:00 CET" in out
    assert "1 waiting for a retry after an error, the next at 10:42 CET" in out
    assert "1 held by the minimum gap since each person's last message, until 11:30 CET" in out
    assert "1 held by the pair rate (one message per person every 6 s) until 10:00:04 CET" in out
    assert "1 sent and awaiting a status from the API" in out
    assert "(times in Europe/Madrid)" in out

    data = json.loads(_hub(project, clock, "status", "--json").output)
    kinds = {w["kind"]: w for w in data["waiting"]}
    assert set(kinds) == {"daily_cap", "retry", "min_gap", "pair_rate", "awaiting_status"}
    assert kinds["retry"]["until"] == (MORNING + timedelta(minutes=42)).isoformat()

    sent = _hub(project, clock, "send")
    assert sent.exit_code == 0, sent.output
    assert "0 sent, 0 failed" in sent.output and "Waiting:" in sent.output
    assert "daily cap" not in sent.output  # its claim skipped it, as status said it would
    assert "held by the minimum gap since each person's last message, until 11:30 CET" in sent.output
    assert "the next at 10:42 CET" in sent.output and "until 10:00:04 CET" in sent.output
    assert cloud_api.simulator.requests == 0


def test_quiet_hours_say_until_08_00(hub_cli, project, cloud_api) -> None:
    write_config(hub_cli.config, _config(cloud_api.base_url))
    night = datetime(2026, 1, 15, 22, 30, tzinfo=UTC)  # 23:30 in Madrid
    clock = FakeClock(night)
    _hub(project, clock, "check")
    store = Store(db_url(project / "hub.db"))
    with store.write() as session:
        for n in range(3):
            person = record_opt_in(session, f"3460000002{n}", night - timedelta(days=1),
                                   channel="cli", note="t")
            session.flush()
            assert person.id is not None
            session.add(_news(f"q{n}", person.id, night))
    store.dispose()
    dry = _hub(project, clock, "send", "--dry-run")
    assert "3 due now; nothing was sent" in dry.output
    assert "3 held by quiet hours 22:00-08:00 until tomorrow 08:00 CET" in dry.output, dry.output
    sent = _hub(project, clock, "send")
    assert "3 held by quiet hours 22:00-08:00 until tomorrow 08:00 CET" in sent.output, sent.output
    clock.set(night + timedelta(hours=2))  # 01:30 the next day: "08:00", today
    assert "3 held by quiet hours 22:00-08:00 until 08:00 CET" in _hub(project, clock, "status").output
    assert cloud_api.simulator.requests == 0


def test_failures_the_hub_refused_itself_have_names(hub_cli, project, cloud_api) -> None:
    # No template: outside the window, the sink refuses before any request.
    write_config(hub_cli.config, _config(cloud_api.base_url).replace(
        'template = { name = "news_update", language = "es", body = ["{title}", "{url}"] }\n', "")
        + '\n[caps]\nquiet_hours = "none"\n')
    clock = FakeClock(MORNING)
    _hub(project, clock, "check")
    store = Store(db_url(project / "hub.db"))
    with store.write() as session:
        for n in range(2):
            person = record_opt_in(session, f"3460000003{n}", MORNING - timedelta(days=3),
                                   channel="cli", note="t")
            session.flush()
            assert person.id is not None
            session.add(_news(f"f{n}", person.id, MORNING))
    store.dispose()
    sent = _hub(project, clock, "send")
    assert "2 failed" in sent.output, sent.output
    status = _hub(project, clock, "status").output
    assert "Failures: no template configured (outside the 24-hour window): 2" in status
    assert "none" not in status.split("Failures:")[1]
    stats = _hub(project, clock, "stats", "--json")
    assert "unknown" not in stats.output and "no template configured" in stats.output


def test_preview_says_until_when_quiet_hours_hold_the_run(hub_cli, project, cloud_api) -> None:
    from importlib import resources

    (project / "feed.xml").write_bytes(resources.files("hub").joinpath("samples/feed.xml").read_bytes())
    write_config(hub_cli.config, _config(cloud_api.base_url) + (
        '\n[[sources]]\ntype = "rss"\nname = "ejemplo"\nurl = "feed.xml"\ntags = ["noticias"]\n'
        '\n[[filters]]\ntype = "dedup"\nbackfill = 3\nbackfill_within = "36500 days"\n'
        '\n[[routines]]\nname = "noche"\nevery = "1 day"\nat = "23:00"\nmode = "each"\nmax_items = 1\n'))
    clock = FakeClock(datetime(2026, 1, 15, 21, 30, tzinfo=UTC))  # 22:30 in Madrid: the run is at 23:00
    assert _hub(project, clock, "poll").exit_code == 0
    assert _hub(project, clock, "subscribers", "add", "+34600000040", "--consent", "form").exit_code == 0
    preview = _hub(project, clock, "preview")
    assert preview.exit_code == 0, preview.output
    assert "1 would wait for the end of quiet hours, until tomorrow 08:00 CET" in preview.output
