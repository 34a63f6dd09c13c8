"""Running ``hub`` commands as child processes on real loopback ports, their output in files."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from hub.simulator.process import end_process


def free_port() -> int:
    """A loopback port free a moment ago (for a command that must be told its port up front)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Started:
    """A ``hub`` command running in the project folder, its output in a file we can read."""

    def __init__(self, project: Path, name: str, *args: str, env: dict[str, str]) -> None:
        self.log = project / f"{name}.log"
        self._out: IO[str] = self.log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "hub", *args], cwd=project,
                                     env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                                     stdout=self._out, stderr=subprocess.STDOUT, text=True)

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, seconds: float = 60) -> str:
        """Poll the log for a line another process causes (not waiting for time to pass)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if found := re.search(pattern, self.text()):
                return found.group(0)
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.text()}"
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not seen in {seconds} s:\n{self.text()}")

    def stop(self) -> None:
        end_process(self.proc)
        self._out.close()


@pytest.fixture
def started(project: Path) -> Iterator[Any]:
    running: list[Started] = []

    def start(name: str, *args: str, env: dict[str, str]) -> Started:
        process = Started(project, name, *args, env=env)
        running.append(process)
        return process

    yield start
    for process in running:
        process.stop()
