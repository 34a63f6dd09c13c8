"""Plugins: built-ins and an entry-point plugin are listed and used the same way."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hub
from hub.contracts import FetchContext, FetchResult, Source, SourceOptions
from hub.errors import PluginError
from hub.news import NewsItem
from hub.plugins import load
from tests.conftest import HubRunner, write_config

PLUGIN_CODE = '''
import hub
from hub.contracts import FetchResult, Source, SourceOptions
from hub.news import NewsItem


class CalendarOptions(SourceOptions):
    city: str


class CalendarSource(Source):
    Options = CalendarOptions

    async def fetch(self, ctx):
        return FetchResult([NewsItem(source=self.name, guid=f"cal-{i}",
                                     title=f"Evento {i} en {self.options.city}")
                            for i in range(3)])


@hub.hookimpl
def register_sources(register):
    register("calendar", CalendarSource)
'''


def _install_plugin(site: Path) -> None:
    """Build a real distribution with an entry point in the ``hub`` group, on a path."""
    (site / "hub_calendar_plugin.py").write_text(PLUGIN_CODE)
    dist = site / "hub_calendar_plugin-1.2.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hub-calendar-plugin\nVersion: 1.2.0\n")
    (dist / "entry_points.txt").write_text("[hub]\ncalendar = hub_calendar_plugin\n")


def _run(args: list[str], cwd: Path, site: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "HUB_LOAD_PLUGINS"}
    environ["PYTHONPATH"] = os.pathsep.join([str(site), environ.get("PYTHONPATH", "")])
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "hub", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=60)


def test_builtin_types_are_listed(hub_cli) -> None:
    result = hub_cli("plugins")
    assert result.exit_code == 0
    assert "whatsapp_news_hub_plugins.sources.rss" in result.output and "(built-in)" in result.output
    for line in ("source  rss", "filter  dedup", "sink    console"):
        assert line in result.output


def test_entry_point_plugin_is_listed_and_its_source_works(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    project = tmp_path / "project"
    project.mkdir()
    write_config(project / "hub.toml", textwrap.dedent("""
        [[sources]]
        type = "calendar"
        name = "agenda"
        city = "Villanueva"
        [sinks.console]
    """))

    listed = _run(["plugins"], project, site)
    assert listed.returncode == 0, listed.stderr
    assert "calendar 1.2.0  (entry point hub_calendar_plugin from hub-calendar-plugin)" in listed.stdout
    assert "source  calendar" in listed.stdout

    polled = _run(["poll", "--once"], project, site)
    assert polled.returncode == 0, polled.stderr
    assert "agenda: 3 fetched, 3 new" in polled.stdout

    typo = project / "typo.toml"
    write_config(typo, '[[sources]]\ntype = "calendar"\nname = "agenda"\ncity = 1\n')
    checked = _run(["--config", str(typo), "check"], project, site)
    assert checked.returncode == 1
    assert "sources[0].city: Input should be a valid string" in checked.stderr

    hidden = _run(["plugins"], project, site, HUB_LOAD_PLUGINS="")
    assert "calendar" not in hidden.stdout


def test_plugin_registered_at_runtime_provides_a_type(hub_cli) -> None:
    class EchoSource(Source):
        async def fetch(self, ctx: FetchContext) -> FetchResult:
            return FetchResult([NewsItem(source=self.name, guid="1", title="eco")])

    class EchoPlugin:
        @hub.hookimpl
        def register_sources(self, register):
            register("echo", EchoSource)

    runner = HubRunner(hub_cli.config, extra_plugins=[EchoPlugin()])
    write_config(runner.config, '[[sources]]\ntype = "echo"\nname = "e"\n')
    result = runner("poll", "--once")
    assert "e: 1 fetched, 1 new" in result.output, result.output


def test_misspelt_hook_is_a_hard_error() -> None:
    class Typo:
        @hub.hookimpl
        def register_sorces(self, register):  # misspelt on purpose
            pass

    with pytest.raises(PluginError, match="register_sorces"):
        load([Typo()])


def test_registering_a_non_source_is_refused() -> None:
    class Wrong:
        @hub.hookimpl
        def register_sources(self, register):
            register("wrong", dict)

    with pytest.raises(PluginError, match="register a subclass of hub.contracts.Source"):
        load([Wrong()])


def test_two_plugins_claiming_one_type_name_is_refused() -> None:
    class Clash(Source):
        Options = SourceOptions

        async def fetch(self, ctx):  # pragma: no cover - never called
            raise NotImplementedError

    class Other:
        @hub.hookimpl
        def register_sources(self, register):
            register("rss", Clash)

    with pytest.raises(PluginError, match="provided by both"):
        load([Other()])
