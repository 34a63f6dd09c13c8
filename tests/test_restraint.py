"""Restraint that holds by default, and replies that never eat the news (issue 14).

Each test runs on the store ``--backend`` names (SQLite, or a private PostgreSQL schema).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from hub.audience.inbound import Audience
from hub.contracts import Sink
from hub.delivery.holds import REPLY_LIMIT
from hub.routines import Routines
from hub.web.webhook_parse import Inbound
from tests.conftest import HubRunner
from tests.policy_helpers import RecordingSink
from tests.test_routines import World, _madrid

HOURLY_EACH = ('[[routines]]\nname = "cada-hora"\nevery = "1 hour"\nmode = "each"\n'
               'max_items = 10\n')


def _bare(database_url: str, extra: str = "") -> str:
    """A config that says nothing about caps: dedup, a console sink, an hourly routine."""
    return (f'[hub]\ndatabase_url = "{database_url}"\ntimezone = "Europe/Madrid"\n\n'
            f'[[filters]]\ntype = "dedup"\n\n[sinks.console]\n\n{HOURLY_EACH}\n{extra}')


def test_a_config_without_caps_gets_the_calm_defaults(project: Path, database_url: str) -> None:
    w = World(project, _bare(database_url), _madrid(2026, 3, 10, 3, 0))
    try:
        w.people(1)
        w.routines.tick()
        for n in range(10):
            w.item(f"Noticia {n}")
        w.clock.set(_madrid(2026, 3, 10, 4, 0))
        assert w.routines.tick()[0].stats.planned == 2, "2 a day by default; the rest held back"
        assert w.send() == 0, "nothing at 04:00: quiet hours 22:00-08:00 by default"
        w.clock.set(_madrid(2026, 3, 10, 8, 0))
        assert w.send() == 1, "one at 08:00; the next waits for the minimum gap"
        w.clock.set(_madrid(2026, 3, 10, 9, 0))
        assert w.send() == 0, "two hours apart by default"
        w.clock.set(_madrid(2026, 3, 10, 10, 0))
        assert w.send() == 1
        w.clock.set(_madrid(2026, 3, 10, 21, 0))
        assert w.send() == 0, "2 a day by default"
        assert [s.at for s in RecordingSink.sent] == [_madrid(2026, 3, 10, 8, 0), _madrid(2026, 3, 10, 10, 0)]
    finally:
        w.close()


def test_loosening_a_cap_is_said_in_words(project: Path, database_url: str) -> None:
    loose = '[caps]\nper_subscriber_per_day = "unlimited"\nquiet_hours = "none"\nmin_gap = "none"\n'
    w = World(project, _bare(database_url, loose), _madrid(2026, 3, 10, 3, 0))
    try:
        w.people(1)
        w.routines.tick()
        for n in range(10):
            w.item(f"Noticia {n}")
        w.clock.set(_madrid(2026, 3, 10, 4, 0))
        w.routines.tick()
        total = 0
        for _ in range(10):
            total += w.send()
        assert total == 10
    finally:
        w.close()


def test_hub_check_shows_the_caps_in_force(project: Path, hub_cli: HubRunner) -> None:
    (project / "hub.toml").write_text(_bare("sqlite:///hub.db"), encoding="utf-8")
    result = hub_cli("check")
    assert result.exit_code == 0, result.output
    assert ("caps:     2 news message(s) per person a day, at least 2 hour(s) apart, "
            "quiet hours 22:00-08:00, no messaging limit (the defaults; hub.toml has no [caps])"
            in result.output)
    (project / "hub.toml").write_text(_bare("sqlite:///hub.db", '[caps]\nquiet_hours = "none"\n'),
                                      encoding="utf-8")
    result = hub_cli("check")
    assert "no quiet hours" in result.output and "changed in [caps]: quiet_hours" in result.output
    (project / "hub.toml").write_text(_bare("sqlite:///hub.db", '[caps]\nquiet_hours = "off"\n'),
                                      encoding="utf-8")
    result = hub_cli("check")
    assert result.exit_code != 0 and 'caps.quiet_hours' in result.output
    assert 'or "none" for no quiet hours' in result.output


def _writes(w: World, phone: str, text: str, n: int) -> None:
    """``phone`` writes ``text`` (the webhook's part, in-process): the audience plans its answer."""
    with w.store.write() as session:
        Audience(w.config.audience, w.config.tz).handle(
            session, Inbound(key_source=f"msg:{n}", type="text", message_id=f"wamid.in{n}",
                             phone=phone, text=text, sent_at=w.clock.now()), n, w.clock.now())


def test_replies_never_eat_the_days_news(project: Path, database_url: str) -> None:
    topics = '[audience]\ntopics = { deportes = "Deportes", cultura = "Cultura" }\n'
    w = World(project, _bare(database_url, topics), _madrid(2026, 3, 10, 9, 0))
    try:
        w.people(1)
        phone = w._phones()[0]
        w.routines.tick()
        _writes(w, phone, "TEMAS", 1)
        _writes(w, phone, "AYUDA", 2)
        assert w.send() == 2, "two replies: conversation, not broadcast"
        w.item("Uno")
        w.item("Dos")
        w.clock.set(_madrid(2026, 3, 10, 10, 0))
        w.routines.tick()
        assert w.send() == 1, "the first story at once: the replies left no gap to wait for"
        w.clock.set(_madrid(2026, 3, 10, 12, 0))
        assert w.send() == 1, "the second story too: the replies did not use up the day"
        assert sorted(s.message.text.splitlines()[0] for s in RecordingSink.sent[2:]) == ["*Dos*", "*Uno*"]
    finally:
        w.close()


def test_a_reply_loop_stops_at_the_per_person_limit(project: Path, database_url: str) -> None:
    w = World(project, _bare(database_url), _madrid(2026, 3, 10, 9, 0))
    try:
        w.people(1)
        phone = w._phones()[0]
        for n in range(REPLY_LIMIT + 5):
            _writes(w, phone, "AYUDA", n + 1)
            w.send()
            w.clock.advance(seconds=30)
        assert len(RecordingSink.sent) == REPLY_LIMIT
        reasons = {d.reason for d in w.deliveries() if d.status == "skipped"}
        assert reasons == {"reply limit: 10 replies within 60 minutes"}
        w.clock.advance(hours=1)
        _writes(w, phone, "AYUDA", 99)
        assert w.send() == 1, "an hour later the conversation goes on"
    finally:
        w.close()


WHATSAPP_NO_TEMPLATE = ('[sinks.whatsapp]\nphone_number_id = "1234567890"\n'
                        'base_url = "http://127.0.0.1:9"\n')
TEMPLATE = 'template = { name = "news_update", language = "es", body = ["{title}", "{url}"] }\n'


def _whatsapp_world(project: Path, database_url: str, sink: str, start: datetime) -> tuple[World, Sink]:
    toml = _bare(database_url, sink).replace("[sinks.console]\n", "")
    w = World(project, toml, start)
    section = w.config.sinks["whatsapp"]
    registered = w.registry.get("sinks", "whatsapp")
    assert registered is not None
    return w, registered.cls(section.options)


def test_a_run_that_can_reach_nobody_keeps_its_stories(project: Path, database_url: str,
                                                       hub_cli: HubRunner,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_TOKEN", "t")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "s")
    w, sink = _whatsapp_world(project, database_url, WHATSAPP_NO_TEMPLATE, _madrid(2026, 3, 10, 9, 0))
    try:
        w.people(3)
        routines = Routines(w.config, w.store, w.clock, sink=sink)
        routines.tick()
        w.item("Uno")
        w.clock.set(_madrid(2026, 3, 10, 10, 0))
        [report] = routines.tick()
        assert report.status == "unreachable"
        assert report.note == ("reached nobody: 3 of 3 people: outside the 24-hour window and no "
                               "[sinks.whatsapp].template is configured")
        assert w.deliveries() == [], "nothing planned to fail"
        status = hub_cli("status")
        assert "routine cada-hora: a run reached nobody: 3 of 3 people" in status.output
        check = hub_cli("check")
        assert "CANNOT REACH: news cannot reach people: outside the 24-hour window and no" in check.output
        preview = hub_cli("preview")
        assert "CANNOT REACH 3 of 3 people: outside the 24-hour window" in preview.output
    finally:
        w.close()
    fixed = _whatsapp_world(project, database_url, WHATSAPP_NO_TEMPLATE + TEMPLATE,
                            _madrid(2026, 3, 10, 11, 0))
    w, sink = fixed
    try:
        [report] = Routines(w.config, w.store, w.clock, sink=sink).tick()
        assert report.status == "done" and report.stats is not None and report.stats.planned == 3
        assert {d.body["items"][0]["title"] for d in w.deliveries()} == {"Uno"}, "the story waited"
    finally:
        w.close()


def test_missing_secrets_reach_nobody(project: Path, database_url: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHATSAPP_TOKEN", raising=False)
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "s")
    w, sink = _whatsapp_world(project, database_url, WHATSAPP_NO_TEMPLATE + TEMPLATE,
                              _madrid(2026, 3, 10, 9, 0))
    try:
        w.people(2)
        routines = Routines(w.config, w.store, w.clock, sink=sink)
        routines.tick()
        w.item("Uno")
        w.clock.set(_madrid(2026, 3, 10, 10, 0))
        [report] = routines.tick()
        assert report.status == "unreachable"
        assert report.note == "reached nobody: 2 of 2 people: environment variable WHATSAPP_TOKEN not set"
    finally:
        w.close()
