"""Sending the outbox through a sink, at most once per delivery.

A delivery is claimed (``sending``) and committed before the sink is called, and its message id
recorded after; a crash in between leaves a claim to settle from status webhooks, never a resend.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from hub.caps import Caps, ClaimGuard
from hub.clock import Clock, SystemClock
from hub.contracts import OutgoingMessage, Sink
from hub.privacy import mask_phone
from hub.sendable import hold_reason
from hub.statuses import advance, apply_pending
from hub.store import Store
from hub.tables import DeliveryRow, SubscriberRow

log = logging.getLogger("hub.dispatch")

BATCH = 100


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_due(store: Store, clock: Clock, limit: int = BATCH, *,
              caps: Caps | None = None) -> list[tuple[DeliveryRow, SubscriberRow]]:
    """Claim up to ``limit`` due deliveries; opted-out recipients are skipped, not claimed.

    With ``caps``, each claim is checked against what was really sent (see ``hub.caps``):
    a delivery that must wait gets a later ``due_at``, one over the daily cap is skipped.
    A batch in which every row was skipped or held does not end the claiming.
    """
    while True:
        claimed, looked = _claim_batch(store, clock, limit, caps)
        if claimed or not looked:
            return claimed


def _claim_batch(store: Store, clock: Clock, limit: int,
                 caps: Caps | None) -> tuple[list[tuple[DeliveryRow, SubscriberRow]], int]:
    now = clock.now()
    claimed: list[tuple[DeliveryRow, SubscriberRow]] = []
    with store.write() as session:
        rows = session.exec(
            select(DeliveryRow, SubscriberRow)
            .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            .where(DeliveryRow.status == "planned", DeliveryRow.due_at <= now)
            .order_by(DeliveryRow.due_at, DeliveryRow.id)
            .limit(limit)
        ).all()
        guard = _guard(caps, session, now, rows)
        for delivery, subscriber in rows:
            delivery.updated_at = now
            reason = hold_reason(session, delivery, subscriber, now)
            if reason is not None:
                delivery.status, delivery.reason = "skipped", reason
                continue
            if guard is not None and _held(guard, delivery, subscriber):
                continue
            delivery.status = "sending"
            delivery.claimed_at = now
            delivery.claimed_by = worker_id()
            delivery.attempts += 1
            claimed.append((delivery, subscriber))
    return claimed, len(rows)


def _guard(caps: Caps | None, session: Session, now: datetime,
           rows: Sequence[tuple[DeliveryRow, SubscriberRow]]) -> ClaimGuard | None:
    if caps is None or not caps.active:
        return None
    return ClaimGuard(caps, session, now, {s.id for _, s in rows if s.id is not None})


def _held(guard: ClaimGuard, delivery: DeliveryRow, subscriber: SubscriberRow) -> bool:
    """Apply the caps to one claim: True when the delivery must wait or is skipped."""
    hold = guard.decide(subscriber.id or 0)
    if hold is None:
        return False
    delivery.reason = hold.reason
    if hold.until is None:
        delivery.status = "skipped"
    else:
        delivery.due_at = hold.until
    return True


async def dispatch_due(store: Store, sink: Sink, clock: Clock | None = None, *,
                       caps: Caps | None = None) -> DispatchReport:
    """Send every due delivery once through ``sink``, recording each outcome (within ``caps``)."""
    clock = clock or SystemClock()
    report = DispatchReport()
    await sink.open()
    try:
        while batch := claim_due(store, clock, caps=caps):
            for delivery, subscriber in batch:
                message = OutgoingMessage(
                    delivery_id=delivery.id or 0, phone=subscriber.phone,
                    text=delivery.body.get("text", ""), items=delivery.body.get("items", []),
                    last_inbound_at=subscriber.last_inbound_at, body=dict(delivery.body or {}),
                )
                result = await sink.send(message)
                with store.write() as session:
                    row = session.get(DeliveryRow, delivery.id)
                    assert row is not None
                    now = clock.now()
                    row.updated_at = now
                    if result.ok:
                        # A status webhook may have settled this row first: only move forward.
                        row.wamid = row.wamid or result.message_id
                        advance(row, "sent", now, now)
                        apply_pending(session, row, now)
                        report.sent += 1
                    else:
                        row.status, row.failed_at = "failed", now
                        row.error_code, row.error_detail = result.error_code, result.error_detail
                        report.failed += 1
                        log.warning("delivery %s to %s failed: %s %s", row.id,
                                    mask_phone(subscriber.phone), result.error_code,
                                    result.error_detail)
    finally:
        await sink.close()
    return report
