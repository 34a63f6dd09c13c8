"""Settling deliveries from status webhooks (``sent`` → ``delivered`` → ``read``, or ``failed``).

The webhook calls :func:`settle_from_status` for each ``statuses[]`` entry. It finds the delivery
by ``wamid``, or, when the send's answer was lost in a crash, by the delivery id the hub put in
``biz_opaque_callback_data`` — which is how an in-doubt ``sending`` claim is settled instead of
resent. States only move forward, so repeated or out-of-order webhooks are harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from hub.cloudapi.codes import Action, action_for
from hub.cloudapi.messages import delivery_id_from_callback
from hub.delivery.pacing import backoff
from hub.storage.tables import DeliveryRow, SubscriberRow

RANK = {"planned": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}
DEFAULT_MAX_ATTEMPTS = 8
DAY = timedelta(hours=24)


# What settling may change on a delivery, and what it reads besides.
SETTLED_COLUMNS = ("status", "wamid", "superseded_wamid", "sent_at", "delivered_at", "read_at",
                   "failed_at", "next_try_at", "updated_at", "claimed_at", "claimed_by",
                   "force_template", "last_error", "error_code", "error_detail")
STATE_COLUMNS = ("id", "subscriber_id", "attempts", *SETTLED_COLUMNS)


class DeliveryState:
    """A delivery's settling columns as a plain record, for settling many without ORM objects.

    The rules below work on it as on a :class:`DeliveryRow`; :meth:`changes` says what to write.
    """

    id: int
    subscriber_id: int
    attempts: int
    status: str
    wamid: str | None
    superseded_wamid: str | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    next_try_at: datetime | None
    updated_at: datetime | None
    claimed_at: datetime | None
    claimed_by: str | None
    force_template: bool
    last_error: str | None
    error_code: int | None
    error_detail: str | None

    def __init__(self, row: Any) -> None:
        self.__dict__.update(row)
        self._loaded = tuple(row[name] for name in SETTLED_COLUMNS)

    def changes(self) -> dict[str, Any] | None:
        """The UPDATE parameters (``b_id``, ``v_<column>``) if anything changed, else None."""
        now = tuple(getattr(self, name) for name in SETTLED_COLUMNS)
        if now == self._loaded:
            return None
        values = zip(SETTLED_COLUMNS, now, strict=True)
        return {"b_id": self.id, **{f"v_{name}": value for name, value in values}}


@dataclass(frozen=True)
class Settled:
    """What a status did: the delivery it concerned (if any) and whether it changed."""

    delivery: DeliveryRow | DeliveryState | None
    changed: bool
    note: str = ""


def find_delivery(session: Session, wamid: str | None, callback_data: str | None = None,
                  delivery_id: int | None = None) -> DeliveryRow | None:
    """The delivery a status names: by wamid first, then by the id echoed in the callback data.

    The row is locked (FOR UPDATE; SQLite's write transaction already is) and read afresh, so
    two statuses about one message settled at once on PostgreSQL — ``delivered`` and ``read``
    arrive together — apply one after the other instead of the later commit undoing the other.
    """
    if wamid:
        row = session.exec(select(DeliveryRow).where(DeliveryRow.wamid == wamid)
                           .with_for_update().execution_options(populate_existing=True)).first()
        if row is not None:
            return row
    wanted = delivery_id if delivery_id is not None else delivery_id_from_callback(callback_data)
    if wanted is None:
        return None
    row = session.get(DeliveryRow, wanted, with_for_update=True, populate_existing=True)
    if row is None:
        return None
    if wamid and (row.superseded_wamid == wamid or (row.wamid and row.wamid != wamid)):
        return None  # a late status about an earlier, replaced send
    return row


def settle_from_status(session: Session, *, status: str, at: datetime, wamid: str | None = None,
                       callback_data: str | None = None, delivery_id: int | None = None,
                       error_code: int | None = None, error_detail: str | None = None,
                       now: datetime | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                       row: DeliveryRow | DeliveryState | None = None) -> Settled:
    """Apply one status webhook entry to its delivery, inside the caller's transaction.

    :param status: ``sent``, ``delivered``, ``read`` or ``failed`` (others are ignored).
    :param at: the status's own time (``timestamp``), as an aware datetime.
    :param wamid: ``statuses[].id``; recorded on an in-doubt claim that lacked it.
    :param callback_data: ``statuses[].biz_opaque_callback_data``, naming our delivery id.
    :param error_code: for ``failed``, ``statuses[].errors[0].code``; acted on like a send's answer.
    :param row: the delivery, when the caller has already found it (no lookup then).
    """
    now = now or at
    row = row or find_delivery(session, wamid, callback_data, delivery_id)
    if row is None:
        return Settled(None, False, "unknown message")
    if status == "failed":
        return _failed(session, row, at, now, wamid, error_code, error_detail, max_attempts)
    if status not in ("sent", "delivered", "read"):
        return Settled(row, False, f"status {status!r} ignored")
    if row.status in ("failed", "skipped"):
        return Settled(row, False, "already final")
    changed = False
    if wamid and row.wamid is None:
        row.wamid, changed = wamid, True
    # Each time is the earliest seen, so a late "sent" or "delivered" still says when it happened.
    if row.sent_at is None or at < row.sent_at:
        row.sent_at, changed = at, True
    if status in ("delivered", "read") and (row.delivered_at is None or at < row.delivered_at):
        row.delivered_at, changed = at, True  # "read" implies delivered, which may be skipped
    if status == "read" and (row.read_at is None or at < row.read_at):
        row.read_at, changed = at, True
    if RANK.get(status, 0) > RANK.get(row.status, 0):
        row.status, changed = status, True
        row.next_try_at = None
    if changed:
        row.updated_at = now
    return Settled(row, changed)


def _failed(session: Session, row: DeliveryRow | DeliveryState, at: datetime, now: datetime,
            wamid: str | None, code: int | None, detail: str | None, max_attempts: int) -> Settled:
    if row.status in ("delivered", "read", "failed", "skipped"):
        return Settled(row, False, "already final")
    text = f"{code if code is not None else '?'}: {detail or 'failed'}"
    row.last_error, row.updated_at = text, now
    action = action_for(code)
    replan_at: datetime | None = None
    if action is Action.TEMPLATE and not row.force_template:
        row.force_template, replan_at = True, now
    elif action is Action.WAIT_DAY:
        replan_at = now + DAY
    elif action is Action.WAIT_RECIPIENT and row.attempts < max_attempts:
        replan_at = now + timedelta(seconds=6 * max(1, row.attempts))
    elif action is Action.RETRY and row.attempts < max_attempts:
        replan_at = now + backoff(row.attempts)
    if replan_at is not None:
        row.superseded_wamid = wamid or row.wamid
        row.wamid, row.status, row.next_try_at = None, "planned", replan_at
        row.claimed_at = row.claimed_by = None
        return Settled(row, True, f"will be sent again ({text})")
    row.status, row.failed_at, row.error_code, row.error_detail = "failed", at, code, detail
    row.next_try_at = None
    if action is Action.MARKETING_STOPPED:
        subscriber = session.get(SubscriberRow, row.subscriber_id)
        if subscriber is not None:
            subscriber.marketing_stopped = True
    return Settled(row, True)
