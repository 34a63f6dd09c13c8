"""The account's templates: listed over pages, checked against hub.toml, and watched for pauses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from hub.app import App
from hub.cloudapi.templates import preflight, read_account, uses_from_config
from hub.commands.serve import webhook_app
from hub.routines import Routines
from hub.simulator import SimulatorServer
from hub.simulator.shapes import TemplateSpec
from hub.storage.tables import AlertRow, RoutineRunRow, TemplateRow
from hub.timekeeping.clock import FakeClock
from hub.web.asgi_server import serve_in_thread
from tests.money_kit import SECRET, START, Hub, hub_toml, wait_for


def _templates(count: int = 3) -> dict[str, TemplateSpec]:
    found = {"news_update": TemplateSpec(languages=("es", "en_US"), body_params=2),
             "news_digest": TemplateSpec(languages=("es",), body_params=2, header_image=True,
                                         url_button_index=0, category="utility")}
    for n in range(count):
        found[f"aviso_{n}"] = TemplateSpec(languages=("es",), body_params=1)
    return found


@pytest.fixture
def hub(tmp_path: Path, cloud_api_factory: Callable[..., SimulatorServer],
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    clock = FakeClock(START)
    server = cloud_api_factory(clock=clock, app_secret=SECRET, templates=_templates(),
                               template_page_size=3)
    monkeypatch.setenv("WHATSAPP_APP_SECRET", SECRET)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "verify")
    app = App(hub_toml(tmp_path, server))
    with serve_in_thread(webhook_app(app, clock=clock)) as base_url:
        server.simulator.poster.url = f"{base_url}{app.config.webhook.path}"
        yield Hub(app, server, clock)
        server.drain_webhooks()
    app.store.dispose()


def test_hub_templates_lists_every_page_with_status_category_quality_and_parameters(hub, hub_cli) -> None:
    result = hub_cli("--config", str(hub.app.config.path), "templates")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 + 6  # a header, then 6 template languages from 2 pages of 3 and 3
    assert hub.sim.template_reads == 2
    assert any(line.split()[:5] == ["news_digest", "es", "APPROVED", "UTILITY", "GREEN"]
               and line.endswith("2 body, image header, URL button 0") for line in lines)
    assert any(line.startswith("news_update  es ") and "← used by hub.toml" in line for line in lines)
    with hub.app.store.read() as session:  # what was read is kept: categories price the sends
        assert session.get(TemplateRow, ("news_digest", "es")).category == "UTILITY"


@pytest.mark.parametrize(("template", "expected"), [
    ('{ name = "news_updat", language = "es", body = ["{title}", "{url}"] }',
     "sinks.whatsapp.template.name: no template 'news_updat' in the WhatsApp Business Account"),
    ('{ name = "news_update", language = "pt_BR", body = ["{title}", "{url}"] }',
     "sinks.whatsapp.template.language: 'news_update' exists in en_US, es, not in 'pt_BR'"),
    ('{ name = "news_update", language = "es", body = ["{title}"] }',
     "sinks.whatsapp.template.body: 'news_update' (es) takes 2 body parameter(s); the config fills 1"),
])
def test_check_online_names_the_key_of_each_mismatch_in_one_line(hub, hub_cli, template: str,
                                                                  expected: str) -> None:
    path = hub.app.config.path
    path.write_text(path.read_text(encoding="utf-8").replace(
        'template = { name = "news_update", language = "es", body = ["{title}", "{url}"] }',
        f"template = {template}"), encoding="utf-8")
    result = hub_cli("--config", str(path), "check", "--online")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {expected}" + errors[0][len("error: ") + len(expected):]]
    assert "\n" not in errors[0] and errors[0].startswith(f"error: {expected}")


def test_check_online_passes_and_a_paused_template_is_reported(hub, hub_cli) -> None:
    ok = hub_cli("--config", str(hub.app.config.path), "check", "--online")
    assert ok.exit_code == 0, ok.output
    assert "templates: the account has every template hub.toml uses" in ok.output
    hub.sim.config.templates["news_update"] = TemplateSpec(languages=("es",), body_params=2, status="PAUSED")
    paused = hub_cli("--config", str(hub.app.config.path), "check", "--online")
    assert paused.exit_code == 1
    assert "error: sinks.whatsapp.template: 'news_update' (es) is PAUSED, not APPROVED" in paused.output


def test_a_paused_webhook_raises_an_alert_and_holds_the_routine_until_approved(hub, hub_cli) -> None:
    hub.join("34600000001")
    hub.story("Pleno municipal")
    routines = Routines(hub.app.config, hub.app.store, hub.clock)
    routines.tick()  # schedules the first slot (09:30 local)
    hub.server.run(lambda: hub.sim.set_template_status("news_update", "PAUSED", "LOW_QUALITY"))

    def alerts() -> list[AlertRow]:
        with hub.app.store.read() as session:
            return list(session.exec(select(AlertRow).where(AlertRow.cleared_at.is_(None))))

    wait_for(alerts, "the alert from the template webhook")
    assert "template 'news_update' (es) is PAUSED: LOW_QUALITY" in alerts()[0].message
    assert "template 'news_update' (es) is PAUSED" in hub_cli("--config", str(hub.app.config.path),
                                                              "status").output
    hub.clock.advance(hours=1, minutes=40)  # 10:40 in Madrid: the slot is due
    reports = routines.tick()
    assert [(r.status, r.note) for r in reports] == [
        ("missed", "missed: held: template 'news_update' (es) is PAUSED")]
    assert hub.items()[0].planned_at is None  # the story waits for the next run

    hub.server.run(lambda: hub.sim.set_template_status("news_update", "APPROVED"))
    wait_for(lambda: not alerts(), "the alert cleared by the approval")
    hub.clock.advance(days=1)
    assert [r.status for r in routines.tick()] == ["done"]
    with hub.app.store.read() as session:
        assert [r.status for r in session.exec(select(RoutineRunRow).order_by(RoutineRunRow.id))] == [
            "missed", "done"]


def test_the_periodic_read_finds_a_disabled_template(hub) -> None:
    hub.sim.config.templates["news_update"] = TemplateSpec(languages=("es",), body_params=2,
                                                          status="DISABLED")
    config = App(hub.app.config.path).config
    problems = preflight(uses_from_config(config), read_account(config))
    assert problems == ["sinks.whatsapp.template: 'news_update' (es) is DISABLED, not APPROVED; "
                        "Meta refuses it until it is approved again"]
