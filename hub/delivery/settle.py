"""The rules that move one delivery on a status: ``sent`` → ``delivered`` → ``read``, or ``failed``.

:class:`hub.delivery.statuses.StatusBatch` finds the delivery a status names (by ``wamid``, or by
the delivery id echoed in the callback data when the send's answer was lost) and applies it here.
States only move forward along :data:`RANK`, so repeated or out-of-order statuses are harmless; a
``failed`` status is acted on by the :class:`~hub.contracts.Action` the webhook read from it, as a
failed send is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from hub.contracts import Action
from hub.delivery.pacing import backoff
from hub.storage.tables import DeliveryRow, SubscriberRow

# The one order of delivery states: a state never moves down it. ``failed`` ranks below
# ``delivered``: a message delivered or read has not failed, whatever arrives later.
RANK = {"planned": 0, "sending": 1, "sent": 2, "failed": 3, "delivered": 4, "read": 5}
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


def settle_from_status(session: Session, row: DeliveryRow | DeliveryState, *, status: str, at: datetime,
                       wamid: str | None = None, action: Action | None = None,
                       error_code: int | None = None, error_detail: str | None = None,
                       now: datetime | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Settled:
    """Apply one status to its delivery ``row``, inside the caller's transaction.

    :param status: ``sent``, ``delivered``, ``read`` or ``failed`` (others are ignored).
    :param at: the status's own time (``timestamp``), as an aware datetime.
    :param wamid: ``statuses[].id``; recorded on an in-doubt claim that lacked it.
    :param action: for ``failed``, what to do (set by the webhook from the error code); None retries.
    :param error_code: for ``failed``, the API's code, stored with the delivery.
    """
    now = now or at
    if status == "failed":
        return _failed(session, row, at, now, wamid, action, error_code, error_detail, max_attempts)
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
            wamid: str | None, action: Action | None, code: int | None, detail: str | None,
            max_attempts: int) -> Settled:
    if row.status in ("delivered", "read", "failed", "skipped"):
        return Settled(row, False, "already final")
    text = f"{code if code is not None else '?'}: {detail or 'failed'}"
    row.last_error, row.updated_at = text, now
    replan_at: datetime | None = None
    if action is Action.TEMPLATE and not row.force_template:
        row.force_template, replan_at = True, now
    elif action is Action.WAIT_DAY:
        replan_at = now + DAY
    elif action is Action.WAIT_PERSON and row.attempts < max_attempts:
        replan_at = now + timedelta(seconds=6 * max(1, row.attempts))
    elif action in (None, Action.RETRY, Action.SLOW_DOWN) and row.attempts < max_attempts:
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
