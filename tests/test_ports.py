"""A busy port is one line naming the port and the option; `--port 0` tells the port it got."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

SECRETS = {"WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_TOKEN": "t"}


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "sandbox"])
def test_a_busy_port_is_one_line_naming_it_and_the_option(project: Path, busy_port: int,
                                                          command: str) -> None:
    subprocess.run([sys.executable, "-m", "hub", "init"], cwd=project, check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-m", "hub", command, "--port", str(busy_port), "--for", "1"]
                            if command == "sandbox" else
                            [sys.executable, "-m", "hub", command, "--port", str(busy_port)],
                            cwd=project, env={**os.environ, **SECRETS}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert result.stdout == ""  # nothing claims to listen
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"port {busy_port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_on_port_0_prints_the_port_it_got(project: Path, started: Any) -> None:
    subprocess.run([sys.executable, "-m", "hub", "init"], cwd=project, check=True, capture_output=True)
    serve = started("serve", "serve", "--port", "0", env=SECRETS)
    url = serve.wait_for(r"Webhook listening on http://127\.0\.0\.1:\d+/webhook").split()[-1]
    assert int(url.rsplit(":", 1)[1].split("/")[0]) > 0
    answer = httpx.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "v",
                                    "hub.challenge": "42"}, timeout=10)
    assert answer.text == "42"
