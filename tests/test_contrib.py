"""contrib/: the systemd unit and the Docker image's entrypoint, tested as far as this machine allows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub.config import DATABASE_URL_ENV, load_config
from hub.plugins import load

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "contrib" / "whatsapp-news-hub.service"
ENTRYPOINT = REPO / "contrib" / "docker-entrypoint.sh"
DOCKERFILE = REPO / "contrib" / "Dockerfile"


def _unit_settings() -> list[tuple[str, str]]:
    """(key, value) pairs of the unit, repeated keys kept (systemd allows several Environment=)."""
    pairs = []
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            pairs.append((key.strip(), value.strip()))
    return pairs


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    unit = tmp_path / UNIT.name
    hub_bin = Path(sys.executable).parent / "hub"  # the ExecStart binary must exist to verify
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(
        "/opt/whatsapp-news-hub/.venv/bin/hub", str(hub_bin)), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "whatsapp-news-hub.service" not in done.stderr, done.stderr


def test_the_units_default_sqlite_store_lands_in_its_writable_state_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the starter hub.toml in /etc (read-only under ProtectSystem=strict), the store the hub
    opens is the one in StateDirectory=, not /etc/whatsapp-news-hub/hub.db."""
    settings = _unit_settings()
    assert ("ProtectSystem", "strict") in settings
    [state] = [v for k, v in settings if k == "StateDirectory"]
    environment = dict(v.split("=", 1) for k, v in settings if k == "Environment")
    config_path = Path(environment["HUB_CONFIG"])
    assert config_path.parts[1] == "etc"
    starter = (REPO / "hub" / "starter.toml").read_text(encoding="utf-8")
    local = tmp_path / "hub.toml"
    local.write_text(starter, encoding="utf-8")
    monkeypatch.setenv(DATABASE_URL_ENV, environment[DATABASE_URL_ENV])
    config = load_config(local, load()[1])
    database = Path(config.database_url.removeprefix("sqlite:///"))
    assert database.parent == Path("/var/lib") / state
    # …and a HUB_DATABASE_URL in the EnvironmentFile (read after Environment=) still wins.
    assert [k for k, _ in settings].index("EnvironmentFile") > max(
        i for i, (k, _) in enumerate(settings) if k == "Environment")


def _run_entrypoint(data: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUB_CONFIG": str(data / "hub.toml"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "HUB_LOAD_PLUGINS": ""}
    env.pop(DATABASE_URL_ENV, None)
    return subprocess.run(["sh", str(ENTRYPOINT), *command], cwd=data, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_entrypoint_writes_a_starter_config_on_an_empty_volume_then_runs_the_command(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    done = _run_entrypoint(data, "hub", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "writing a starter one" in done.stderr
    assert (data / "hub.toml").is_file() and (data / "sample-feed.xml").is_file()

    (data / "hub.toml").write_text((data / "hub.toml").read_text(encoding="utf-8")
                                   + "\n# edited by the admin\n", encoding="utf-8")
    again = _run_entrypoint(data, "sh", "-c", "echo ran $0", "it")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "ran it"
    assert "starter" not in again.stderr
    assert (data / "hub.toml").read_text(encoding="utf-8").endswith("# edited by the admin\n")


def test_the_image_has_a_healthcheck_a_postgresql_driver_and_the_entrypoint() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    healthcheck = next(line for line in text.splitlines() if "CMD" in line and "healthz" in line)
    assert "127.0.0.1:8080/healthz" in healthcheck
    assert '".[postgres]"' in text
    assert "COPY contrib/docker-entrypoint.sh" in text
    assert 'ENTRYPOINT ["docker-entrypoint.sh"]' in text
    assert os.access(ENTRYPOINT, os.X_OK)
