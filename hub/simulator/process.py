"""The simulator in its own process (``hub sandbox``), for timing that must not share a GIL.

In one process, a busy dispatcher delays the simulator's thread, which then reads several
requests at once and logs them as a burst that never happened on the wire. Rate measurements
(the pacing test, the benchmarks) therefore run the simulator as a child process and read its
log of accepted messages over HTTP. Where allowed, the child runs at a higher scheduling priority:
on a busy machine a descheduled simulator reads queued requests late and logs them as a burst,
so the instrument gets the CPU first and measures the wire, not the scheduler.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def _raise_priority(increment: int) -> None:
    with contextlib.suppress(OSError):  # not permitted here: run at normal priority
        os.nice(increment)


class SandboxProcess:
    """``hub sandbox --port 0`` as a child process; ``accepted()`` reads its log."""

    def __init__(self, *args: str, token: str, cwd: Path | None = None, priority: int = -10) -> None:
        env = {**os.environ, "WHATSAPP_TOKEN": token, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "sandbox", "--port", "0", *args], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=lambda: _raise_priority(priority))
        self.base_url = ""
        deadline = time.monotonic() + 30
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"hub sandbox exited with {self.proc.wait()}")
            if line.startswith("Cloud API simulator at "):
                self.base_url = line.split()[4]
                break
        if not self.base_url:
            self.stop()
            raise RuntimeError("hub sandbox did not start in 30 s")
        self._client = httpx.Client(timeout=30)

    def accepted(self) -> list[dict[str, Any]]:
        """Every accepted message: wamid, to, type, arrival time (``at``, seconds since the epoch)."""
        accepted: list[dict[str, Any]] = self._client.get(f"{self.base_url}/_sim/messages").json()
        return accepted

    def stop(self) -> None:
        end_process(self.proc)
        if hasattr(self, "_client"):
            self._client.close()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def end_process(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM a child still running, give it 10 s to finish, then SIGKILL it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
