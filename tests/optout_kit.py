"""BAJA while a routine sends: once the webhook has answered 200, no news reaches that person.

Shared by the test (small, in CI) and ``benchmarks/optout.py`` (2,000 people at 100/s and
400/s). ``hub run`` sends one news delivery to each person through the simulator, while signed
BAJAs arrive for people a little ahead of the send front (claimed, queued or about to be). The
judge is the simulator's own log: a news request to a person that arrived after their BAJA's 200.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, insert
from sqlmodel import select

from hub.simulator import Latency, SimulatorConfig, SimulatorServer
from hub.storage.store import Store
from hub.storage.tables import ConsentEventRow, DeliveryRow, SubscriberRow
from hub.web.signature import HEADER, sign
from tests.audience_kit import text_message
from tests.backend import db_url
from tests.crash_kit import _free_port

TOKEN, SECRET = "optout-token", "optout-app-secret"


@dataclass
class OptOutResult:
    people: int
    rate: int
    bajas: int = 0  # answered 200
    late: list[float] = field(default_factory=list)  # seconds after a 200 that news still arrived
    early: list[float] = field(default_factory=list)  # seconds before a 200 that their news arrived
    news: int = 0  # news requests the simulator accepted
    seconds: float = 0.0
    states: dict[str, int] = field(default_factory=dict)

    @property
    def after_baja(self) -> int:
        return len(self.late)


def _fill(store: Store, people: int) -> list[str]:
    now = datetime.now(UTC)
    phones = [f"3465{i:07d}" for i in range(people)]
    body = {"kind": "item", "text": "Noticia", "items": [
        {"id": 1, "title": "Noticia", "url": "https://example.org/n", "summary": ""}]}
    with store.write() as session:
        connection = session.connection()
        connection.execute(insert(SubscriberRow), [
            {"phone": phone, "status": "active", "topics": [], "created_at": now, "opted_in_at": now,
             "marketing_stopped": False, "rhythm": "normal"} for phone in phones])
        ids = list(session.exec(select(SubscriberRow.id).order_by(SubscriberRow.id)))
        connection.execute(insert(ConsentEventRow), [
            {"subscriber_id": sid, "kind": "opt_in", "channel": "cli", "note": "load test", "at": now}
            for sid in ids])
        connection.execute(insert(DeliveryRow), [
            {"key": f"item:1:{sid}", "subscriber_id": sid, "status": "planned", "created_at": now,
             "due_at": now, "body": body, "attempts": 0, "force_template": False} for sid in ids])
    return phones


def _unfinished(store: Store) -> int:
    with store.read() as session:
        return session.exec(select(func.count()).select_from(DeliveryRow).where(
            DeliveryRow.status.in_(("planned", "sending")))).one()  # type: ignore[attr-defined]


def run_optout_scenario(folder: Path, people: int, rate: int, *, bajas_per_second: float = 20.0,
                        ahead: tuple[int, int] = (5, 300), seed: int = 5,
                        deadline: float = 120.0) -> OptOutResult:
    """Send to ``people`` at ``rate``/s while BAJAs arrive ``ahead`` of the send front."""
    rng = random.Random(seed)
    port = _free_port()
    sim = SimulatorServer(SimulatorConfig(
        token=TOKEN, throughput=None, pair_gap=0.0, latency=Latency(fixed=0.02, distribution="uniform",
                                                                   spread=0.08),
        webhook_url=f"http://127.0.0.1:{port}/webhook", app_secret=SECRET, status_delay=0.05,
        read_share=0.0, seed=seed)).start()
    (folder / "hub.toml").write_text(f"""
[hub]
database_url = "sqlite:///hub.db"

# About the opt-out under load, not restraint: at whatever hour the run happens, everyone is due.
[caps]
per_subscriber_per_day = "unlimited"
quiet_hours = "none"
min_gap = "none"

[sinks.whatsapp]
phone_number_id = "1234567890"
base_url = "{sim.base_url}"
rate = {rate}
concurrency = 60
template = {{ name = "news_update", language = "es", body = ["{{title}}", "{{url}}"] }}

[webhook]
port = {port}
""", encoding="utf-8")
    store = Store(db_url(folder / "hub.db"))
    phones = _fill(store, people)
    env = {**os.environ, "WHATSAPP_TOKEN": TOKEN, "WHATSAPP_APP_SECRET": SECRET,
           "WHATSAPP_VERIFY_TOKEN": "v", "HUB_LOAD_PLUGINS": ""}
    proc = subprocess.Popen([sys.executable, "-m", "hub", "run"], cwd=folder, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = OptOutResult(people, rate)
    answered: dict[str, float] = {}
    started = time.monotonic()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            while not sim.simulator.accepted and time.monotonic() - started < 30:
                time.sleep(0.01)
            while _unfinished(store) and time.monotonic() - started < deadline:
                front = len(sim.simulator.accepted)
                index = front + rng.randint(*ahead)
                if index < people and phones[index] not in answered:
                    sim.simulator.open_window(phones[index], datetime.now(UTC))  # they wrote to us
                    body = json.dumps(text_message("BAJA", phone=phones[index])).encode()
                    response = client.post("/webhook", content=body, headers={
                        HEADER: sign(body, SECRET), "Content-Type": "application/json"})
                    if response.status_code == 200:
                        answered[phones[index]] = time.time()
                time.sleep(1 / bajas_per_second)
        result.seconds = time.monotonic() - started
        with store.read() as session:
            result.states = {f"{status} ({reason})" if reason else status: count
                             for status, reason, count in session.exec(
                                 select(DeliveryRow.status, DeliveryRow.reason, func.count())  # type: ignore[call-overload]
                                 .group_by(DeliveryRow.status, DeliveryRow.reason)).all()}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        store.dispose()
        sim.stop()
    result.bajas = len(answered)
    for message in sim.simulator.accepted:
        callback = (message.callback or "").rsplit(":", 1)[-1]
        if not callback.isdigit() or int(callback) > people:
            continue  # a reply (the goodbye), not news: news rows were written first
        result.news += 1
        at = answered.get(message.to)
        if at is not None and message.at > at:
            result.late.append(message.at - at)
        elif at is not None:  # the send front reached them first: the race the BAJA ran
            result.early.append(at - message.at)
    return result
