"""Shared fixtures: a temp project folder, the CLI runner, loopback servers, ../shared."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hub.app import App
from hub.cli import cli
from hub.loopback import Document, LoopbackServer
from hub.simulator import SimulatorConfig, SimulatorServer
from hub.simulator.process import SandboxProcess
from hub.storage.store import safe_url

pytest.register_assert_rewrite("tests.backend")
from tests.backend import (  # noqa: E402 - after the rewrite registration
    BACKENDS,
    PG_URL,
    backend,
    db_url,
    open_db,
    postgres_unreachable,
    sqlite_only,
)

pytest_plugins = [
    "tests.backend",  # the store each test uses: SQLite or a private PostgreSQL schema
    "tests.audience_kit",  # the webhook's loopback server and `hub` fixtures
    "tests.process_kit",  # `hub` commands as child processes (`started`)
]

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HUB_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed third-party plugins must not leak into the tests."""
    monkeypatch.setenv("HUB_LOAD_PLUGINS", "")
    monkeypatch.delenv("HUB_CONFIG", raising=False)


@pytest.fixture
def shared() -> Path:
    """The team's shared ground truth (../shared); tests that need it skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared fixtures and references are not here")
    return SHARED


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty folder that plays the admin's project directory."""
    return tmp_path


class HubRunner:
    """Runs ``hub`` commands in-process against a config file, like a user at a terminal."""

    def __init__(self, config: Path, extra_plugins: list[object] | None = None) -> None:
        self.config = config
        self.extra_plugins = extra_plugins or []

    def __call__(self, *args: str) -> Result:
        app = App(self.config, extra_plugins=list(self.extra_plugins))
        return CliRunner().invoke(cli, ["--config", str(self.config), *args], obj=app)


@pytest.fixture
def hub_cli(project: Path) -> HubRunner:
    return HubRunner(project / "hub.toml")


@pytest.fixture
def feed_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


SIM_TOKEN = "sim-token-for-tests"


@pytest.fixture
def cloud_api_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SimulatorServer]]:
    """Start Cloud API simulators on loopback (``cloud_api_factory(clock=..., latency=...)``).

    The token the simulator accepts is exported as ``WHATSAPP_TOKEN``, as an admin would.
    """
    servers: list[SimulatorServer] = []
    monkeypatch.setenv("WHATSAPP_TOKEN", SIM_TOKEN)

    def start(**overrides: Any) -> SimulatorServer:
        config = SimulatorConfig(**{"token": SIM_TOKEN, **overrides})
        server = SimulatorServer(config).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def cloud_api_process(tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SandboxProcess]]:
    """The simulator as a child process (``hub sandbox``), for rate measurements on its own log."""
    processes: list[SandboxProcess] = []
    monkeypatch.setenv("WHATSAPP_TOKEN", SIM_TOKEN)

    def start(*args: str) -> SandboxProcess:
        process = SandboxProcess(*args, token=SIM_TOKEN, cwd=tmp_path)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.stop()


@pytest.fixture
def cloud_api(cloud_api_factory: Callable[..., SimulatorServer]) -> SimulatorServer:
    """A running Cloud API simulator with its defaults (80 msg/s, 6 s pair rate, no latency)."""
    return cloud_api_factory()


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_daemon_config(project: Path, base_url: str) -> Path:
    """A hub.toml for `hub run` against the simulator at ``base_url``: SQLite, the caps loosened
    (these tests are not about restraint), the webhook on a free port."""
    return write_config(project / "hub.toml", f"""
[hub]
database_url = "sqlite:///hub.db"

[caps]
per_subscriber_per_day = "unlimited"
min_gap = "none"
quiet_hours = "none"

[sinks.whatsapp]
phone_number_id = "1234567890"
base_url = "{base_url}"
template = {{ name = "news_update", language = "es", body = ["{{title}}", "{{url}}"] }}

[webhook]
port = 0
""")


# --- the backend: SQLite always, PostgreSQL with --backend=postgresql (tests/backend.py) -------

def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=BACKENDS, default=None,
                     help="the store every test uses: sqlite (default; also HUB_TEST_BACKEND) or "
                          "postgresql (a private schema per test on HUB_TEST_DATABASE_URL)")


# Tests whose assertions depend on wall-clock pacing or on a quiet CPU (rates per second, answer
# times, kills at random moments). `make test` runs them alone, after the parallel part, so a
# second worker never competes with them; a test may also say so itself with @pytest.mark.serial.
SERIAL_FILES = ("test_hostile_feeds.py", "test_crash.py",
                "test_workers.py", "test_faults.py", "test_daemon.py",
                "test_slow_clients.py", "test_optout_under_load.py", "test_shared_rate.py")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(why): about SQLite itself; skipped on PostgreSQL")
    config.addinivalue_line("markers", "empty_store: on PostgreSQL, the test's schema starts empty, "
                                       "not already built (tests about migrations and empty stores)")
    config.addinivalue_line("markers", "serial: timing-sensitive; `make test` runs it alone, not in parallel")


def pytest_report_header(config: pytest.Config) -> list[str]:
    if backend(config) == "sqlite":
        return ["backend: sqlite (a file per test)"]
    reason = postgres_unreachable()
    return [f"backend: postgresql at {safe_url(PG_URL)} (a schema per test)"
            + (f" -- EVERY TEST SKIPS: {reason}" if reason else "")]


# The longest files go first, so no worker is left with one of them at the end while the other
# idles (each takes 10-45 s; most tests take well under one).
LONGEST_FIRST = ("test_month.py", "test_webhook_batching.py", "test_poll_exit.py", "test_webhook_fuzz.py",
                 "test_first_hour.py", "test_plugins.py", "test_cli_help.py", "test_policy_stores.py",
                 "test_dashboard_browser.py", "test_cli_basics.py", "test_routines.py")


# Files none of whose tests opens a store (checked by running the PostgreSQL pass with empty
# schemas and looking for tables afterwards): they run once, in the SQLite pass; on PostgreSQL
# they would repeat the same work for nothing. A test in them that needs the store belongs elsewhere.
STORE_FREE_FILES = ("test_when.py", "test_normalise.py", "test_config_errors.py", "test_relevance.py",
                    "test_whatsapp_conformance.py", "test_signature.py", "test_simulator.py",
                    "test_contrib.py", "test_docs.py", "test_typed_store.py", "test_text.py",
                    "test_cli_startup.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SERIAL_FILES:
            item.add_marker(pytest.mark.serial)
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole
    if backend(config) != "postgresql":
        return
    reason = postgres_unreachable()
    for item in items:
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))
        elif (mark := item.get_closest_marker("sqlite_only")) is not None:
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {mark.args[0]}"))
        elif item.path.name in STORE_FREE_FILES:
            item.add_marker(pytest.mark.skip(reason="opens no store: runs once, in the SQLite pass"))


__all__ = ["SIM_TOKEN", "Document", "HubRunner", "db_url", "open_db", "sqlite_only", "write_config",
           "write_daemon_config"]
