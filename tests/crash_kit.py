"""Kill ``hub run`` with SIGKILL at random moments while it sends, restart it, count what arrived.

Shared by the crash test (small, in CI) and ``benchmarks/crash.py`` (5,000 deliveries, 20 kills).
The count that matters is the simulator's own log of accepted requests: each delivery must appear
there exactly once — none lost, none twice — including those in doubt at the moment of a kill,
which the simulator's (retried) status webhooks settle once the hub is back.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from hub.audience.consent import record_opt_in
from hub.simulator import Latency, SimulatorConfig, SimulatorServer
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow
from tests.backend import db_url

TOKEN, SECRET = "crash-token", "crash-app-secret"
DONE = ("sent", "delivered", "read")


class ExactlyOnce:
    """Lost and duplicated deliveries, from the simulator's count of accepted requests by id."""

    deliveries: int
    accepted: Counter[int]  # delivery id → times the simulator accepted it

    @property
    def lost(self) -> int:
        return self.deliveries - len(self.accepted)

    @property
    def duplicated(self) -> int:
        return sum(n - 1 for n in self.accepted.values() if n > 1)


@dataclass
class CrashResult(ExactlyOnce):
    deliveries: int
    kills: int
    accepted: Counter[int]
    states: dict[str, int]
    seconds: float
    drained: float  # seconds from the last restart to the last request the simulator accepted
    in_doubt: int = 0  # requested, never accepted: waiting for the in-doubt timeout
    never_left: int = 0  # requested claims whose request never left, given back at once after a kill
    never_requested: int = 0  # claims never requested, given back at once after a kill


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(folder: Path, deliveries: int, base_url: str, port: int, in_doubt: int | None,
             rate: int) -> Store:
    in_doubt_line = f'in_doubt_after = "{in_doubt} seconds"' if in_doubt is not None else ""

    (folder / "hub.toml").write_text(f"""
[hub]
database_url = "sqlite:///hub.db"

[caps]  # about crashes, not restraint: sent at any hour
per_subscriber_per_day = "unlimited"
min_gap = "none"
quiet_hours = "none"

[sinks.whatsapp]
phone_number_id = "1234567890"
base_url = "{base_url}"
rate = {rate}
concurrency = 60
{in_doubt_line}
template = {{ name = "news_update", language = "es", body = ["{{title}}", "{{url}}"] }}

[webhook]
port = {port}
""", encoding="utf-8")
    store = Store(db_url(folder / 'hub.db'))
    now = datetime.now(UTC)
    body = {"kind": "item", "text": "Noticia", "items": [
        {"id": 1, "title": "Noticia", "url": "https://example.org/n", "summary": ""}]}
    with store.write() as session:
        for i in range(deliveries):
            person = record_opt_in(session, f"3462{i:07d}", now, channel="cli", note="crash test")
            session.flush()
            session.add(DeliveryRow(key=f"item:1:{person.id}", subscriber_id=person.id,
                                    status="planned", created_at=now, due_at=now, body=body))
    return store


def _states(store: Store) -> dict[str, int]:
    with store.read() as session:
        return dict(session.exec(select(DeliveryRow.status, func.count())  # type: ignore[call-overload]
                                 .group_by(DeliveryRow.status)).all())


def _in_doubt(store: Store) -> int:
    with store.read() as session:
        return session.exec(select(func.count()).select_from(DeliveryRow).where(
            DeliveryRow.status == "sending", DeliveryRow.requested_at.is_not(None))).one()  # type: ignore[union-attr]


def _start(folder: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WHATSAPP_TOKEN": TOKEN, "WHATSAPP_APP_SECRET": SECRET,
           "WHATSAPP_VERIFY_TOKEN": "v", "HUB_LOAD_PLUGINS": ""}
    with (folder / "hub.log").open("ab") as log:  # what each run said, for the counts below
        return subprocess.Popen([sys.executable, "-m", "hub", "run"], cwd=folder, env=env,
                                stdout=subprocess.DEVNULL, stderr=log)


RELEASED = re.compile(r"left (\d+) claims never requested and (\d+) requested that never left")


def _given_back(folder: Path) -> tuple[int, int]:
    """Claims that restarted runs gave back at once: never requested, requested but never left."""
    text = (folder / "hub.log").read_text(encoding="utf-8", errors="replace")
    found = [(int(a), int(b)) for a, b in RELEASED.findall(text)]
    return sum(a for a, _ in found), sum(b for _, b in found)


def run_crash_scenario(folder: Path, deliveries: int, kills: int, seed: int = 7,
                       deadline: float = 300.0, in_doubt: int | None = None, rate: int = 400) -> CrashResult:
    """Send ``deliveries``, SIGKILL the hub ``kills`` times at random moments, then let it finish.

    ``in_doubt`` (seconds) None keeps the sink's default (1 h): only requests that may have reached
    the API wait for a status; claims never requested are sent as soon as the hub is back.
    """
    rng = random.Random(seed)
    port = _free_port()
    sim = SimulatorServer(SimulatorConfig(
        token=TOKEN, throughput=None, pair_gap=0.0, latency=Latency(fixed=0.02, distribution="uniform",
                                                                   spread=0.08),
        webhook_url=f"http://127.0.0.1:{port}/webhook", app_secret=SECRET, status_delay=0.05,
        read_share=0.0, webhook_retry_base=0.25, webhook_tries=400, webhook_retry_max=0.5,
        seed=seed)).start()
    # Statuses reach the restarted hub within a second (retries every 0.5 s at most, as Meta keeps
    # retrying for days), which settles every request that reached the API before a kill.
    store = _prepare(folder, deliveries, sim.base_url, port, in_doubt, rate)
    started = time.monotonic()
    try:
        done_kills = 0
        for _ in range(kills):
            if _states(store).get("planned", 0) == 0:
                break  # everything was claimed already: nothing left to interrupt
            before = len(sim.simulator.accepted)
            proc = _start(folder)
            cycle = time.monotonic()
            while len(sim.simulator.accepted) == before:  # wait for this run to be sending
                if time.monotonic() - cycle > 30 or proc.poll() is not None:
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0.05, 1.0))  # a random moment into the sending
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            done_kills += 1
        restarted = time.time()
        proc = _start(folder)
        try:
            settled_by: float | None = None
            while True:
                states = _states(store)
                if states.get("delivered", 0) == deliveries:
                    break  # every send recorded and every "delivered" webhook stored
                # Everything done, or in doubt (its request journaled in the instant of a kill: it
                # waits the in-doubt hour, by design): the last statuses may still be on their way.
                finished = sum(states.get(s, 0) for s in DONE) + _in_doubt(store)
                if settled_by is None and finished == deliveries:
                    settled_by = time.monotonic() + 15
                if time.monotonic() > (settled_by or started + deadline):
                    break
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        accepted = Counter()
        for message in sim.simulator.accepted:
            if message.callback and message.callback.rsplit(":", 1)[-1].isdigit():
                accepted[int(message.callback.rsplit(":", 1)[-1])] += 1
        last = max((m.at for m in sim.simulator.accepted), default=restarted)
        never_requested, never_left = _given_back(folder)
        return CrashResult(deliveries, done_kills, accepted, _states(store), time.monotonic() - started,
                           max(0.0, last - restarted), _in_doubt(store), never_left, never_requested)
    finally:
        store.dispose()
        sim.stop()
