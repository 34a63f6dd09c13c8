"""Test kit for the webhook and the audience: a hub on a temp SQLite file, signed posts, payloads."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, select

from hub.config import AudienceConfig
from hub.contracts import OutgoingMessage, SendResult, Sink
from hub.delivery.send import DispatchReport, dispatch_due
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, SubscriberRow
from hub.timekeeping.clock import FakeClock
from hub.web.asgi_server import serve_in_thread
from hub.web.signature import HEADER, sign
from hub.web.webhook import build_app
from tests.backend import db_url

SECRET = "test-app-secret"
TOKEN = "test-verify-token"
PHONE = "34612345678"
NAME = "Lucía Pérez"
_ids = itertools.count(1)

TOPICS = {"deportes": "Deportes", "cultura": "Cultura", "obras": "Obras y tráfico"}


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove a request changed nothing."""
    with store.read() as session:
        return {t.name: [tuple(r) for r in session.connection().execute(sa_select(t)).all()]
                for t in SQLModel.metadata.sorted_tables}


class RecordingSink(Sink):
    """A sink that keeps what it was asked to send and answers with wamids it makes up."""

    def __init__(self) -> None:
        super().__init__(Sink.Options())
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(ok=True, message_id=f"wamid.sent{message.delivery_id}")


class Switch:
    """One real uvicorn server for the whole run, passing each request to the current test's app."""

    def __init__(self) -> None:
        self.target: Any = None
        self.base_url = ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the switch itself has nothing to start
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.target(scope, receive, send)


@pytest.fixture(scope="session")
def loopback() -> Any:
    switch = Switch()
    with serve_in_thread(switch) as base_url:
        switch.base_url = base_url
        yield switch


@dataclass
class Hub:
    """A webhook app over a real SQLite file, driven by a fake clock."""

    path: Path
    server: Switch
    audience: AudienceConfig = field(default_factory=lambda: AudienceConfig(topics=TOPICS))
    clock: FakeClock = field(default_factory=lambda: FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC)))
    max_body_bytes: int = 3_000_000

    def __post_init__(self) -> None:
        self.store = Store(db_url(self.path))
        self.app = build_app(self.store, self.audience, ZoneInfo("Europe/Madrid"), app_secret=SECRET,
                             verify_token=TOKEN, max_body_bytes=self.max_body_bytes, clock=self.clock)
        self.server.target = self.app
        self.client = httpx.Client(base_url=self.server.base_url, timeout=10)

    def post(self, payload: Any, *, signature: str | None = "good", raw: bytes | None = None) -> Any:
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "good":
            headers[HEADER] = sign(body, SECRET)
        elif signature is not None:
            headers[HEADER] = signature
        return self.client.post("/webhook", content=body, headers=headers)

    def say(self, text: str, phone: str = PHONE, name: str | None = NAME) -> Any:
        response = self.post(text_message(text, phone, name, self.clock.now()))
        assert response.status_code == 200, response.text
        return response

    def person(self, phone: str = PHONE) -> SubscriberRow:
        with self.store.read() as session:
            row = session.exec(select(SubscriberRow).where(SubscriberRow.phone == phone)).first()
        assert row is not None
        return row

    def deliveries(self, **where: Any) -> list[DeliveryRow]:
        with self.store.read() as session:
            rows = session.exec(select(DeliveryRow).order_by(DeliveryRow.id)).all()
        return [r for r in rows if all(getattr(r, k) == v for k, v in where.items())]

    def replies(self, status: str | None = None) -> list[str]:
        return [d.body["text"] for d in self.deliveries()
                if d.body.get("kind") == "reply" and (status is None or d.status == status)]

    def dispatch(self, sink: Sink | None = None) -> DispatchReport:
        return asyncio.run(dispatch_due(self.store, sink or RecordingSink(), self.clock))


def envelope(value: dict[str, Any], field_name: str = "messages") -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": field_name, "value": {"messaging_product": "whatsapp",
                                       "metadata": {"display_phone_number": "34900000000",
                                                    "phone_number_id": "1"}, **value}}]}]}


def _message(phone: str, name: str | None, when: datetime, kind: str, body: dict[str, Any],
             context: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"from": phone, "id": f"wamid.test{next(_ids)}",
                               "timestamp": str(int(when.timestamp())), "type": kind, kind: body}
    if context:
        message["context"] = {"from": "34900000000", "id": context}
    contact: dict[str, Any] = {"wa_id": phone}
    if name:
        contact["profile"] = {"name": name}
    return envelope({"contacts": [contact], "messages": [message]})


def text_message(text: str, phone: str = PHONE, name: str | None = NAME,
                 when: datetime | None = None) -> dict[str, Any]:
    return _message(phone, name, when or datetime.now(UTC), "text", {"body": text})


def list_reply(row_id: str, title: str, when: datetime, phone: str = PHONE) -> dict[str, Any]:
    return _message(phone, NAME, when, "interactive",
                    {"type": "list_reply", "list_reply": {"id": row_id, "title": title}}, "wamid.list")


def button_reply(button_id: str, title: str, when: datetime, phone: str = PHONE) -> dict[str, Any]:
    return _message(phone, NAME, when, "interactive",
                    {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
                    "wamid.buttons")


def template_button(payload: str, text: str, when: datetime, phone: str = PHONE) -> dict[str, Any]:
    return _message(phone, NAME, when, "button", {"payload": payload, "text": text}, "wamid.tpl")


def status(wamid: str, state: str, when: datetime, opaque: str | None = None,
           errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": wamid, "status": state, "timestamp": str(int(when.timestamp())),
                             "recipient_id": PHONE}
    if opaque is not None:
        entry["biz_opaque_callback_data"] = opaque
    if errors:
        entry["errors"] = errors
    return envelope({"statuses": [entry]})


def preference(choice: str, when: datetime, phone: str = PHONE) -> dict[str, Any]:
    return envelope({"contacts": [{"wa_id": phone}], "user_preferences": [{
        "wa_id": phone, "detail": f"User requested to {choice} marketing messages",
        "category": "marketing_messages", "value": choice, "timestamp": int(when.timestamp())}]},
        field_name="user_preferences")


@pytest.fixture
def hub(tmp_path: Path, loopback: Switch) -> Any:
    """A hub over ``tmp_path/hub.db`` whose webhook answers on the shared loopback server."""
    made = Hub(tmp_path / "hub.db", loopback)
    yield made
    made.client.close()
    made.store.dispose()
