"""How fast the webhook answers a valid, signed status post with 10,000 deliveries stored.

Goal: under 50 ms median (Meta asks for ≤250 ms median). Real uvicorn on 127.0.0.1, a real SQLite
file. Baseline, measured in the same run on the same server: an endpoint that checks the
signature and parses the JSON but stores nothing — the cost of HTTP alone.

    .venv/bin/python benchmarks/webhook.py [--posts 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import insert
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.table import Row, emit  # noqa: E402
from hub.config import AudienceConfig  # noqa: E402
from hub.storage.store import Store  # noqa: E402
from hub.storage.tables import DeliveryRow, SubscriberRow  # noqa: E402
from hub.web.asgi_server import serve_in_thread  # noqa: E402
from hub.web.signature import HEADER, is_valid, sign  # noqa: E402
from hub.web.webhook import build_app  # noqa: E402
from hub.web.webhook_parse import parse  # noqa: E402

SECRET = "bench-secret"
DELIVERIES = 10_000
PEOPLE = 2_000


def seed(store: Store, now: datetime, deliveries: int = DELIVERIES, people: int = PEOPLE) -> None:
    """``people`` subscribers and ``deliveries`` sent messages with known wamids."""
    with store.write() as session:
        conn = session.connection()
        conn.execute(insert(SubscriberRow), [
            {"phone": f"3460{i:07d}", "status": "active", "topics": [], "created_at": now,
             "opted_in_at": now, "marketing_stopped": False, "rhythm": "normal"}
            for i in range(people)])
        conn.execute(insert(DeliveryRow), [
            {"key": f"item:{i}:{i % people + 1}", "subscriber_id": i % people + 1,
             "body": {"kind": "item", "text": f"story {i}"}, "status": "sent", "attempts": 1,
             "wamid": f"wamid.bench{i:06d}", "created_at": now, "due_at": now, "sent_at": now}
            for i in range(deliveries)])


def status_body(index: int, state: str) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp", "statuses": [{
            "id": f"wamid.bench{index:06d}", "status": state, "timestamp": "1767225600",
            "recipient_id": f"3460{index % PEOPLE:07d}", "biz_opaque_callback_data": str(index + 1),
            "pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing"}}]}}]}]}).encode()


def baseline_app() -> Starlette:
    async def receive(request: Request) -> Response:
        body = await request.body()
        if not is_valid(body, request.headers.get(HEADER), SECRET):
            return PlainTextResponse("bad signature", status_code=401)
        parse(body, datetime.now(UTC))
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/webhook", receive, methods=["POST"])])


def measure(client: httpx.Client, url: str, bodies: list[bytes]) -> list[float]:
    timings = []
    for body in bodies:
        started = time.perf_counter()
        response = client.post(url, content=body, headers={HEADER: sign(body, SECRET)})
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"unexpected {response.status_code}: {response.text}")
    return timings


def describe(name: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{name:<34} median {statistics.median(timings):6.2f} ms   p95 {p95:6.2f} ms   (n={len(timings)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000, help="status posts per measurement")
    args = parser.parse_args()
    posts = min(args.posts, DELIVERIES // 2)
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as folder:
        store = Store(f"sqlite:///{Path(folder) / 'hub.db'}")
        now = datetime.now(UTC)
        seed(store, now)
        hub = build_app(store, AudienceConfig(), ZoneInfo("Europe/Madrid"), app_secret=SECRET,
                        verify_token="x")
        both = Starlette(routes=[Mount("/hub", app=hub), Mount("/baseline", app=baseline_app())])
        delivered = [status_body(i, "delivered") for i in range(posts)]
        read = [status_body(i, "read") for i in range(posts)]
        with serve_in_thread(both) as base, httpx.Client(base_url=base, timeout=10) as client:
            measure(client, "/baseline/webhook", delivered[:50])  # warm up both paths
            measure(client, "/hub/webhook", [status_body(DELIVERIES - 1, "sent")])
            baseline = measure(client, "/baseline/webhook", delivered)
            stored = measure(client, "/hub/webhook", delivered)
            repeats = measure(client, "/hub/webhook", delivered[: posts // 2])
            reads = measure(client, "/hub/webhook", read)
        with store.read() as session:
            from sqlmodel import func, select

            counts = dict(session.exec(select(DeliveryRow.status, func.count())
                                       .group_by(DeliveryRow.status)).all())
        store.dispose()
    print(f"webhook status posts, {DELIVERIES:,} deliveries stored, SQLite file, uvicorn on 127.0.0.1")
    print(describe("baseline (signature + JSON only)", baseline))
    print(describe("hub: delivered (stored, applied)", stored))
    print(describe("hub: repeat of a delivered", repeats))
    print(describe("hub: read (stored, applied)", reads))
    overhead = statistics.median(stored) - statistics.median(baseline)
    print(f"store cost per status (median, over baseline): {overhead:.2f} ms")
    print(f"deliveries by status afterwards: {counts}")
    goal = statistics.median(stored) < 50 and statistics.median(reads) < 50
    print("goal (< 50 ms median): " + ("met" if goal else "NOT met"))
    emit([Row(f"one signed status post at a time → 200, {DELIVERIES:,} deliveries stored (SQLite)",
              f"{statistics.median(stored):.2f} ms median", f"signature + JSON only: "
              f"{statistics.median(baseline):.2f} ms", "< 50 ms median", goal, "webhook.py")])


if __name__ == "__main__":
    main()
