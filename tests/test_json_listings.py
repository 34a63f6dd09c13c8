"""`--json` on every listing: what scripts and cron read parses as JSON and says the same thing."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.app import App
from hub.cli import cli
from hub.simulator import SimulatorServer
from tests.money_kit import hub_toml


@pytest.fixture
def project_json(tmp_path: Path, cloud_api: SimulatorServer) -> Path:
    sample = resources.files("hub").joinpath("samples/feed.xml").read_bytes()
    (tmp_path / "sample-feed.xml").write_bytes(sample)
    config = hub_toml(tmp_path, cloud_api, extra=(
        '\n[[sources]]\ntype = "rss"\nname = "ejemplo"\nurl = "sample-feed.xml"\ntags = ["noticias"]\n'))
    assert _run(config, "poll").exit_code == 0
    assert _run(config, "subscribers", "add", "+34600000001", "--consent", "form").exit_code == 0
    return config


def _run(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(config), *args], obj=App(config))


def _json(config: Path, *args: str) -> Any:
    result = _run(config, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_status_json(project_json: Path) -> None:
    data = _json(project_json, "status")
    assert data["sending"]["state"] == "running" and data["deliveries"]["planned"] == 0
    assert data["timezone"] == "Europe/Madrid" and data["waiting"] == []


def test_sources_json(project_json: Path) -> None:
    assert [s["name"] for s in _json(project_json, "sources")] == ["ejemplo"]
    listed = _json(project_json, "sources", "list")
    assert listed[0]["items"] == 5 and listed[0]["state"] == "ok" and listed[0]["last_success_at"]


def test_subscribers_list_json_masks_numbers(project_json: Path) -> None:
    people = _json(project_json, "subscribers", "list")
    assert len(people) == 1 and people[0]["status"] == "active"
    assert "34600000001" not in json.dumps(people)
    assert _json(project_json, "subscribers", "list", "--full")[0]["who"].endswith("34600000001")


def test_routines_json(project_json: Path) -> None:
    routines = _json(project_json, "routines")
    assert routines[0]["name"] == "mañanas" and routines[0]["at"] == "09:30"


def test_items_list_json(project_json: Path) -> None:
    items = _json(project_json, "items", "list")
    assert len(items) == 5 and {i["source"] for i in items} == {"ejemplo"}


def test_preview_json(project_json: Path) -> None:
    preview = _json(project_json, "preview")
    assert preview["routine"] == "mañanas" and preview["timezone"] == "Europe/Madrid"
    assert {"to_send", "held_by_daily_cap", "waiting_quiet_hours"} <= set(preview["messages"])


def test_check_json(project_json: Path) -> None:
    report = _json(project_json, "check")
    assert report["ok"] is True and report["sinks"] == [{"name": "whatsapp", "type": "whatsapp",
                                                          "delivers": True}]
    assert report["sources"][0]["name"] == "ejemplo"


def test_templates_json(project_json: Path) -> None:
    listed = _json(project_json, "templates")
    used = [t for t in listed["templates"] if t["used"]]
    assert [(t["name"], t["language"]) for t in used] == [("news_update", "es")]
    assert listed["problems"] == []
