"""Slow and vanishing webhook clients against `hub run`, over real sockets on loopback (issue 18).

A client that never finishes its body is cut after ``[webhook] body_timeout`` with a 408; one that
goes away mid-body costs one log line — no traceback, and no 5xx in ``/metrics``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SIM_TOKEN, write_config

CLIENTS = 20


def _start(project: Path) -> tuple[subprocess.Popen[str], str]:
    write_config(project / "hub.toml", """
[hub]
database_url = "sqlite:///hub.db"

[webhook]
port = 0
body_timeout = 1
""")
    env = {**os.environ, "WHATSAPP_TOKEN": SIM_TOKEN, "WHATSAPP_APP_SECRET": "app-secret",
           "WHATSAPP_VERIFY_TOKEN": "verify", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hub", "run"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        assert line, "hub run ended before printing its summary"
        if "webhook:" in line:
            return proc, line.split()[1].rsplit("/", 1)[0]


def _half_post(base: str) -> socket.socket:
    """A signed-looking post that promises 1,000 bytes and sends 10."""
    host, port = base.split("/")[2].split(":")
    raw = socket.create_connection((host, int(port)), timeout=10)
    raw.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"X-Hub-Signature-256: sha256=00\r\nContent-Length: 1000\r\n\r\n{\"entry\":[")
    return raw


def _webhook_outcomes(base: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(base + "/metrics").text):
        for sample in family.samples:
            if sample.name == "hub_webhook_requests_total":
                found[sample.labels["outcome"]] = sample.value
    return found


def test_slow_bodies_are_cut_and_vanishing_clients_are_one_line_not_a_5xx(project: Path) -> None:
    proc, base = _start(project)
    try:
        slow = [_half_post(base) for _ in range(CLIENTS)]
        started = time.monotonic()
        for raw in slow:  # each answered 408 and closed by the server, not held open
            answer = raw.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            while raw.recv(4096):
                pass
            raw.close()
        assert time.monotonic() - started < 6, "slow bodies were held well past body_timeout"

        for _ in range(CLIENTS):  # these go away mid-body
            _half_post(base).close()
        deadline = time.monotonic() + 10
        while _webhook_outcomes(base).get("4xx", 0) < 2 * CLIENTS:
            assert time.monotonic() < deadline, _webhook_outcomes(base)
            time.sleep(0.05)  # waiting for the server to notice closed sockets, not for time
        assert _webhook_outcomes(base).get("5xx", 0) == 0
        assert httpx.post(base + "/webhook", content=b"{}").status_code == 401  # still serving
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "Exception in ASGI" not in output, output
    assert output.count("went away before its body ended") == CLIENTS, output
    assert output.count("not finished within 1 s") == CLIENTS, output
