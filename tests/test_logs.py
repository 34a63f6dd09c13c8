"""Logs never show a whole phone number, in text or JSON."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from hub.audience.consent import record_opt_in
from hub.logs import JsonFormatter, MaskingFilter
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow
from hub.web.signature import HEADER, sign
from tests.audience_kit import envelope
from tests.backend import db_url, sqlite_only
from tests.conftest import SIM_TOKEN, write_daemon_config


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("hub.test", logging.INFO, __file__, 1, msg, args, None)


def test_phone_numbers_are_masked_in_any_log_line() -> None:
    record = _record("delivery %s to %s failed", 17, "34612345678")
    MaskingFilter().filter(record)
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert "34612345678" not in line
    assert data["message"] == "delivery 17 to +34•••••••78 failed"
    assert data["level"] == "info" and data["logger"] == "hub.test"


# --- issue 18: every line `hub run --log-format json` writes, uvicorn's and tracebacks included ----

def _json_lines(proc: subprocess.Popen[str], until: str, seen: list[str]) -> dict[str, object]:
    """Read lines (each must be JSON) until one whose text holds ``until``; returns that one."""
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        assert line, "hub run ended early:\n" + "".join(seen)
        seen.append(line)
        entry = json.loads(line)  # fails the test on the first line that is not JSON
        if until in line:
            return dict(entry)


@sqlite_only("the forced traceback comes from a SQLite trigger (its syntax); the logging is the same on both")
def test_json_logs_every_line_parses_and_a_traceback_shows_no_number(project: Path,
                                                                     cloud_api: Any) -> None:
    phone = "34612345678"
    write_daemon_config(project, cloud_api.base_url)
    store = Store(db_url(project / "hub.db"))
    now = datetime.now(UTC)
    with store.write() as session:
        person = record_opt_in(session, phone, now, channel="cli", note="test")
        session.add(DeliveryRow(key="item:1", subscriber_id=person.id, status="planned", created_at=now,
                                due_at=now, body={"kind": "item", "text": "Noticia", "items": [
                                    {"id": 1, "title": "Noticia", "url": "https://example.org/n"}]}))
    with store.engine.begin() as connection:  # a store fault whose error text names the person
        connection.exec_driver_sql(f"CREATE TRIGGER refuse BEFORE UPDATE ON deliveries BEGIN "
                                   f"SELECT RAISE(ABORT, 'refused for {phone}'); END")
    store.dispose()
    env = {**os.environ, "WHATSAPP_TOKEN": SIM_TOKEN, "WHATSAPP_APP_SECRET": "app-secret",
           "WHATSAPP_VERIFY_TOKEN": "verify", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hub", "run", "--log-format", "json"], cwd=project,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        summary = _json_lines(proc, "webhook:", seen)
        webhook = next(w for w in str(summary["message"]).split() if w.startswith("http://"))
        failed = _json_lines(proc, "dispatch failed", seen)  # the forced traceback
        assert "Traceback" in str(failed["error"]) and "refused for +34" in str(failed["error"])
        body = json.dumps(envelope({"messages": [{"from": phone, "id": "wamid.log", "timestamp": "1",
                                                  "type": "text", "text": {"body": "hola"}}]})).encode()
        answer = httpx.post(webhook, content=body, headers={HEADER: sign(body, "app-secret")})
        assert answer.status_code == 200
        _json_lines(proc, "text from", seen)
        host, port = webhook.split("/")[2].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:  # uvicorn's own warning
            raw.sendall(b"NOT HTTP AT ALL 34612345678\r\n\r\n")
            raw.recv(1024)
        assert _json_lines(proc, "Invalid HTTP request", seen)["logger"] == "uvicorn.error"
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
    lines = seen + rest.splitlines(keepends=True)
    for line in lines:
        json.loads(line)
    output = "".join(lines)
    assert phone not in output and phone[2:] not in output, "an unmasked number in the logs"
    assert "stopped cleanly" in output
