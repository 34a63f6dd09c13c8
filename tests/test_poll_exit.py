"""``hub poll --once`` ends quietly: nothing on stderr after a clean run (issue 19).

With enough sources, parsing runs in a process pool; shutting it down without waiting once left
"Exception ignored … ProcessPoolExecutor … Bad file descriptor" at the end of some runs. The
command runs here as a user runs it, in its own process, against feeds on a loopback server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from hub.intake.pipeline import POOL_MIN_SOURCES
from hub.loopback import Document, LoopbackServer
from tests.backend import sqlite_only
from tests.conftest import write_config

FEEDS = POOL_MIN_SOURCES + 4  # enough due sources for the parsing pool
RUNS = 6  # the noise came at the end of about one run in five


def _feed(n: int) -> Document:
    when = datetime.now(UTC) - timedelta(hours=1)
    items = "".join(
        f"<item><guid isPermaLink=\"false\">feed{n}-{i}</guid><title>Pleno {n}.{i}</title>"
        f"<link>https://villa{n}.example.org/{i}</link><description>Acuerdos del pleno {i}."
        f"</description><pubDate>{format_datetime(when - timedelta(minutes=i))}</pubDate></item>"
        for i in range(30))
    return Document(f'<?xml version="1.0"?><rss version="2.0"><channel><title>Villa {n}</title>'
                    f"<link>https://villa{n}.example.org/</link>{items}</channel></rss>".encode())


@sqlite_only("the parsing pool's shutdown is the same whatever the store")
def test_poll_once_writes_nothing_to_stderr_on_a_clean_run(project: Path) -> None:
    # No validators: every run downloads and parses every feed again, so every run uses the pool.
    with LoopbackServer(use_etags=False) as server:
        sources = ""
        for n in range(FEEDS):
            server.documents[f"/feed{n}.xml"] = _feed(n)
            sources += (f'[[sources]]\ntype = "rss"\nname = "villa{n}"\n'
                        f'url = "{server.url(f"/feed{n}.xml")}"\nallow_private = true\n\n')
        write_config(project / "hub.toml", f'[hub]\ndatabase_url = "sqlite:///hub.db"\n\n{sources}')
        env = {**os.environ, "HUB_PARSE_WORKERS": "2"}
        for run in range(RUNS):
            done = subprocess.run([sys.executable, "-m", "hub", "poll", "--once", "--force"], cwd=project,
                                  env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
            assert done.stderr == "", f"run {run + 1} of {RUNS} wrote to stderr:\n{done.stderr}"
            assert "villa0" in done.stdout, done.stdout
        assert len(server.requests) == FEEDS * RUNS
