"""``hub run`` as a real process: SIGTERM mid-dispatch exits 0, leaves no claim, sends nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func
from sqlmodel import select

from hub.audience.consent import record_opt_in
from hub.simulator import Latency
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow
from tests.backend import db_url
from tests.conftest import SIM_TOKEN, write_config

PEOPLE = 90
SECRETS = {"WHATSAPP_TOKEN": SIM_TOKEN, "WHATSAPP_APP_SECRET": "app-secret",
           "WHATSAPP_VERIFY_TOKEN": "verify", "HUB_DASHBOARD_TOKEN": "dash"}


def _prepare(project: Path, base_url: str) -> Store:
    write_config(project / "hub.toml", f"""
[hub]
database_url = "sqlite:///hub.db"
language = "es"

[caps]  # about the daemon, not restraint: sent at any hour
per_subscriber_per_day = "unlimited"
min_gap = "none"
quiet_hours = "none"

[sinks.whatsapp]
phone_number_id = "1234567890"
base_url = "{base_url}"
rate = 30
concurrency = 20
template = {{ name = "news_update", language = "es", body = ["{{title}}", "{{url}}"] }}

[webhook]
port = 0
""")
    store = Store(db_url(project / 'hub.db'))
    now = datetime.now(UTC)
    with store.write() as session:
        for i in range(PEOPLE):
            person = record_opt_in(session, f"3461{i:07d}", now, channel="cli", note="test")
            session.flush()
            session.add(DeliveryRow(
                key=f"item:1:{person.id}", subscriber_id=person.id, status="planned",
                created_at=now, due_at=now,
                body={"kind": "item", "text": "Noticia", "items": [
                    {"id": 1, "title": "Noticia", "url": "https://example.org/n", "summary": ""}]},
            ))
    return store


def _start(project: Path) -> subprocess.Popen[str]:
    env = {**os.environ, **SECRETS, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "hub", "run"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _count(store: Store, status: str) -> int:
    with store.read() as session:
        return session.exec(select(func.count()).select_from(DeliveryRow).where(
            DeliveryRow.status == status)).one()


def _wait(condition, seconds: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # polling for an event another process causes, not waiting for time


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    out, _ = proc.communicate(timeout=10)
    return proc.returncode, out + f"\n[exited after {time.monotonic() - started:.1f} s]"


def test_sigterm_mid_dispatch_then_restart_sends_each_once(project, cloud_api_factory) -> None:
    sim = cloud_api_factory(latency=Latency(fixed=0.2))
    store = _prepare(project, sim.base_url)

    first = _start(project)
    _wait(lambda: len(sim.simulator.accepted) >= 15, 30, "the first sends")
    code, output = _stop(first)
    assert code == 0, output
    assert "SIGTERM received" in output and "stopped cleanly" in output
    assert _count(store, "sending") == 0, "a claim was left behind"
    sent_before = len(sim.simulator.accepted)
    assert 15 <= sent_before < PEOPLE, "the stop came mid-dispatch"

    second = _start(project)
    _wait(lambda: _count(store, "planned") == 0 and _count(store, "sending") == 0, 60,
          "the rest to be sent")
    code, output = _stop(second)
    assert code == 0, output

    recipients = Counter(m.to for m in sim.simulator.accepted)
    assert len(recipients) == PEOPLE and set(recipients.values()) == {1}, "someone got it twice"
    assert _count(store, "sent") + _count(store, "delivered") + _count(store, "read") == PEOPLE


def test_health_metrics_and_summary(project, cloud_api_factory) -> None:
    sim = cloud_api_factory()
    _prepare(project, sim.base_url)
    proc = _start(project)
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or "health:" not in lines[-1]:  # the summary ends with the pages' line
            line = proc.stdout.readline()
            assert line, "hub run ended before printing its summary"
            lines.append(line)
        summary = "".join(lines)
        assert "hub run (role all)" in summary and "webhook:  http://127.0.0.1:" in summary
        base = next(line for line in lines if "health:" in line).split()[1].rsplit("/", 1)[0]
        assert httpx.get(base + "/healthz").json()["status"] == "ok"
        metrics = httpx.get(base + "/metrics").text
        families = {f.name for f in text_string_to_metric_families(metrics)}
        assert {"hub_deliveries", "hub_webhook_requests", "hub_send_latency_seconds"} <= families
        assert httpx.get(base + "/dashboard").status_code == 401
        page = httpx.get(base + "/dashboard?token=dash")
        assert page.status_code == 200 and "Pendiente de ti" in page.text  # [hub] language
        assert "id='invite'" in page.text and "business_number" in page.text  # no number set: how to
        assert httpx.post(base + "/webhook", content=b"{}").status_code == 401  # unsigned
    finally:
        code, output = _stop(proc)
    assert code == 0, output
    assert "34610000" not in output, "phone numbers must be masked in logs"
