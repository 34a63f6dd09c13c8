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

pytest_plugins = ["tests.audience_kit"]  # the webhook's loopback server and `hub` fixtures

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




# --- store URLs: SQLite always, PostgreSQL where reachable -------------------------------------

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_pg_reason: list[str] = []


def _postgres_reachable() -> str | None:
    """None when the test PostgreSQL answers, else why not (printed in the skip reason)."""
    if _pg_reason:
        return _pg_reason[0] or None
    try:
        import psycopg

        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        _pg_reason.append("")
    except Exception as exc:  # noqa: BLE001 - any failure means "skip the PostgreSQL runs"
        _pg_reason.append(f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}: {exc})"[:300])
    return _pg_reason[0] or None


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, and a private PostgreSQL schema where reachable."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    reason = _postgres_reachable()
    if reason:
        pytest.skip(reason)
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
__all__ = ["SIM_TOKEN", "Document", "HubRunner", "write_config"]
