"""``hub subscribers forget`` while ``hub run`` is up: the number and the name are gone from the
SQLite files themselves (database, WAL, shared memory), not only from query results (issue 18)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.storage.store import Store
from hub.web.signature import HEADER, sign
from tests.audience_kit import envelope
from tests.conftest import SIM_TOKEN, HubRunner, write_config, write_daemon_config

PHONE = "34612345678"
NAME = "Zoraida Quintanilla"


def _say(webhook: str, text: str, index: int) -> None:
    body = json.dumps(envelope({
        "contacts": [{"wa_id": PHONE, "profile": {"name": NAME}}],
        "messages": [{"from": PHONE, "id": f"wamid.disk{index}", "timestamp": str(int(time.time())),
                      "type": "text", "text": {"body": text}}]})).encode()
    answer = httpx.post(webhook, content=body, headers={HEADER: sign(body, "app-secret")}, timeout=10)
    assert answer.status_code == 200, answer.text


def _traces(project: Path) -> dict[str, int]:
    """How often the number (in any usual spelling) and the name appear in each SQLite file."""
    found: dict[str, int] = {}
    for path in sorted(project.glob("hub.db*")):
        data = path.read_bytes()
        for needle in (PHONE, PHONE[2:], "612 345 678", NAME, NAME.split()[1]):
            if count := data.count(needle.encode()):
                found[f"{path.name}: {needle}"] = count
    return found


def test_forget_leaves_no_number_and_no_name_in_the_sqlite_files(project: Path, hub_cli: HubRunner,
                                                                  cloud_api: Any,
                                                                  request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--backend") == "postgresql":
        pytest.skip("SQLite only: the files on disk are SQLite's (PostgreSQL is vacuumed, see docs)")
    write_daemon_config(project, cloud_api.base_url)
    env = {**os.environ, "WHATSAPP_TOKEN": SIM_TOKEN, "WHATSAPP_APP_SECRET": "app-secret",
           "WHATSAPP_VERIFY_TOKEN": "verify", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hub", "run"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = ""
        while "webhook:" not in line:
            line = proc.stdout.readline()
            assert line, "hub run ended before printing its summary"
        webhook = line.split()[1]
        for index, text in enumerate(["ALTA", f"mi número es {PHONE}, soy {NAME}", "TEMAS", "hola"]):
            _say(webhook, text, index)
        assert _traces(project), "the test must see the data before the forget"
        result = hub_cli("subscribers", "forget", PHONE, "--yes")
        assert result.exit_code == 0, result.output
        assert _traces(project) == {}, "copies left on disk while hub run is up"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert _traces(project) == {}


def test_forget_vacuums_the_touched_tables_on_postgresql(project: Path, hub_cli: HubRunner,
                                                         database_url: str,
                                                         request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--backend") != "postgresql":
        pytest.skip("PostgreSQL only: runs in the --backend=postgresql pass")
    write_config(project / "hub.toml", '[hub]\ndatabase_url = "sqlite:///unused.db"\n')
    assert hub_cli("subscribers", "add", PHONE, "--consent", "form", "--name", NAME).exit_code == 0
    store = Store(database_url)
    result = hub_cli("subscribers", "forget", PHONE, "--yes")
    assert result.exit_code == 0, result.output
    deadline = time.monotonic() + 10  # the vacuuming backend reports its statistics as it ends
    with store.engine.connect() as connection:
        while True:
            vacuumed = set(connection.exec_driver_sql(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND last_vacuum IS NOT NULL").scalars())
            connection.rollback()
            if {"subscribers", "consent_events", "inbound_messages"} <= vacuumed:
                break
            assert time.monotonic() < deadline, vacuumed
            time.sleep(0.1)  # statistics are published by another backend: polled, bounded
    store.dispose()
