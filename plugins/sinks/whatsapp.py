"""The ``whatsapp`` sink: one-to-one messages over Meta's WhatsApp Business Cloud API.

Each planned delivery becomes one ``POST <base_url>/<version>/<phone_number_id>/messages``:
free-form (text with link preview, or image with caption) while the person's 24-hour
customer-service window is open, the configured approved template otherwise. The request
carries the delivery id in ``biz_opaque_callback_data`` so a status webhook can settle a claim
whose answer was lost. Each Cloud API error ``code`` is turned here into the
:class:`hub.contracts.Action` the dispatcher obeys (:mod:`hub.cloudapi.codes`: retry, wait for the
person, resend as the template, pause or stop all sending…); pacing and retries live in
:mod:`hub.delivery.send`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

import hub
from hub.audience.texts import plain
from hub.cloudapi import messages as wa
from hub.cloudapi.client import GraphClient, reached_server
from hub.cloudapi.codes import action_for
from hub.config import secret_from_env
from hub.contracts import Action, OutgoingMessage, Pacing, SendResult, Sink, SinkOptions, callback_for
from hub.privacy import mask_phone, mask_user_id
from hub.timekeeping.durations import parse_interval

log = logging.getLogger("hub.sinks.whatsapp")

WINDOW = timedelta(hours=24)
FIELDS = ("title", "summary", "url", "path", "heading", "titles", "count", "image_url")


def _check_placeholders(value: str) -> str:
    for _, name, _, _ in string.Formatter().parse(value):
        if name is not None and name not in FIELDS:
            raise ValueError(f"unknown placeholder {{{name}}} (expected one of: {', '.join(FIELDS)})")
    return value


class TemplateOptions(BaseModel):
    """An approved template and how a story fills it: ``{title}``, ``{url}``, ``{path}``…"""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="the template's name in WhatsApp Manager")
    language: str = Field("es", min_length=2, description='its language code, e.g. "es" or "en_US"')
    body: list[str] = Field(default_factory=list, description='body parameters, e.g. ["{title}"]')
    header_image: bool = Field(False, description="the template has an image header")
    default_image_url: str | None = Field(None, description="header image when a story has none")
    button_url: str | None = Field(None, description='URL-button suffix, e.g. "{path}"')
    button_index: int = Field(0, ge=0, le=9, description="position of the URL button")
    param_limit: int = Field(300, ge=10, le=1024, description="longest parameter, in characters")

    @field_validator("body")
    @classmethod
    def _body(cls, value: list[str]) -> list[str]:
        return [_check_placeholders(v) for v in value]

    @field_validator("button_url")
    @classmethod
    def _button(cls, value: str | None) -> str | None:
        return None if value is None else _check_placeholders(value)


class WhatsAppOptions(SinkOptions):
    """``[sinks.whatsapp]``: the number, the token's variable, the template, the pace."""

    phone_number_id: str = Field(pattern=r"^\d{5,20}$", description="the sending number's id")
    waba_id: str | None = Field(None, pattern=r"^\d{5,20}$",
                                description="the WhatsApp Business Account id (hub templates)")
    token_env: str = Field("WHATSAPP_TOKEN", description="environment variable with the token")
    app_secret_env: str = Field("WHATSAPP_APP_SECRET",
                                description="environment variable with the app secret (webhooks)")
    graph_version: str = Field("v23.0", pattern=r"^v\d+\.\d+$")
    base_url: str = Field("https://graph.facebook.com",
                          description="the Graph API; point it at `hub sandbox` to try things")
    template: TemplateOptions | None = None
    digest_template: TemplateOptions | None = None
    images: bool = Field(True, description="send a story's image with its text as caption")
    rate: float = Field(80, gt=0, le=1000, description="messages per second for this number")
    concurrency: int = Field(100, ge=1, le=1000, description="requests in flight at most")
    per_recipient_seconds: float = Field(6, ge=0, description="least time between two sends to one person")
    timeout: float = Field(20, gt=0, le=300, description="seconds to wait for one answer")
    max_attempts: int = Field(8, ge=1, le=50)
    in_doubt_after: str = Field("1 hour", description="resend a claim with no status after this")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
            raise ValueError("expected an http(s) URL such as https://graph.facebook.com")
        return value.rstrip("/")

    @field_validator("in_doubt_after")
    @classmethod
    def _interval(cls, value: str) -> str:
        parse_interval(value)
        return value


def in_window(last_inbound_at: datetime | None, now: datetime,
              margin: timedelta = timedelta(minutes=5)) -> bool:
    """Whether free-form messages are allowed: the person wrote less than 24 h ago (with margin)."""
    return last_inbound_at is not None and now - last_inbound_at < WINDOW - margin


def _now(message: OutgoingMessage) -> datetime:
    return message.now or datetime.now(UTC)


def _heading(message: OutgoingMessage) -> str:
    """The digest's heading; rows planned before it was stored keep it as their text's first line."""
    heading = str(message.body.get("heading") or "")
    if not heading and message.body.get("kind") == "digest" and message.text:
        heading = message.text.split("\n", 1)[0].strip().strip("*").strip()
    return heading


def _fields(message: OutgoingMessage, param_limit: int = 300, language: str = "es") -> dict[str, str]:
    items = message.items
    first = items[0] if items else {}
    url = str(first.get("url") or "")
    parts = urlsplit(url)
    path = (parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")) if url else ""
    more = plain("en" if language.lower().startswith("en") else "es")("more_titles")
    titles = wa.titles_param([str(i.get("title") or "") for i in items], param_limit, more)
    heading = _heading(message)
    digest = message.body.get("kind") == "digest"
    return {
        "title": heading if digest and heading else str(first.get("title") or ""),
        "summary": titles if digest else str(first.get("summary") or ""),
        "url": url, "path": path, "heading": heading, "titles": titles,
        "count": str(len(items)), "image_url": str(first.get("image_url") or ""),
    }


class WhatsAppSink(Sink):
    """Sends through the Cloud API; answers are returned as :class:`SendResult`, never raised."""

    Options = WhatsAppOptions

    def __init__(self, options: WhatsAppOptions) -> None:
        super().__init__(options)
        self.options: WhatsAppOptions = options
        self._client: GraphClient | None = None

    @property
    def endpoint(self) -> str:
        o = self.options
        return f"{o.base_url}/{o.graph_version}/{o.phone_number_id}/messages"

    def pacing(self) -> Pacing:
        o = self.options
        return Pacing(rate=o.rate, concurrency=o.concurrency,
                      recipient_gap=timedelta(seconds=o.per_recipient_seconds),
                      in_doubt_after=parse_interval(o.in_doubt_after), max_attempts=o.max_attempts,
                      number=o.phone_number_id)

    def reach_problem(self, last_inbound_at: datetime | None, now: datetime) -> str | None:
        """Missing secrets reach nobody; outside the 24 h window only the template does."""
        missing = [v for v in (self.options.token_env, self.options.app_secret_env) if not os.environ.get(v)]
        if missing:
            return f"environment variable {' and '.join(missing)} not set"
        if self.options.template is None and not in_window(last_inbound_at, now):
            return "outside the 24-hour window and no [sinks.whatsapp].template is configured"
        return None

    async def open(self) -> None:
        token = secret_from_env(self.options.token_env, purpose="the WhatsApp Cloud API token")
        if self._client is None:
            self._client = GraphClient(self.endpoint, token, connections=self.options.concurrency,
                                       timeout=self.options.timeout)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- building ---------------------------------------------------------------------------

    def build(self, message: OutgoingMessage) -> dict[str, Any]:
        """The request body for ``message``: free-form inside the window, else the template."""
        callback = callback_for(message.delivery_id)
        body = message.body
        free = not message.force_template and in_window(message.last_inbound_at, _now(message))
        if body.get("kind") == "interactive":
            if not free:
                raise BuildError("an interactive message can only be sent inside the 24-hour window")
            return self._interactive(message, callback)
        if body.get("kind") == "reply":
            if not in_window(message.last_inbound_at, _now(message), margin=timedelta(0)):
                raise BuildError("a reply can only be sent inside the 24-hour window")
            return self._reply(message, callback)
        if free:
            image = str((message.items[0].get("image_url") if message.items else "") or "")
            if self.options.images and image.startswith(("http://", "https://")) and len(message.items) == 1:
                return wa.image_message(message.address, image, message.text, callback=callback)
            return wa.text_message(message.address, message.text, callback=callback)
        digest = body.get("kind") == "digest"
        template = (self.options.digest_template if digest else None) or self.options.template
        if template is None:
            raise BuildError("outside the 24-hour window and no [sinks.whatsapp].template is configured")
        values = _fields(message, template.param_limit, template.language)
        header = None
        if template.header_image:
            header = values["image_url"] or template.default_image_url
            if not header:
                raise BuildError(f"template {template.name!r} has an image header but the story has no "
                                 "image; set default_image_url")
        call = wa.TemplateCall(
            name=template.name, language=template.language,
            body=[p.format_map(values) for p in template.body], header_image=header,
            url_suffix=template.button_url.format_map(values) if template.button_url is not None else None,
            button_index=template.button_index, param_limit=template.param_limit,
        )
        return wa.template_message(message.address, call, callback=callback)

    def _interactive(self, message: OutgoingMessage, callback: str) -> dict[str, Any]:
        body = message.body
        if body.get("buttons"):
            return wa.buttons_message(message.address, message.text,
                                      [(b["id"], b["title"]) for b in body["buttons"]],
                                      header=body.get("header"), footer=body.get("footer"), callback=callback)
        if body.get("sections"):
            sections = [(s.get("title", ""), [wa.Row(r["id"], r["title"], r.get("description", ""))
                                              for r in s.get("rows", [])]) for s in body["sections"]]
            return wa.list_message(message.address, message.text, body.get("button", "Ver"), sections,
                                   header=body.get("header"), footer=body.get("footer"), callback=callback)
        raise BuildError("an interactive body needs buttons or sections")

    def _reply(self, message: OutgoingMessage, callback: str) -> dict[str, Any]:
        """A reply (``hub.delivery.render.reply_body``): its interactive list or buttons, else its text.

        The interactive object is rebuilt through the builders, so Meta's limits are cut the same
        way as for any other message; ``in_reply_to`` becomes the ``context`` that quotes it.
        """
        body = message.body
        interactive = body.get("interactive") or {}
        action = interactive.get("action") or {}
        text = str((interactive.get("body") or {}).get("text") or message.text)
        header = (interactive.get("header") or {}).get("text")
        footer = (interactive.get("footer") or {}).get("text")
        if interactive.get("type") == "button" and action.get("buttons"):
            buttons = [(b["reply"]["id"], b["reply"]["title"]) for b in action["buttons"]]
            payload = wa.buttons_message(message.address, text, buttons, header=header, footer=footer,
                                         callback=callback)
        elif interactive.get("type") == "list" and action.get("sections"):
            sections = [(s.get("title", ""), [wa.Row(r["id"], r["title"], r.get("description", ""))
                                              for r in s.get("rows", [])]) for s in action["sections"]]
            payload = wa.list_message(message.address, text, action.get("button", "Ver"), sections,
                                      header=header, footer=footer, callback=callback)
        else:
            payload = wa.text_message(message.address, message.text, callback=callback)
        if body.get("in_reply_to"):
            payload["context"] = {"message_id": str(body["in_reply_to"])}
        return payload

    def preview(self, message: OutgoingMessage) -> str:
        try:
            payload = self.build(message)
        except BuildError as exc:
            return f"(would not send: {exc})"
        if "to" in payload:
            payload["to"] = mask_phone(payload["to"])
        if "recipient" in payload:
            payload["recipient"] = mask_user_id(payload["recipient"])
        return json.dumps(payload, ensure_ascii=False, indent=2)

    # -- sending ----------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> SendResult:
        templated = message.force_template or not in_window(message.last_inbound_at, _now(message))
        free_form_only = message.body.get("kind") in ("interactive", "reply")
        if message.marketing_stopped and templated and not free_form_only:
            return SendResult(ok=False, error_code=131050, called=False, action=action_for(131050),
                              error_detail="this person stopped marketing messages; not sent")
        try:
            payload = self.build(message)
        except ValueError as exc:  # BuildError, or a number that is not one
            return SendResult(ok=False, error_detail=str(exc), called=False, action=Action.FAIL)
        return await self.post(payload, message.departing)

    def marks_departure(self) -> bool:
        """Yes: the body's write to the socket calls ``message.departing`` first (GraphClient)."""
        return True

    async def post(self, payload: dict[str, Any], departing: Callable[[], None] | None = None) -> SendResult:
        """POST one body; the answer (or the network's failure) as a :class:`SendResult`."""
        if self._client is None:
            await self.open()
        assert self._client is not None
        kind = payload.get("type")
        try:
            response = await self._client.post_json(payload, departing)
        except (httpx.TransportError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            # Only a refused connection proves nothing left; anything else may have been accepted.
            doubt = reached_server(exc) if isinstance(exc, httpx.TransportError) else True
            return SendResult(ok=False, error_detail=f"network: {type(exc).__name__}: {exc}".rstrip(": "),
                              in_doubt=doubt, sent_as=kind, action=Action.RETRY)
        return parse_answer(response, kind)


class BuildError(ValueError):
    """A delivery cannot be turned into a request Meta would accept."""


def parse_answer(response: httpx.Response, kind: str | None = None) -> SendResult:
    """Read Meta's answer by its ``code``, whatever the HTTP status says, and say what to do."""
    retry_after = _retry_after(response.headers.get("Retry-After"))
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        error = data["error"]
        code = error.get("code")
        data_part = error.get("error_data")
        details = data_part.get("details") if isinstance(data_part, dict) else None
        text = f"{error.get('message') or ''}" + (f": {details}" if details else "")
        code = code if isinstance(code, int) else None
        return SendResult(ok=False, error_code=code, action=action_for(code),
                          error_detail=text or f"HTTP {response.status_code}", retry_after=retry_after,
                          sent_as=kind)
    if response.is_success and isinstance(data, dict):
        ids = [m.get("id") for m in data.get("messages") or [] if isinstance(m, dict)]
        if ids and isinstance(ids[0], str):
            return SendResult(ok=True, message_id=ids[0], sent_as=kind)
    snippet = re.sub(r"\s+", " ", response.text[:120])
    # A gateway that gave up waiting (502, 504) or a 2xx without a message id: Meta may well have
    # taken the message upstream, so it is in doubt — its status webhook settles it, and it is only
    # resent after the in-doubt timeout. Other pages (500, 503, 429) are retried with back-off.
    doubt = response.status_code in (502, 504) or response.is_success
    return SendResult(ok=False, error_detail=f"HTTP {response.status_code}: {snippet}".strip(),
                      retry_after=retry_after, sent_as=kind, in_doubt=doubt, action=Action.RETRY)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@hub.hookimpl
def register_sinks(register: Any) -> None:
    register("whatsapp", WhatsAppSink)
