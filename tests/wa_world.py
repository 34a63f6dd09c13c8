"""A small world for WhatsApp sink tests: a real SQLite store, subscribers, planned deliveries,
the ``whatsapp`` sink pointed at a running simulator, and the dispatcher, all on one clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.audience.consent import record_opt_in
from hub.delivery.render import render_digest, render_item
from hub.delivery.send import DispatchReport, dispatch_due
from hub.simulator import SimulatorServer
from hub.simulator.process import SandboxProcess
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, SubscriberRow
from hub.timekeeping.clock import FakeClock
from tests.backend import db_url
from whatsapp_news_hub_plugins.sinks.whatsapp import WhatsAppOptions, WhatsAppSink

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TEMPLATE = {"name": "news_update", "language": "es", "body": ["{title}", "{url}"]}


def story(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {"id": n, "title": f"Noticia número {n}", "url": f"https://villanueva.example.org/n/{n}/",
            "summary": "El pleno aprobó ayer el presupuesto.", "image_url": None, "tags": ["noticias"],
            **extra}


class World:
    def __init__(self, tmp_path: Path, server: SimulatorServer | SandboxProcess,
                 clock: FakeClock | None = None, **options: Any) -> None:
        self.server = server
        self.sim = getattr(server, "simulator", None)  # None for a simulator in another process
        self.clock = clock or FakeClock(START)
        self.store = Store(db_url(tmp_path / 'hub.db'))
        number = self.sim.config.phone_number_id if self.sim else "1234567890"
        settings = {"phone_number_id": number, "base_url": server.base_url,
                    "template": TEMPLATE, "timeout": 5, **options}
        self.sink = WhatsAppSink(WhatsAppOptions.model_validate(settings))
        self._item = 0

    def subscribe(self, phone: str, *, wrote_at: datetime | None = None) -> int:
        """An opted-in person; ``wrote_at`` is their last message to us (opens the window)."""
        with self.store.write() as session:
            row = record_opt_in(session, phone, self.clock.now(), channel="cli", words="ALTA", note="test")
            row.last_inbound_at = wrote_at
            session.flush()
            subscriber_id = row.id or 0
        if wrote_at is not None and self.sim is not None:
            self.sim.open_window(phone, wrote_at)
        return subscriber_id

    def plan(self, subscriber_id: int, *, kind: str = "item", items: list[dict[str, Any]] | None = None,
             **body: Any) -> int:
        self._item += 1
        items = items or [story(self._item)]
        text = render_item(items[0]) if kind == "item" else render_digest(items, "Lo de hoy")
        full = {"kind": kind, "text": text, "items": items, **body}
        with self.store.write() as session:
            row = DeliveryRow(key=f"test:{self._item}:{subscriber_id}", subscriber_id=subscriber_id,
                              body=full, created_at=self.clock.now(), due_at=self.clock.now())
            session.add(row)
            session.flush()
            return row.id or 0

    def dispatch(self, **kwargs: Any) -> DispatchReport:
        return asyncio.run(dispatch_due(self.store, self.sink, self.clock, **kwargs))

    def delivery(self, delivery_id: int) -> DeliveryRow:
        with self.store.read() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None
            return row

    def subscriber(self, subscriber_id: int) -> SubscriberRow:
        with self.store.read() as session:
            row = session.get(SubscriberRow, subscriber_id)
            assert row is not None
            return row
