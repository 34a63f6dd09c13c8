"""The first commands a new admin types: --version, init, check, demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from sqlalchemy import text

from hub import __version__
from hub.storage.store import Store
from tests.conftest import REPO


def test_version(hub_cli) -> None:
    result = hub_cli("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_init_writes_a_starter_that_checks_and_polls(hub_cli, project) -> None:
    result = hub_cli("init")
    assert result.exit_code == 0, result.output
    text = hub_cli.config.read_text()
    assert text.count("#") > 10, "the starter explains its keys"
    checked = hub_cli("check")
    assert checked.exit_code == 0, checked.output
    assert "source:   ejemplo [rss] every 10 minutes" in checked.output
    assert "sink:     console [console] ← delivers" in checked.output
    polled = hub_cli("poll", "--once")
    # The sample's dates are fixed: how many of its newest 3 are still fresh depends on the day.
    assert "ejemplo: 5 fetched" in polled.output and "new item(s) stored" in polled.output, \
        polled.output
    assert "seen (first poll: recorded, not sent)" in polled.output


def test_init_refuses_to_overwrite(hub_cli) -> None:
    hub_cli.config.write_text("# mine\n")
    result = hub_cli("init")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert hub_cli.config.read_text() == "# mine\n"


def test_repository_hub_toml_is_valid(tmp_path) -> None:
    """The embedded defaults at the top of the repository always validate."""
    from hub.config import load_config
    from hub.plugins import load

    config = load_config(REPO / "hub.toml", load()[1])
    assert [s.type for s in config.sources] == ["rss"]


def test_demo_runs_end_to_end(tmp_path) -> None:
    """`hub demo` with no account and no config: people join, two runs, statuses, someone leaves."""
    keep = tmp_path / "kept"
    result = subprocess.run([sys.executable, "-m", "hub", "demo", "--keep", str(keep)], capture_output=True,
                            text=True, timeout=60, env={"HUB_LOAD_PLUGINS": "", "PATH": ""})
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    assert "9 welcome messages arrived at their phones" in out
    assert "Sara    ES.••••20  «ALTA deportes»" in out and "(@sara, number hidden)" in out
    assert "Polling the sample feed: 5 new item(s) stored." in out
    assert "polling again: 2 new item(s) stored." in out
    assert "run #1:" in out and "run #2:" in out
    figures = re.findall(r"News so far: (\d+) reached, (\d+) delivered, (\d+) read", out)
    assert len(figures) == 2
    reached, delivered, read = map(int, figures[-1])
    assert reached > 0 and delivered > 0 and read > 0, out
    assert "Andrés +34•••••••02 writes «BAJA»: unsubscribed at once" in out
    assert "Sara ES.••••20 writes «BAJA» from a username account" in out
    assert re.search(r"2026-11-26  new +9  left +2  net +\+7", out), out  # the stats show who left
    assert re.search(r"noticias#1 +reached +\d+  left +2 ", out), out  # …after the run that preceded
    assert not re.search(r"noticias#1 .* 0:00:00\n", out), "people read some minutes later"
    assert "/dashboard" in out and "HUB_DASHBOARD_TOKEN" in out
    assert "3460000000" not in out and "20481632641282565120" not in out, "numbers and BSUIDs are masked"
    assert (keep / "hub.toml").is_file() and (keep / "demo.db").is_file()


def test_hub_database_url_overrides_hub_toml_and_check_hides_its_password(
        hub_cli, project, monkeypatch) -> None:
    """A server URL carries a password, so it comes from the environment, not from hub.toml."""
    elsewhere = os.environ.get("HUB_DATABASE_URL") or f"sqlite:///{project / 'elsewhere.db'}"
    monkeypatch.setenv("HUB_DATABASE_URL", elsewhere)
    assert hub_cli("init").exit_code == 0
    assert 'database_url = "sqlite:///hub.db"' in hub_cli.config.read_text()
    polled = hub_cli("poll", "--once")
    # The sample's dates are fixed: how many of its newest 3 are still fresh depends on the day.
    assert "ejemplo: 5 fetched" in polled.output and "new item(s) stored" in polled.output, \
        polled.output
    assert not (project / "hub.db").exists(), "hub.toml's SQLite file is not the store"
    store = Store(elsewhere)
    with store.read() as session:
        assert session.execute(text("SELECT count(*) FROM items")).scalar() == 5
    store.dispose()

    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://hub:s3cret@db.example/news")
    checked = hub_cli("check")
    assert checked.exit_code == 0, checked.output
    assert "store:    postgresql+psycopg://hub:***@db.example/news (from HUB_DATABASE_URL" in checked.output
    assert "s3cret" not in checked.output
