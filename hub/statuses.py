"""Status webhooks → delivery state, out of order but never backwards.

Meta sends ``sent``, ``delivered``, ``read`` (or ``failed``) for each message, repeats them for
days and may send them in any order, or skip ``delivered`` when a message is read at once. A
delivery only ever moves up the ranks below; a status for a wamid we do not know yet is matched
through ``biz_opaque_callback_data`` (the delivery id, as a string) or kept until the wamid is
recorded by the dispatcher (:func:`apply_pending`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from hub.cloudapi.messages import delivery_id_from_callback
from hub.settle import settle_from_status
from hub.tables import DeliveryRow, StatusEventRow

RANK = {"planned": 0, "sending": 1, "sent": 2, "failed": 3, "delivered": 4, "read": 5}
KNOWN = ("sent", "delivered", "read", "failed", "played")
FORGOTTEN_PREFIX = "forgotten:"


def digest(text: str) -> str:
    """A one-way key for ids that may carry a phone number (a wamid encodes the recipient)."""
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def forgotten_wamid(wamid: str) -> str:
    """What a delivery's wamid becomes after ``forget``: still matchable, no longer readable."""
    return FORGOTTEN_PREFIX + digest(wamid)


@dataclass(frozen=True)
class StatusUpdate:
    """A status as parsed from the webhook; ``at`` is Meta's timestamp."""

    wamid: str
    status: str
    at: datetime
    biz_opaque: str | None = None
    error_code: int | None = None
    error_detail: str | None = None
    category: str | None = None


def find_delivery(session: Session, wamid: str, biz_opaque: str | None) -> DeliveryRow | None:
    """The delivery a status is about: by wamid (also once forgotten), else by the echoed id.

    A status about an earlier send that a retry replaced (``superseded_wamid``) matches nothing.
    """
    row = session.exec(select(DeliveryRow).where(
        DeliveryRow.wamid.in_([wamid, forgotten_wamid(wamid)])  # type: ignore[union-attr]
    )).first()
    if row is not None:
        return row
    delivery_id = delivery_id_from_callback(biz_opaque)
    if delivery_id is None and biz_opaque and biz_opaque.strip().isdigit():
        delivery_id = int(biz_opaque.strip())
    if delivery_id is None:
        return None
    row = session.get(DeliveryRow, delivery_id)
    if row is None or row.superseded_wamid == wamid or row.wamid not in (None, wamid):
        return None
    return row


def record_status(session: Session, update: StatusUpdate, now: datetime) -> tuple[bool, DeliveryRow | None]:
    """Store one status (once) and apply it; returns (new event?, delivery that changed or None)."""
    key = digest(f"status:{update.wamid}:{update.status}")
    if session.exec(select(StatusEventRow.id).where(StatusEventRow.key == key)).first() is not None:
        return False, None
    delivery = find_delivery(session, update.wamid, update.biz_opaque)
    forgotten = bool(delivery and (delivery.wamid or "").startswith(FORGOTTEN_PREFIX))
    session.add(StatusEventRow(
        key=key, wamid=None if forgotten else update.wamid, status=update.status,
        delivery_id=delivery.id if delivery else None, biz_opaque=update.biz_opaque,
        error_code=update.error_code, error_detail=None if forgotten else update.error_detail,
        category=update.category, at=update.at, received_at=now,
    ))
    if delivery is None:
        return True, None
    changed = settle(session, delivery, update.status, update.at, now, update.error_code,
                     None if forgotten else update.error_detail,
                     wamid=None if forgotten else update.wamid)
    if delivery.wamid and not forgotten:
        apply_pending(session, delivery, now)
    return True, delivery if changed else None


def apply_pending(session: Session, delivery: DeliveryRow, now: datetime) -> bool:
    """Apply statuses that arrived before ``delivery.wamid`` was known; True if any changed it."""
    if not delivery.wamid:
        return False
    pending = session.exec(select(StatusEventRow).where(
        StatusEventRow.wamid == delivery.wamid, StatusEventRow.delivery_id.is_(None)  # type: ignore[union-attr]
    )).all()
    changed = False
    for event in sorted(pending, key=lambda e: RANK.get(e.status, 0)):
        event.delivery_id = delivery.id
        changed |= settle(session, delivery, event.status, event.at or now, now, event.error_code,
                          event.error_detail, wamid=delivery.wamid)
    return changed


def settle(session: Session, delivery: DeliveryRow, status: str, at: datetime, now: datetime,
           error_code: int | None = None, error_detail: str | None = None, *,
           wamid: str | None = None) -> bool:
    """Apply one status to a found delivery with the dispatcher's own rules (:mod:`hub.settle`):
    forward only, and a ``failed`` acted on by its code (131047 → the template, retries…)."""
    if delivery.status == "skipped":
        return False
    return settle_from_status(
        session, status="read" if status == "played" else status, at=at, wamid=wamid,
        delivery_id=delivery.id, error_code=error_code, error_detail=error_detail, now=now,
    ).changed

