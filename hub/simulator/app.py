"""The simulated Graph API: an aiohttp app answering ``POST /<version>/<phone_number_id>/messages``.

Rules are applied as a request arrives (that is when Meta counts it), then the configured latency
passes, then the answer goes out. Rate rules use real time; the 24-hour window, the pair rate and
status timestamps use the injected clock, so tests can move a day without waiting.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from aiohttp import web

from hub.simulator.errors import HTTP_STATUS, ApiError, error_body, status_error, unknown_object_body
from hub.simulator.faults import Fault, FaultPlan, Latency
from hub.simulator.shapes import TemplateSpec, address, check_message
from hub.simulator.templates import template_entries, template_status_payload
from hub.simulator.webhooks import Business, WebhookPoster, envelope, inbound_value, new_wamid, status_value
from hub.timekeeping.clock import Clock, SystemClock

log = logging.getLogger("hub.simulator")
T = TypeVar("T")
WINDOW = timedelta(hours=24)
# Meta documents no error code for the messaging limit; the simulator reports 131048 (spam rate
# limit) in a failed status, the closest documented refusal. An assumption, not a Meta fact.
MESSAGING_LIMIT_CODE = 131048


def default_templates() -> dict[str, TemplateSpec]:
    return {"news_update": TemplateSpec(languages=("es",), body_params=2),
            "news_digest": TemplateSpec(languages=("es",), body_params=2, header_image=True,
                                        url_button_index=0)}


@dataclass
class SimulatorConfig:
    """Everything the simulated number, its rules and its phones need."""

    token: str = "sandbox-token"
    phone_number_id: str = "1234567890"
    display_phone_number: str = "15550001234"
    waba_id: str = "102290129340398"
    templates: dict[str, TemplateSpec] = field(default_factory=default_templates)
    throughput: int | None = 80  # messages per second for the number (130429 above it)
    pair_gap: float = 6.0  # seconds between two messages to one person (131056 below it)
    messaging_limit: int | None = None  # unique people outside their window per moving 24 h
    window_failure: Literal["status", "error"] = "status"  # how 131047 is reported
    latency: Latency = field(default_factory=Latency)
    webhook_url: str | None = None
    app_secret: str | None = None
    webhook_retry_base: float = 1.0  # seconds before the first retry; each next waits 4× longer
    webhook_tries: int = 8
    webhook_retry_max: float = 6 * 3600  # the longest wait between two tries (Meta: days in all)
    status_delay: float = 0.0  # between sent, delivered and read
    read_share: float = 0.5
    # Simulated time (seconds, mean of an exponential draw) between a message's delivered and read
    # timestamps: people open messages later. The read webhook is still posted at once.
    read_after: float = 0.0
    seed: int = 0
    clock: Clock = field(default_factory=SystemClock)
    # In its own process, keep the growing log out of the garbage collector's full passes: a
    # 100 ms pause makes queued requests look like a burst in the log (and trips 130429).
    freeze_gc: bool = False
    phones: dict[str, str] = field(default_factory=dict)  # simulated people: number → profile name
    template_page_size: int = 25  # templates per page of GET message_templates (Meta's default)
    # People with a WhatsApp username who hide their number: BSUID → "@username". They write
    # without wa_id/from and are reached by ``recipient``; put their profile name in ``phones``.
    usernames: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptedMessage:
    """One message the simulated API accepted: who got what, when it arrived."""

    wamid: str
    to: str  # digits only, or the business-scoped user id of a ``recipient`` send
    plus: bool  # whether the request wrote the number with "+"
    type: str
    payload: dict[str, Any]
    at: float  # wall clock (time.time) when the request arrived
    mono: float  # time.perf_counter when it arrived, for rate measurements
    callback: str | None


class Simulator:
    """The simulated API's state and rules; ``app`` serves it."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        c = self.config
        self.business = Business(c.waba_id, c.phone_number_id, c.display_phone_number)
        self.faults = FaultPlan(c.seed)
        self.poster = WebhookPoster(c.webhook_url, c.app_secret, base=c.webhook_retry_base,
                                    tries=c.webhook_tries, max_wait=c.webhook_retry_max)
        self.accepted: list[AcceptedMessage] = []
        self.rejected: list[tuple[int, str]] = []  # (code, recipient)
        self.requests = 0
        self.read_marks: list[str] = []  # inbound wamids the business marked as read
        self.template_reads = 0  # pages of message_templates served
        self.last_inbound: dict[str, datetime] = {}
        self._last_sent: dict[str, datetime] = {}
        self._arrivals: deque[float] = deque()
        self._limit_users: dict[str, datetime] = {}
        self.app = web.Application(client_max_size=4 * 1024 * 1024)
        self.app.router.add_post("/{version}/{phone_number_id}/messages", self._messages)
        self.app.router.add_get("/{version}/{waba_id}/message_templates", self._templates)
        self.app.router.add_get("/_sim/messages", self._list_messages)
        self.app.router.add_post("/_sim/inbound", self._post_inbound)
        self.app.router.add_post("/_sim/faults", self._post_fault)
        self.app.router.add_delete("/_sim/faults", self._clear_faults)
        self.app.on_cleanup.append(self._cleanup)

    # -- what tests ask -------------------------------------------------------------------

    def received_by(self, phone: str) -> list[AcceptedMessage]:
        digits = phone.lstrip("+")
        return [m for m in self.accepted if m.to == digits]

    def open_window(self, phone: str, at: datetime | None = None) -> None:
        """As if ``phone`` had just written to the business (opens its 24-hour window)."""
        self.last_inbound[phone.lstrip("+")] = at or self.config.clock.now()

    # -- phones ---------------------------------------------------------------------------

    def inbound(self, phone: str, message: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """``phone`` writes to the business: opens its window and posts the inbound webhook.

        ``phone`` may be a business-scoped user id (``ES.1349…``): a person with a username who
        hides their number, whose webhooks carry ``user_id`` and ``username`` only.
        """
        digits = phone.lstrip("+")
        name = name or self.config.phones.get(digits, "Simulated person")
        now = self.config.clock.now()
        self.last_inbound[digits] = now
        payload = envelope(self.business, inbound_value(digits, name, int(now.timestamp()), message,
                                                        self.config.usernames.get(digits)))
        self.poster.post(payload)
        return payload

    def inbound_text(self, phone: str, text: str, name: str | None = None) -> dict[str, Any]:
        return self.inbound(phone, {"type": "text", "text": {"body": text}}, name)

    def tap_quick_reply(self, phone: str, payload: str, text: str, context_wamid: str) -> dict[str, Any]:
        """A tap on a template's quick-reply button (``type: button``)."""
        context = {"from": self.business.display_phone_number, "id": context_wamid}
        return self.inbound(phone, {"context": context, "type": "button",
                                    "button": {"payload": payload, "text": text}})

    def tap_reply_button(self, phone: str, button_id: str, title: str, context_wamid: str) -> dict[str, Any]:
        """A tap on an interactive reply button (``interactive.button_reply``)."""
        context = {"from": self.business.display_phone_number, "id": context_wamid}
        return self.inbound(phone, {"context": context, "type": "interactive",
                                    "interactive": {"type": "button_reply",
                                                    "button_reply": {"id": button_id, "title": title}}})

    def tap_list_row(self, phone: str, row_id: str, title: str, context_wamid: str,
                     description: str = "") -> dict[str, Any]:
        """A tap on one row of an interactive list (``interactive.list_reply``)."""
        context = {"from": self.business.display_phone_number, "id": context_wamid}
        row = {"id": row_id, "title": title, **({"description": description} if description else {})}
        return self.inbound(phone, {"context": context, "type": "interactive",
                                    "interactive": {"type": "list_reply", "list_reply": row}})

    # -- the messages endpoint ------------------------------------------------------------

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        arrived, mono = time.time(), time.perf_counter()
        self.requests += 1
        raw = await request.read()
        fault: Fault | None = None
        accepted: AcceptedMessage | None = None
        to = ""
        try:
            if request.match_info["phone_number_id"] != self.config.phone_number_id:
                response = web.json_response(unknown_object_body(request.match_info["phone_number_id"]),
                                             status=400)
                await asyncio.sleep(self.config.latency.draw(self.faults.rng))
                return response
            self._check_token(request.headers.get("Authorization"))
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError(100, "The request body is not valid JSON.") from None
            if isinstance(body, dict) and body.get("status") == "read":
                response = web.json_response(self._mark_read(body))
                await asyncio.sleep(self.config.latency.draw(self.faults.rng))
                return response
            kind = check_message(body, self.config.templates)
            to = address(body)
            fault = self.faults.pick(to)
            if fault is not None and fault.kind == "error":
                raise ApiError(*_injected(fault), retry_after=fault.retry_after)
            if fault is None or fault.kind not in ("http5xx", "timeout", "drop") or fault.accept:
                accepted = self._accept(body, kind, to, arrived, mono, fault)
            contact = ({"input": body["to"], "wa_id": to} if to.isdigit()
                       else {"input": body["recipient"], "user_id": to})
            response = web.json_response({
                "messaging_product": "whatsapp", "contacts": [contact],
                "messages": [{"id": accepted.wamid if accepted else new_wamid()}]})
        except ApiError as exc:
            self.rejected.append((exc.code, to))
            response = web.json_response(error_body(exc.code, exc.details),
                                         status=HTTP_STATUS.get(exc.code, 400))
            if exc.retry_after is not None:
                response.headers["Retry-After"] = f"{exc.retry_after:g}"
        await asyncio.sleep(self.config.latency.draw(self.faults.rng))
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(fault.hang)
        if fault is not None and fault.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # aiohttp ends the handler quietly on a lost client
        if fault is not None and fault.kind == "http5xx":
            return web.Response(status=fault.http_status, text="<html><body>Bad Gateway</body></html>",
                                content_type="text/html")
        return response

    def _mark_read(self, body: dict[str, Any]) -> dict[str, Any]:
        """``{"status": "read", "message_id": …}``: blue ticks on an inbound message."""
        unknown = set(body) - {"messaging_product", "status", "message_id", "typing_indicator"}
        if unknown:
            raise ApiError(100, f'Unexpected key "{sorted(unknown)[0]}" on param "<root>".')
        if body.get("messaging_product") != "whatsapp":
            raise ApiError(100, "The parameter messaging_product is required and must be 'whatsapp'.")
        if not isinstance(body.get("message_id"), str) or not body["message_id"]:
            raise ApiError(131008, "The parameter message_id is required.")
        self.read_marks.append(body["message_id"])
        return {"success": True}

    def _check_token(self, header: str | None) -> None:
        if header != f"Bearer {self.config.token}":
            raise ApiError(190, "Error validating access token: the session is invalid or has expired.")

    def _accept(self, body: dict[str, Any], kind: str, to: str, arrived: float, mono: float,
                fault: Fault | None) -> AcceptedMessage:
        """Apply the number's rules; raise Meta's error, or log the message and schedule its statuses."""
        c = self.config
        now = c.clock.now()
        if c.throughput is not None:
            while self._arrivals and self._arrivals[0] <= mono - 1.0:
                self._arrivals.popleft()
            if len(self._arrivals) >= c.throughput:
                raise ApiError(130429, "Cloud API message throughput has been reached.")
            self._arrivals.append(mono)
        last = self._last_sent.get(to)
        if last is not None and now - last < timedelta(seconds=c.pair_gap):
            raise ApiError(131056, "Message failed to send because there were too many messages sent from "
                                   "this phone number to the same phone number in a short period of time.")
        inbound = self.last_inbound.get(to)
        open_window = inbound is not None and now - inbound < WINDOW
        failure: tuple[int, str] | None = None
        if fault is not None and fault.kind == "status":
            failure = _injected(fault)
        elif kind != "template" and not open_window:
            if c.window_failure == "error":
                raise ApiError(131047, "Message failed to send because more than 24 hours have passed "
                                       "since the customer last replied to this number.")
            failure = (131047, "Message failed to send because more than 24 hours have passed since the "
                               "customer last replied to this number.")
        elif not open_window and c.messaging_limit is not None:
            for person, when in list(self._limit_users.items()):
                if now - when >= WINDOW:
                    del self._limit_users[person]
            if to not in self._limit_users and len(self._limit_users) >= c.messaging_limit:
                failure = (MESSAGING_LIMIT_CODE, "Simulated messaging limit reached for unique people "
                                                 "outside their window in 24 hours.")
            else:
                self._limit_users.setdefault(to, now)
        self._last_sent[to] = now
        message = AcceptedMessage(new_wamid(), to, str(body.get("to", "")).startswith("+"), kind, body,
                                  arrived, mono,
                                  body.get("biz_opaque_callback_data"))
        self.accepted.append(message)
        if c.freeze_gc and len(self.accepted) % 256 == 0:
            gc.freeze()
        self._schedule_statuses(message, failure, "service" if open_window and kind != "template"
                                else c.templates.get(body.get("template", {}).get("name", ""),
                                                     TemplateSpec()).category)
        return message

    def _schedule_statuses(self, message: AcceptedMessage, failure: tuple[int, str] | None,
                           category: str) -> None:
        c = self.config
        stamp = int(c.clock.now().timestamp())

        def post(status: str, step: int, later: int = 0, **extra: Any) -> None:
            value = status_value(message.wamid, status, message.to, stamp + later, callback=message.callback,
                                 category=category, **extra)
            self.poster.post(envelope(self.business, value), delay=c.status_delay * step)

        if failure is not None:
            post("failed", 1, errors=[status_error(*failure)])
            return
        post("sent", 1)
        post("delivered", 2)
        if self.faults.rng.random() < c.read_share:
            post("read", 3, later=round(self.faults.rng.expovariate(1 / c.read_after)) if c.read_after else 0)

    # -- the account's templates -----------------------------------------------------------

    async def _templates(self, request: web.Request) -> web.Response:
        """``GET /<version>/<waba_id>/message_templates``: the templates, ``template_page_size`` a page."""
        try:
            self._check_token(request.headers.get("Authorization"))
        except ApiError as exc:
            return web.json_response(error_body(exc.code, exc.details), status=HTTP_STATUS.get(exc.code, 401))
        if request.match_info["waba_id"] != self.config.waba_id:
            return web.json_response(unknown_object_body(request.match_info["waba_id"]), status=400)
        entries = template_entries(self.config.templates)
        size = self.config.template_page_size
        start = int(request.query.get("after") or 0)
        page: dict[str, Any] = {"data": entries[start:start + size],
                "paging": {"cursors": {"before": str(start), "after": str(start + size)}}}
        if start + size < len(entries):
            following = {**request.query, "after": str(start + size)}
            page["paging"]["next"] = str(request.url.with_query(following))
        self.template_reads += 1
        return web.json_response(page)

    def set_template_status(self, name: str, status: str, reason: str | None = None) -> dict[str, Any]:
        """The account changes a template's status (Meta's review, or its quality checks); the
        ``message_template_status_update`` webhook is posted, and messages with it are refused."""
        spec = self.config.templates[name]
        self.config.templates[name] = replace(spec, status=status.upper())
        payload = template_status_payload(self.business, name, spec, status.upper(), reason)
        self.poster.post(payload)
        return payload

    # -- control endpoints (for `hub sandbox` users) ---------------------------------------

    async def _list_messages(self, request: web.Request) -> web.Response:
        # ?payload=1 adds what each request carried (the text a phone would show); off by
        # default, as the rate benchmarks read long logs.
        full = request.query.get("payload") == "1"
        return web.json_response([{"wamid": m.wamid, "to": m.to, "type": m.type, "at": m.at,
                                   "biz_opaque_callback_data": m.callback,
                                   **({"payload": m.payload} if full else {})}
                                  for m in self.accepted])

    async def _post_inbound(self, request: web.Request) -> web.Response:
        try:
            return await self._inbound_from(await request.json())
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return web.json_response({"error": f"expected {{\"from\": …, \"text\": …}}: {exc}"}, status=400)

    async def _inbound_from(self, data: dict[str, Any]) -> web.Response:
        if "button" in data:
            payload = self.tap_quick_reply(str(data["from"]), data["button"].get("payload", ""),
                                           data["button"].get("text", ""), data.get("context", ""))
        else:
            payload = self.inbound_text(str(data["from"]), str(data.get("text", "")),
                                        str(data.get("name", "Simulated person")))
        return web.json_response(payload)

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            recipients = data.pop("recipients", None)
            fault = Fault(**data, recipients=frozenset(recipients) if recipients else None)
        except (ValueError, TypeError, AttributeError) as exc:
            return web.json_response({"error": f"not a fault: {exc}"}, status=400)
        self.faults.add(fault)
        return web.json_response({"faults": len(self.faults.faults)})

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"faults": 0})

    async def _cleanup(self, app: web.Application) -> None:
        await self.poster.close()


def _injected(fault: Fault) -> tuple[int, str]:
    return (131000 if fault.code is None else fault.code), fault.details or "Injected by the simulator."


class SimulatorServer:
    """Runs a :class:`Simulator` on 127.0.0.1 in a background thread with its own event loop."""

    def __init__(self, config: SimulatorConfig | None = None, port: int = 0) -> None:
        self.simulator = Simulator(config)
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cloud-api-simulator",
                                        daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SimulatorServer:
        self._thread.start()
        self.call(self._start)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.simulator.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=0.5)  # hanging "timeout" faults must not hold a stop
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=2048)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run a coroutine function on the simulator's loop and wait for its result."""
        async def run() -> T:
            return await fn()
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def run(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the simulator's loop (for what schedules webhooks)."""
        async def wrapped() -> T:
            return fn()
        return self.call(wrapped)

    def drain_webhooks(self, timeout: float = 10.0) -> None:
        self.call(lambda: self.simulator.poster.drain(timeout), timeout + 5)

    def stop(self) -> None:
        """Stop serving and end the thread; calling it twice is harmless."""
        if self._loop.is_closed():
            return
        if self._runner is not None:
            self.call(self._runner.cleanup)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
