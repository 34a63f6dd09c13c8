"""May this delivery go out now? The one place that answers it, read inside the claim.

News (anything but a reply) needs an active, opted-in subscriber who is not paused and, for the
"weekly" rhythm chosen as a lighter way back, had no news in the last 7 days. A reply answers a
person who wrote, so it goes to anyone who wrote within the last 24 hours (a BAJA confirmation
reaches someone who has just left) — and never to a forgotten person. Replies are conversation,
not broadcast: they never count against the news caps, and have their own limit instead
(``REPLY_LIMIT`` an hour to one person), so two automatic responders answering each other stop.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import Session, col, func, select

from hub.storage.tables import DeliveryRow

REPLY_WINDOW = timedelta(hours=24)
WEEK = timedelta(days=7)
REPLY_LIMIT = 10  # replies to one person within REPLY_SPAN; more is a loop, not a conversation
REPLY_SPAN = timedelta(hours=1)
SENT = ("sending", "sent", "delivered", "read")


class HeldDelivery(Protocol):
    """What is read of a delivery: a ``DeliveryRow``, or the dispatcher's view of a bulk-read row."""

    @property
    def id(self) -> int | None: ...
    @property
    def body(self) -> dict[str, Any] | None: ...


class HeldPerson(Protocol):
    """What is read of its subscriber: a ``SubscriberRow``, or the dispatcher's view of one."""

    @property
    def id(self) -> int | None: ...
    @property
    def status(self) -> str: ...
    @property
    def opted_in_at(self) -> datetime | None: ...
    @property
    def last_inbound_at(self) -> datetime | None: ...
    @property
    def paused_until(self) -> datetime | None: ...
    @property
    def rhythm(self) -> str: ...


def hold_reason(session: Session, delivery: HeldDelivery, subscriber: HeldPerson,
                now: datetime) -> str | None:
    """None when ``delivery`` may be sent now, else why it is skipped."""
    if subscriber.status == "forgotten":
        return "forgotten"
    if (delivery.body or {}).get("kind") == "reply":
        wrote = subscriber.last_inbound_at
        if wrote is None or now - wrote > REPLY_WINDOW:
            return "outside 24 h window"
        return _over_reply_limit(session, delivery, subscriber, now)
    if subscriber.status != "active" or subscriber.opted_in_at is None:
        return "opted out"
    if subscriber.paused_until is not None and subscriber.paused_until > now:
        return "paused"
    if subscriber.rhythm == "weekly":
        recent = session.exec(
            select(DeliveryRow.body).where(
                DeliveryRow.subscriber_id == subscriber.id, DeliveryRow.id != delivery.id,
                col(DeliveryRow.status).in_(SENT),
                col(DeliveryRow.claimed_at) > now - WEEK,
            )
        ).all()
        if any((body or {}).get("kind") != "reply" for body in recent):
            return "weekly rhythm"
    return None


def _over_reply_limit(session: Session, delivery: HeldDelivery, subscriber: HeldPerson,
                      now: datetime) -> str | None:
    """Why a reply must not go: ``REPLY_LIMIT`` replies went to this person within the hour."""
    replies = session.exec(
        select(func.count()).select_from(DeliveryRow).where(
            DeliveryRow.subscriber_id == subscriber.id, DeliveryRow.id != delivery.id,
            col(DeliveryRow.item_id).is_(None), col(DeliveryRow.run_id).is_(None),
            col(DeliveryRow.status).in_(SENT), col(DeliveryRow.claimed_at) > now - REPLY_SPAN,
        )
    ).one()
    if replies >= REPLY_LIMIT:
        return f"reply limit: {REPLY_LIMIT} replies within {REPLY_SPAN.seconds // 60} minutes"
    return None
