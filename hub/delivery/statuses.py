"""Statuses stored and applied to deliveries in batches, out of order but never backwards.

Meta sends ``sent``, ``delivered``, ``read`` (or ``failed``) for each message, repeats them for
days and may send them in any order, or skip ``delivered`` when a message is read at once. A
delivery only ever moves up :data:`hub.delivery.settle.RANK`; a status for a wamid we do not know
yet is matched through the echoed callback data (:func:`hub.contracts.delivery_id_from_callback`)
or kept until the dispatcher records the wamid (:func:`apply_waiting`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ARRAY, any_, bindparam, insert, or_, update
from sqlmodel import Session, select

from hub.contracts import Action, delivery_id_from_callback
from hub.delivery.settle import RANK, SETTLED_COLUMNS, STATE_COLUMNS, DeliveryState, settle_from_status
from hub.storage.tables import DeliveryRow, StatusEventRow
from hub.storage.typed import table_of

T = TypeVar("T")
_EVENTS = table_of(StatusEventRow)
_DELIVERIES = table_of(DeliveryRow)
_STATE_COLUMNS = [_DELIVERIES.c[name] for name in STATE_COLUMNS]
_PENDING_COLUMNS = [_EVENTS.c[name] for name in ("id", "wamid", "status", "at", "action", "error_code",
                                                   "error_detail", "delivery_id")]
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
    """A status as parsed from the webhook; ``at`` is Meta's timestamp, and a ``failed`` one
    carries the :class:`~hub.contracts.Action` the webhook read from its error code."""

    wamid: str
    status: str
    at: datetime
    biz_opaque: str | None = None
    error_code: int | None = None
    error_detail: str | None = None
    category: str | None = None
    billable: bool | None = None  # the ``pricing`` object: what Meta says it charges
    pricing_type: str | None = None
    pricing_model: str | None = None
    action: Action | None = None


def status_key(update: StatusUpdate) -> str:
    """What makes a status unique: Meta repeats the same (wamid, status) for days."""
    return digest(f"status:{update.wamid}:{update.status}")


class StatusBatch:
    """Statuses stored and applied together: a handful of queries for the whole batch.

    Why: a 1,000 msg/s broadcast brings back ~3,000 statuses a second, and the ORM's queries and
    objects per status were what bounded the webhook. Deliveries are read as plain
    :class:`DeliveryState` records and settled by the very rules the dispatcher uses
    (:mod:`hub.delivery.settle`); :meth:`record` applies one status at a time, in order, so a batch ends
    where the same statuses posted one by one would. :meth:`flush` writes it all in a few
    statements; call it before anything else in the transaction reads these tables.
    """

    def __init__(self, session: Session, updates: list[StatusUpdate], wamids: Iterable[str] = ()) -> None:
        """Look up what ``updates`` (and the deliveries recorded with ``wamids``) need."""
        self.session = session
        self.connection = session.connection()
        self.seen: set[str] = set()
        for chunk in _chunks([status_key(u) for u in updates]):
            self.seen.update(self.connection.execute(
                select(_EVENTS.c.key).where(self._among(_EVENTS.c.key, chunk))).scalars())
        wamids = sorted({u.wamid for u in updates} | set(wamids))
        self.by_wamid: dict[str, DeliveryState] = {}
        self.by_id: dict[int, DeliveryState] = {}
        names = wamids + [forgotten_wamid(w) for w in wamids]
        wanted = sorted({i for u in updates if (i := delivery_id_from_callback(u.biz_opaque)) is not None})
        if self.connection.dialect.name == "postgresql":
            # One statement, rows locked in id order: locking by wamid and then by id in two
            # statements took the same rows in two orders, and a concurrent batch (or the
            # dispatcher, which also writes in id order) then deadlocked with this one.
            self._load(or_(self._among(_DELIVERIES.c.wamid, names), self._among(_DELIVERIES.c.id, wanted)))
        else:  # SQLite: no row locks (the write transaction holds the file); IN lists are capped
            for chunk in _chunks(names):
                self._load(self._among(_DELIVERIES.c.wamid, chunk))
            for ids in _chunks(sorted(set(wanted) - set(self.by_id))):
                self._load(self._among(_DELIVERIES.c.id, ids))
        self.pending: dict[str, list[dict[str, Any]]] = {}  # events waiting for their wamid
        self._loaded_events: list[dict[str, Any]] = []
        for chunk in _chunks(wamids):
            for row in self.connection.execute(select(*_PENDING_COLUMNS).where(
                    self._among(_EVENTS.c.wamid, chunk), _EVENTS.c.delivery_id.is_(None))).mappings():
                event = dict(row)
                self._loaded_events.append(event)
                self.pending.setdefault(event["wamid"], []).append(event)
        self.new_events: list[dict[str, Any]] = []

    def _among(self, column: Any, values: list[Any]) -> Any:
        """``column IN values``; on PostgreSQL ``= ANY(array)``, one statement text whatever the
        count, so the server prepares it once instead of parsing a new IN list per batch."""
        if self.connection.dialect.name != "postgresql":
            return column.in_(values)
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))

    def _load(self, condition: Any) -> None:
        # Locked (FOR UPDATE; SQLite's write transaction already is), so two processes settling
        # statuses of one message on PostgreSQL apply them one after the other, not over each other.
        query = select(*_STATE_COLUMNS).where(condition).order_by(_DELIVERIES.c.id).with_for_update()
        for row in self.connection.execute(query).mappings():
            state = DeliveryState(row)
            self.by_id[state.id] = state
            if state.wamid:
                self.by_wamid[state.wamid] = state

    def find(self, wamid: str, biz_opaque: str | None) -> DeliveryState | None:
        """The delivery a status is about: by wamid (also once forgotten), else by the echoed id.

        A status about an earlier send that a retry replaced (``superseded_wamid``) matches nothing.
        """
        for name in (wamid, forgotten_wamid(wamid)):
            row = self.by_wamid.get(name)
            if row is not None and row.wamid == name:
                return row
        delivery_id = delivery_id_from_callback(biz_opaque)
        row = self.by_id.get(delivery_id) if delivery_id is not None else None
        if row is None or row.superseded_wamid == wamid or row.wamid not in (None, wamid):
            return None
        return row

    def record(self, update: StatusUpdate, now: datetime) -> tuple[bool, DeliveryState | None]:
        """Store one status (once) and apply it; returns (new event?, delivery that changed or None)."""
        key = status_key(update)
        if key in self.seen:
            return False, None
        self.seen.add(key)
        delivery = self.find(update.wamid, update.biz_opaque)
        forgotten = bool(delivery and (delivery.wamid or "").startswith(FORGOTTEN_PREFIX))
        event = {
            "key": key, "wamid": None if forgotten else update.wamid, "status": update.status,
            "delivery_id": delivery.id if delivery else None, "biz_opaque": update.biz_opaque,
            "error_code": update.error_code, "category": update.category, "at": update.at,
            "billable": update.billable, "pricing_type": update.pricing_type,
            "pricing_model": update.pricing_model,
            "action": update.action.value if update.action is not None else None,
            "error_detail": None if forgotten else update.error_detail, "received_at": now,
        }
        self.new_events.append(event)
        if delivery is None:
            self.pending.setdefault(update.wamid, []).append(event)
            return True, None
        changed = settle(self.session, delivery, update.status, update.at, now, update.action,
                         update.error_code, None if forgotten else update.error_detail,
                         wamid=None if forgotten else update.wamid)
        if delivery.wamid and not forgotten:
            changed |= self._apply_waiting(delivery, now)
        if delivery.wamid:
            self.by_wamid[delivery.wamid] = delivery
        return True, delivery if changed else None

    def _apply_waiting(self, delivery: DeliveryState, now: datetime) -> bool:
        """Apply the statuses that came before ``delivery.wamid`` was known; True if any changed it."""
        waiting = [e for e in self.pending.pop(delivery.wamid or "", []) if e["delivery_id"] is None]
        changed = False
        for event in sorted(waiting, key=lambda e: RANK.get(e["status"], 0)):
            event["delivery_id"] = delivery.id
            action = _action(event["action"])
            changed |= settle(self.session, delivery, event["status"], event["at"] or now, now, action,
                              event["error_code"], event["error_detail"], wamid=delivery.wamid)
        return changed

    def flush(self) -> None:
        """Write the new events, the events now matched, and the deliveries that changed."""
        if self.new_events:
            self.connection.execute(insert(_EVENTS), self.new_events)
        matched = [{"b_id": e["id"], "b_delivery": e["delivery_id"]} for e in self._loaded_events
                   if e["delivery_id"] is not None]
        if matched:
            self.connection.execute(update(_EVENTS).where(_EVENTS.c.id == bindparam("b_id"))
                                    .values(delivery_id=bindparam("b_delivery")), matched)
        changes = [c for state in self.by_id.values() if (c := state.changes()) is not None]
        if changes:
            self.connection.execute(update(_DELIVERIES).where(_DELIVERIES.c.id == bindparam("b_id"))
                                    .values({c: bindparam(f"v_{c}") for c in SETTLED_COLUMNS}), changes)
        self.new_events = []


def apply_waiting(session: Session, wamids: list[str], now: datetime) -> None:
    """Statuses that reached the webhook before these sends' wamids were recorded: apply them now.

    The same batch, rules and writes as the webhook's, for the dispatcher once it records wamids.
    """
    batch = StatusBatch(session, [], wamids)
    for wamid in wamids:
        delivery = batch.by_wamid.get(wamid)
        if delivery is not None and wamid in batch.pending:
            batch._apply_waiting(delivery, now)
    batch.flush()


def _action(stored: str | None) -> Action | None:
    """A stored action back as an :class:`Action`; an unknown one (a newer hub wrote it) retries."""
    try:
        return Action(stored) if stored else None
    except ValueError:
        return None


def _chunks(values: list[T], size: int = 500) -> Iterator[list[T]]:
    """IN lists of bounded length (SQLite and PostgreSQL cap the bound parameters per query)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def settle(session: Session, delivery: DeliveryRow | DeliveryState, status: str, at: datetime, now: datetime,
           action: Action | None = None, error_code: int | None = None, error_detail: str | None = None, *,
           wamid: str | None = None) -> bool:
    """Apply one status to a found delivery with the dispatcher's own rules (:mod:`hub.delivery.settle`):
    forward only, and a ``failed`` acted on by its action (the template, a retry, a failure…)."""
    if delivery.status == "skipped":
        return False
    return settle_from_status(
        session, delivery, status="read" if status == "played" else status, at=at, wamid=wamid,
        action=action, error_code=error_code, error_detail=error_detail, now=now,
    ).changed

