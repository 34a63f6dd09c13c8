"""Several ``hub run --role worker`` processes sharing one PostgreSQL outbox.

Shared by the test (small) and ``benchmarks/workers.py`` (20,000 deliveries). Each delivery must
be accepted by the simulator exactly once, whichever worker claimed it (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert
from sqlmodel import select

from hub.simulator import Latency, SimulatorConfig, SimulatorServer
from hub.storage.store import Store
from hub.storage.tables import ConsentEventRow, DeliveryRow, SubscriberRow
from tests.crash_kit import ExactlyOnce, _free_port

TOKEN = "workers-token"
DONE = ("sent", "delivered", "read")


@dataclass
class WorkersResult(ExactlyOnce):
    workers: int
    deliveries: int
    accepted: Counter[int]
    seconds: float
    by_worker: dict[str, int]

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0


def _fill(store: Store, deliveries: int) -> None:
    """People and planned deliveries written in bulk (the set-up is not what is measured)."""
    now = datetime.now(UTC)
    body = {"kind": "item", "text": "Noticia", "items": [
        {"id": 1, "title": "Noticia", "url": "https://example.org/n", "summary": ""}]}
    with store.write() as session:
        connection = session.connection()
        connection.execute(insert(SubscriberRow), [
            {"phone": f"3463{i:07d}", "status": "active", "topics": [], "created_at": now,
             "opted_in_at": now, "marketing_stopped": False, "rhythm": "normal"}
            for i in range(deliveries)])
        ids = list(session.exec(select(SubscriberRow.id).order_by(SubscriberRow.id)))
        connection.execute(insert(ConsentEventRow), [
            {"subscriber_id": sid, "kind": "opt_in", "channel": "cli", "note": "load test", "at": now}
            for sid in ids])
        connection.execute(insert(DeliveryRow), [
            {"key": f"item:1:{sid}", "subscriber_id": sid, "status": "planned", "created_at": now,
             "due_at": now, "body": body, "attempts": 0, "force_template": False}
            for sid in ids])


def _done(store: Store) -> tuple[int, dict[str, int]]:
    with store.read() as session:
        done = session.exec(select(func.count()).select_from(DeliveryRow).where(
            DeliveryRow.status.in_(DONE))).one()  # type: ignore[attr-defined]
        by_worker = dict(session.exec(select(DeliveryRow.claimed_by, func.count())  # type: ignore[call-overload]
                                      .group_by(DeliveryRow.claimed_by)).all())
    return done, {str(k): v for k, v in by_worker.items()}


def run_workers(folder: Path, database_url: str, deliveries: int, workers: int, rate: int = 400,
                latency: float = 0.1, deadline: float = 300.0) -> WorkersResult:
    """Start ``workers`` worker processes on one database; time until all deliveries are sent."""
    sim = SimulatorServer(SimulatorConfig(token=TOKEN, throughput=None, pair_gap=0.0,
                                          latency=Latency(fixed=latency), read_share=0.0)).start()
    store = Store(database_url)
    _fill(store, deliveries)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(workers):
            home = folder / f"worker{n}"
            home.mkdir()
            (home / "hub.toml").write_text(f"""
[hub]
database_url = "{database_url}"

[sinks.whatsapp]
phone_number_id = "1234567890"
base_url = "{sim.base_url}"
rate = {rate}
concurrency = 100
template = {{ name = "news_update", language = "es", body = ["{{title}}", "{{url}}"] }}

[webhook]
port = {_free_port()}
""", encoding="utf-8")
        env = {**os.environ, "WHATSAPP_TOKEN": TOKEN, "WHATSAPP_APP_SECRET": "s",
               "WHATSAPP_VERIFY_TOKEN": "v", "HUB_LOAD_PLUGINS": ""}
        started = time.monotonic()
        for n in range(workers):
            procs.append(subprocess.Popen([sys.executable, "-m", "hub", "run", "--role", "worker"],
                                          cwd=folder / f"worker{n}", env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        while _done(store)[0] < deliveries and time.monotonic() - started < deadline:
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        _, by_worker = _done(store)
        accepted: Counter[int] = Counter()
        for message in sim.simulator.accepted:
            tail = (message.callback or "").rsplit(":", 1)[-1]
            if tail.isdigit():
                accepted[int(tail)] += 1
        return WorkersResult(workers, deliveries, accepted, elapsed, by_worker)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
        store.dispose()
        sim.stop()
