"""Opt-in and opt-out, always recorded with their proof before anything else happens."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from hub.storage.tables import ConsentEventRow, SubscriberRow


def record_opt_in(
    session: Session, phone: str | None, now: datetime, *, channel: str, words: str | None = None,
    note: str | None = None, message_id: str | None = None, name: str | None = None,
    topics: list[str] | None = None, person: SubscriberRow | None = None,
) -> SubscriberRow:
    """Make ``person`` (or whoever has ``phone``) an active subscriber and store the consent
    event that proves it: who (number and/or business-scoped user id), when, which words."""
    subscriber = person or (session.exec(select(SubscriberRow).where(SubscriberRow.phone == phone)).first()
                            if phone else None)
    if subscriber is None:
        subscriber = SubscriberRow(phone=phone, created_at=now, topics=list(topics or []))
        session.add(subscriber)
    elif topics is not None:
        subscriber.topics = list(topics)
    subscriber.name = name or subscriber.name
    subscriber.status = "active"
    subscriber.opted_in_at = now
    subscriber.opted_out_at = None
    session.flush()
    session.add(ConsentEventRow(
        subscriber_id=subscriber.id, phone=subscriber.phone, user_id=subscriber.user_id,
        kind="opt_in", channel=channel, words=words, note=note, message_id=message_id, at=now,
    ))
    return subscriber


def record_opt_out(
    session: Session, subscriber: SubscriberRow, now: datetime, *, channel: str,
    words: str | None = None, message_id: str | None = None,
) -> None:
    """Stop everything for this subscriber at once, keeping the proof of when and how."""
    subscriber.status = "unsubscribed"
    subscriber.opted_out_at = now
    session.add(ConsentEventRow(
        subscriber_id=subscriber.id, phone=subscriber.phone, user_id=subscriber.user_id,
        kind="opt_out", channel=channel, words=words, message_id=message_id, at=now,
    ))
