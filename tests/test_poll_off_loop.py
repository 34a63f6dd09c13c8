"""A 10 MB feed polled inside ``hub run`` never holds up the webhook (issue 18).

Parsing runs in another (niced) process, storing on another thread and loop, in short
transactions, with the cyclic garbage collector paused: a signed webhook post (which writes)
and a verification handshake are both answered promptly all through the poll.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.loopback import Document, LoopbackServer
from hub.web.signature import HEADER, sign
from tests.audience_kit import envelope
from tests.conftest import SIM_TOKEN, write_config

SLOWEST = 0.2  # seconds: the slowest webhook answer allowed while the big feed is polled


def _big_feed(size: int = 10_000_000) -> bytes:  # 10 MB, under the fetcher's 10 MiB limit
    head = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Big</title>'
            b"<link>https://big.example/</link><description>d</description>")
    words = ("Noticias del pleno municipal sobre el presupuesto de obras y cultura " * 8).encode()
    items, n, total = [], 0, len(head)
    while total < size:
        item = (f"<item><title>Noticia {n}</title><link>https://big.example/n/{n}</link>"
                f"<guid>https://big.example/n/{n}</guid><pubDate>Mon, 02 Mar 2026 09:00:00 +0000</pubDate>"
                f"<description>").encode() + words + b"</description></item>"
        items.append(item)
        total += len(item)
        n += 1
    return head + b"".join(items) + b"</channel></rss>"


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """This process's cyclic garbage collector off for a while (reference counting still frees)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.serial
def test_a_10_mb_feed_polled_inside_hub_run_never_slows_the_webhook(project: Path,
                                                                     feed_server: LoopbackServer) -> None:
    feed = _big_feed()
    assert 10_000_000 <= len(feed) < 10 * 1024 * 1024
    feed_server.documents["/big.xml"] = Document(feed)
    write_config(project / "hub.toml", f"""
[hub]
database_url = "sqlite:///hub.db"

[[sources]]
type = "rss"
name = "big"
url = "{feed_server.url("/big.xml")}"
allow_private = true

[webhook]
port = 0
""")
    env = {**os.environ, "WHATSAPP_TOKEN": SIM_TOKEN, "WHATSAPP_APP_SECRET": "app-secret",
           "WHATSAPP_VERIFY_TOKEN": "verify", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hub", "run"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        while not lines or "webhook:" not in lines[-1]:
            line = proc.stdout.readline()
            assert line, "hub run ended before printing its summary:\n" + "".join(lines)
            lines.append(line)
        webhook = lines[-1].split()[1]
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
        reader.start()
        posts: list[float] = []  # signed status posts: the loop, the store and the writer lock
        handshakes: list[float] = []  # verification handshakes: the loop alone
        deadline = time.monotonic() + 120
        # This process's own full collections are not the hub's answer time: pytest holds a whole
        # suite's objects (170,000+), and a full pass here took 0.16–0.55 s, counted in whichever
        # request it interrupted. Paused while probing; the hub keeps its own collector as usual.
        with _collector_paused(), httpx.Client(timeout=30) as client:
            while not any("source big:" in line for line in lines):
                assert time.monotonic() < deadline, "the poll did not finish:\n" + "".join(lines)
                body = json.dumps(envelope({"statuses": [{
                    "id": f"wamid.probe{len(posts)}", "status": "delivered", "timestamp": "1772445600",
                    "recipient_id": "34600000000"}]})).encode()
                started = time.monotonic()
                answer = client.post(webhook, content=body, headers={HEADER: sign(body, "app-secret")})
                posts.append(time.monotonic() - started)
                assert answer.status_code == 200, answer.text
                started = time.monotonic()
                answer = client.get(webhook, params={"hub.mode": "subscribe", "hub.verify_token": "verify",
                                                     "hub.challenge": "1"})
                handshakes.append(time.monotonic() - started)
                assert answer.status_code == 200, answer.text
                time.sleep(0.02)  # a steady probe, not a flood
        stored = next(line for line in lines if "source big:" in line)
        assert "13378 new item(s) stored" in stored, stored
        assert len(posts) >= 20, "the probe must overlap the poll"
        for name, times in (("post", posts), ("handshake", handshakes)):
            ranked = sorted(times)
            worst = [round(t, 3) for t in ranked[-5:]]
            assert ranked[-1] < SLOWEST, (f"slowest {name} {ranked[-1]:.3f} s of {len(times)}; "
                                          f"median {ranked[len(times) // 2]:.3f} s; slowest {worst}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
