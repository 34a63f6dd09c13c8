"""The webhook Meta calls: statuses of our messages and what people write to us.

``GET``  answers the verification handshake (``hub.mode=subscribe``, ``hub.verify_token``).
``POST`` checks ``X-Hub-Signature-256`` over the raw bytes before anything else is read, then
stores every message and status and answers 200 only after the commit, so nothing acknowledged
is lost; posts that arrive together share one transaction (:mod:`hub.web.group_commit`). Meta
repeats posts for days; a repeat changes nothing.

    413  body over ``max_body_bytes``          401  signature missing or wrong (nothing stored)
    400  not JSON, or not a WhatsApp webhook   500  the store failed (Meta will retry)
    408  the body took over ``body_timeout``   (a client gone mid-body: one log line, nothing sent)
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from hub import events
from hub.audience.inbound import Audience
from hub.audience.optouts import optouts
from hub.config import AudienceConfig
from hub.delivery import template_status
from hub.delivery.replier import Replier
from hub.delivery.statuses import StatusBatch, digest
from hub.events import Events
from hub.privacy import mask_person
from hub.storage.store import Store
from hub.storage.tables import InboundMessageRow, SubscriberRow
from hub.timekeeping.clock import Clock, SystemClock
from hub.web.group_commit import GroupCommit
from hub.web.refusals import RefusalLog
from hub.web.signature import HEADER, is_valid, refusal_reason
from hub.web.webhook_parse import BadShape, Parsed, parse

log = logging.getLogger("hub.web.webhook")


@dataclass
class Effects:
    """What one post changed, for logs and tests (plugins hear it through :mod:`hub.events`)."""

    stored: int = 0
    repeats: int = 0
    statuses: int = 0
    deliveries: list[tuple[int, str]] = field(default_factory=list)  # (delivery id, new state)
    people: list[tuple[SubscriberRow, str]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


class Inbox:
    """Stores a parsed webhook and acts on it, all in one write transaction."""

    def __init__(self, store: Store, audience: Audience, clock: Clock) -> None:
        self.store = store
        self.audience = audience
        self.clock = clock

    def accept(self, parsed: Parsed) -> Effects:
        return self.accept_many([parsed])[0]

    def accept_many(self, posts: list[Parsed]) -> list[Effects]:
        """Store and act on several posts in one durable transaction, in the order they came."""
        now = self.clock.now()
        with self.store.write(durable=True) as session:
            batch: StatusBatch | None = None
            results = []
            for index, parsed in enumerate(posts):
                effects = Effects()
                for update in parsed.templates:
                    template_status.apply_update(session, update)
                if parsed.inbound:
                    if batch is not None:
                        batch.flush()  # what a person wrote may change deliveries: look again
                        batch = None
                    self._inbound(session, parsed, now, effects)
                if parsed.statuses:
                    if batch is None:  # one lookup for this post's statuses and every later one
                        batch = StatusBatch(session, [u for p in posts[index:] for u in p.statuses])
                    for reported in parsed.statuses:
                        new, delivery = batch.record(reported, now)
                        effects.statuses += int(new)
                        effects.repeats += int(not new)
                        if delivery is not None:
                            # A failed status that replans the delivery is a retry, not its end.
                            effects.deliveries.append((delivery.id, delivery.status))
                            status = "retrying" if delivery.status == "planned" else delivery.status
                            events.delivery_changed(session, delivery.id, status)
                results.append(effects)
            if batch is not None:
                batch.flush()
        return results

    def _inbound(self, session: Session, parsed: Parsed, now: datetime, effects: Effects) -> None:
        for inbound in parsed.inbound:
            key = digest(inbound.key_source)
            if session.exec(select(InboundMessageRow.id).where(InboundMessageRow.key == key)).first():
                effects.repeats += 1
                continue
            row = InboundMessageRow(
                key=key, message_id=inbound.message_id, phone=inbound.phone,
                user_id=inbound.user_id, name=inbound.name, type=inbound.type,
                text=inbound.text, reply_id=inbound.reply_id, context_id=inbound.context_id,
                payload=inbound.payload, sent_at=inbound.sent_at, received_at=now,
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            try:
                with session.begin_nested():
                    outcome = self.audience.handle(session, inbound, row.id, now)
                row.action = outcome.action
                effects.people.extend(outcome.changes)
                for person, change in outcome.changes:  # kept only once the savepoint held
                    events.subscriber_changed(session, person, change)
            except SQLAlchemyError:
                raise
            except Exception as exc:  # a bug in handling must not lose the message itself
                log.exception("handling a message from %s failed",
                              mask_person(inbound.phone, inbound.user_id))
                row.action = f"error: {exc.__class__.__name__}"
            effects.stored += 1
            effects.actions.append(row.action or "")
            log.info("%s from %s: %s", inbound.type, mask_person(inbound.phone, inbound.user_id),
                     row.action)


def build_app(store: Store, audience_config: AudienceConfig, zone: ZoneInfo, *, app_secret: str,
              verify_token: str | None, max_body_bytes: int = 3 * 1024 * 1024, path: str = "/webhook",
              clock: Clock | None = None, pm: Any = None, replier: Replier | None = None,
              body_timeout: float = 10.0) -> Starlette:
    """The ASGI app.

    ``pm`` (a plugin manager), when given, hears this store's ``on_delivery_status`` and
    ``on_subscriber_change`` after each commit (:mod:`hub.events`); ``replier``, when given, runs
    beside the app and sends planned replies at once.
    """
    if pm is not None:
        store.events = Events(pm)
    inbox = Inbox(store, Audience(audience_config, zone), clock or SystemClock())
    committer: GroupCommit[Parsed, Effects] = GroupCommit(inbox.accept_many)
    refusals = RefusalLog(log)

    async def verify(request: Request) -> Response:
        query = request.query_params
        token = query.get("hub.verify_token") or ""
        if (query.get("hub.mode") == "subscribe" and verify_token
                and hmac.compare_digest(token.encode(), verify_token.encode())):
            return PlainTextResponse(query.get("hub.challenge") or "")
        return PlainTextResponse("verification failed", status_code=403)

    async def receive(request: Request) -> Response:
        try:
            async with asyncio.timeout(body_timeout):  # a client that never ends its body is cut
                body = await _read_limited(request, max_body_bytes)
        except TimeoutError:
            log.info("webhook body not finished within %.0f s: cut", body_timeout)
            return PlainTextResponse("body too slow", status_code=408, headers={"connection": "close"})
        except ClientDisconnect:  # nobody left to answer: one line, no traceback, not a 5xx
            log.info("webhook client went away before its body ended")
            return PlainTextResponse("client went away", status_code=499)
        if body is None:
            refusals.refused(413, "body too large", f"over {max_body_bytes} bytes")
            return PlainTextResponse(f"body over {max_body_bytes} bytes", status_code=413)
        signature = request.headers.get(HEADER)
        if not is_valid(body, signature, app_secret):
            kind, detail = refusal_reason(signature)
            refusals.refused(401, kind, detail)
            return PlainTextResponse("signature missing or wrong", status_code=401)
        try:
            parsed = parse(body, inbox.clock.now())
        except BadShape as exc:
            refusals.refused(400, "not a WhatsApp webhook", str(exc))
            return PlainTextResponse(f"not a WhatsApp webhook: {exc}", status_code=400)
        except ValueError as exc:
            text = str(exc)
            refusals.refused(400, "not JSON" if text.startswith("not JSON") else "unreadable body",
                             text.removeprefix("not JSON: "))
            return PlainTextResponse(str(exc), status_code=400)
        try:
            effects = await committer.submit(parsed)
        except SQLAlchemyError as exc:
            log.error("webhook not stored, Meta will retry: %s", exc.__class__.__name__)
            return PlainTextResponse("not stored, try again", status_code=500)
        await _honour_now(store, effects)
        if replier is not None and effects.stored:
            replier.poke()
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route(path, verify, methods=["GET"]),
                            Route(path, receive, methods=["POST"])],
                    lifespan=replier.lifespan if replier is not None else None)
    # One exact path: no 307 to "/webhook" for "/webhook/" (building that redirect from a query
    # string that is not UTF-8 raised, a 500), just a 404 like any other wrong path.
    app.router.redirect_slashes = False
    app.state.group_commit = committer  # its batch count, for tests and figures
    return app


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _honour_now(store: Store, effects: Effects) -> None:
    """Before the 200: this process's dispatcher sends no more news to who just left, and any
    request to them already under way is done (see :mod:`hub.audience.optouts`)."""
    if not effects.people:
        return
    registry = optouts(store)
    for person, change in effects.people:
        if change == "subscribed" and person.id is not None:
            registry.joined([person.id])
    left = [person.id for person, change in effects.people if change == "unsubscribed" and person.id]
    if left:
        await registry.left(left)

