"""Webhooks as Meta sends them: the envelope, the signature, and retries when the hub fails to take one.

Bodies are compact JSON with non-ASCII escaped, as Meta's are; ``X-Hub-Signature-256`` is the
HMAC of those exact bytes with the app secret. A post that fails (connection refused, timeout,
any non-200 answer) is tried again with growing pauses, as Meta does for up to 7 days.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from hub.web.signature import HEADER, sign

log = logging.getLogger("hub.simulator.webhooks")


@dataclass(frozen=True)
class Business:
    """The simulated business number the webhooks speak for."""

    waba_id: str
    phone_number_id: str
    display_phone_number: str


def envelope(business: Business, value: dict[str, Any]) -> dict[str, Any]:
    """Meta's ``whatsapp_business_account`` envelope around one ``messages`` change."""
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": business.display_phone_number,
                          "phone_number_id": business.phone_number_id}, **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": business.waba_id, "changes": [{"value": value, "field": "messages"}]}]}


def new_wamid() -> str:
    return "wamid." + secrets.token_urlsafe(36)


def status_value(wamid: str, status: str, recipient: str, at: int, *, callback: str | None = None,
                 category: str = "marketing", errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One ``statuses[]`` entry: sent and read carry pricing, failed carries errors."""
    # A send by business-scoped user id reports it in recipient_user_id, without recipient_id.
    who = "recipient_id" if recipient.isdigit() else "recipient_user_id"
    entry: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(at), who: recipient}
    if callback is not None:
        entry["biz_opaque_callback_data"] = callback
    if status in ("sent", "delivered"):
        entry["pricing"] = {"billable": category != "service", "pricing_model": "PMP",
                            "type": "free_customer_service" if category == "service" else "regular",
                            "category": category}
    if errors:
        entry["errors"] = errors
    return {"statuses": [entry]}


def inbound_value(phone: str, name: str, at: int, message: dict[str, Any],
                  username: str | None = None) -> dict[str, Any]:
    """One inbound message from ``phone``: ``contacts`` and ``messages`` as Meta sends them.

    ``phone`` may be a business-scoped user id: a person with a username who hides their number
    writes with ``user_id``/``from_user_id`` only, no ``wa_id`` and no ``from``.
    """
    if phone.isdigit():
        body = {"from": phone, "id": new_wamid(), "timestamp": str(at), **message}
        return {"contacts": [{"profile": {"name": name}, "wa_id": phone}], "messages": [body]}
    body = {"from_user_id": phone, "id": new_wamid(), "timestamp": str(at), **message}
    profile = {"name": name, **({"username": username} if username else {})}
    return {"contacts": [{"profile": profile, "user_id": phone}], "messages": [body]}


def _short(answer: bytes) -> str:
    """The start of the hub's answer, one line, for the log."""
    return " ".join(answer[:160].decode("utf-8", "replace").split())


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass
class Posted:
    """What happened to one webhook: its payload, its tries, and whether the hub took it."""

    payload: dict[str, Any]
    tries: int = 0
    delivered: bool = False
    answers: list[str] = field(default_factory=list)
    delivered_at: float | None = None


class WebhookPoster:
    """Posts signed webhooks to one URL, retrying failures with back-off (``base`` × 4ⁿ seconds)."""

    def __init__(self, url: str | None, app_secret: str | None, *, base: float = 1.0, tries: int = 8,
                 timeout: float = 10.0, max_wait: float = 6 * 3600, in_flight: int = 64) -> None:
        self.url = url
        self.app_secret = app_secret
        self.base = base
        self.tries = tries
        self.max_wait = max_wait
        # Meta delivers webhooks a few at a time, not thousands at once: an unbounded burst would
        # make every request wait behind all the others and time out together.
        self.in_flight = in_flight
        self._gate: asyncio.Semaphore | None = None
        self.timeout = timeout
        self.log: list[Posted] = []
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def post(self, payload: dict[str, Any], delay: float = 0.0) -> Posted:
        """Schedule ``payload`` on the running loop; returns its record at once."""
        record = Posted(payload)
        self.log.append(record)
        if self.url:
            task = asyncio.get_running_loop().create_task(self._deliver(record, delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return record

    async def _deliver(self, record: Posted, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        body = encode(record.payload)
        headers = {"Content-Type": "application/json"}
        if self.app_secret:  # without a secret the post goes unsigned, and the hub says so
            headers[HEADER] = sign(body, self.app_secret)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.in_flight)
        for attempt in range(self.tries):
            record.tries += 1
            try:
                async with self._gate, self._session.post(self.url or "", data=body,
                                                          headers=headers) as response:
                    answer = await response.read()
                    record.answers.append(str(response.status))
                    if response.status == 200:
                        record.delivered, record.delivered_at = True, time.time()
                        return
                    hint = (" — give the sandbox and the hub the same app secret"
                            if response.status == 401 else "")
                    log.warning("webhook refused by %s: %d %s (try %d of %d)%s", self.url,
                                response.status, _short(answer), record.tries, self.tries, hint)
            except (TimeoutError, aiohttp.ClientError) as exc:
                record.answers.append(type(exc).__name__)
                log.warning("webhook not taken by %s: %s (try %d of %d; is the hub listening there?)",
                            self.url, type(exc).__name__, record.tries, self.tries)
            await asyncio.sleep(min(self.base * (4 ** attempt), self.max_wait))
        log.warning("webhook given up after %d tries", record.tries)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every scheduled webhook was delivered or given up."""
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - time.monotonic()))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
