"""Several ``hub run --role worker`` processes sharing one PostgreSQL outbox.

Shared by the test (small) and ``benchmarks/workers.py`` (20,000 deliveries). Each delivery must
be accepted by the simulator exactly once, whichever worker claimed it (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import os
import signal
import socket
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
class KilledWorker:
    """What one worker SIGKILLed mid-send left, and how soon the others sent it."""

    unrequested: list[int]  # its claims never requested, at the kill
    requested: list[int]  # its claims requested with no answer yet, at the kill
    taken_over: float | None = None  # seconds from the kill to the last of ``unrequested`` (and of
    # ``requested`` that never left) accepted by the simulator; None: not all were
    in_doubt: int = 0  # requested claims of the dead worker still waiting for a status at the end


@dataclass
class WorkersResult(ExactlyOnce):
    workers: int
    deliveries: int
    accepted: Counter[int]
    seconds: float
    by_worker: dict[str, int]
    arrivals: list[float]  # when the simulator received each accepted message (perf_counter)
    throttled: int  # requests the simulator answered 130429 (the number's throughput reached)
    killed: KilledWorker | None = None

    def most_in_one_second(self) -> int:
        """The most messages the simulator accepted in any one-second window."""
        times, best, start = sorted(self.arrivals), 0, 0
        for end, t in enumerate(times):
            while times[start] <= t - 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    def mean_rate(self) -> float:
        """Messages per second from the first arrival to the last, by the simulator's log."""
        if len(self.arrivals) < 2:
            return 0.0
        return (len(self.arrivals) - 1) / (max(self.arrivals) - min(self.arrivals))

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


def _claims_of(store: Store, worker: str) -> tuple[list[int], list[int]]:
    d = DeliveryRow
    with store.read() as session:
        rows = session.exec(select(d.id, d.requested_at).where(  # type: ignore[call-overload]
            d.status == "sending", d.claimed_by == worker)).all()
    return [i for i, at in rows if at is None], [i for i, at in rows if at is not None]


def _accepted(sim: SimulatorServer) -> dict[int, float]:
    """Delivery id → when the simulator first accepted it (``time.time()``)."""
    first: dict[int, float] = {}
    for message in sim.simulator.accepted:
        tail = (message.callback or "").rsplit(":", 1)[-1]
        if tail.isdigit():
            first.setdefault(int(tail), message.at)
    return first


def run_workers(folder: Path, database_url: str, deliveries: int, workers: int, rate: int = 400,
                latency: float = 0.1, deadline: float = 300.0,
                throughput: int | None = None, kill_after: int | None = None) -> WorkersResult:
    """Start ``workers`` worker processes on one database; time until all deliveries are sent.

    ``rate`` is each worker's ``rate`` for the one phone number they share; ``throughput`` the
    number's limit the simulator enforces (130429 above it; ``None``: no limit). ``kill_after``:
    once the simulator has accepted that many, the first worker is SIGKILLed; the result says
    what it held and how soon the others sent it (no status webhooks here: the dead worker's
    requests that were accepted stay ``sending`` in the store, and count as sent by the log).
    """
    sim = SimulatorServer(SimulatorConfig(token=TOKEN, throughput=throughput, pair_gap=0.0,
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

[caps]  # about sharing the outbox, not restraint: sent at any hour
per_subscriber_per_day = "unlimited"
min_gap = "none"
quiet_hours = "none"

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
        killed: KilledWorker | None = None
        killed_at = 0.0
        while _done(store)[0] < deliveries and time.monotonic() - started < deadline:
            if kill_after is not None and killed is None and len(sim.simulator.accepted) >= kill_after:
                procs[0].send_signal(signal.SIGKILL)
                procs[0].wait()
                killed_at = time.time()
                killed = KilledWorker(*_claims_of(store, f"{socket.gethostname()}:{procs[0].pid}"))
            if killed is not None and len(_accepted(sim)) >= deliveries:
                break  # the dead worker's accepted requests stay "sending": no status webhooks here
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        _, by_worker = _done(store)
        accepted: Counter[int] = Counter()
        for message in sim.simulator.accepted:
            tail = (message.callback or "").rsplit(":", 1)[-1]
            if tail.isdigit():
                accepted[int(tail)] += 1
        arrivals = [m.mono for m in sim.simulator.accepted]
        throttled = sum(1 for code, _ in sim.simulator.rejected if code == 130429)
        if killed is not None:
            first = _accepted(sim)
            dead = f"{socket.gethostname()}:{procs[0].pid}"
            waiting = set(_claims_of(store, dead)[1])
            owed = [i for i in killed.unrequested + killed.requested if i not in waiting]
            killed.in_doubt = len(waiting)
            if all(i in first for i in owed):
                killed.taken_over = max((first[i] - killed_at for i in owed), default=0.0)
        return WorkersResult(workers, deliveries, accepted, elapsed, by_worker, arrivals, throttled,
                             killed)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
        store.dispose()
        sim.stop()
