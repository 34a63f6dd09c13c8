"""Telling plugins what happened — ``on_subscriber_change``, ``on_delivery_status`` — once committed.

The core notes each change where it happens, inside its write transaction
(:func:`subscriber_changed`, :func:`delivery_changed`), whatever the path: the webhook, the CLI,
an import, the dispatcher. :meth:`hub.storage.store.Store.write` fires the hooks after its commit
and forgets them on a rollback, so a plugin hears only what is stored. When no plugin implements
a hook, nothing is even collected: the hot paths (1,000 sends a second, thousands of statuses)
pay one dictionary lookup per transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from hub.storage.tables import DeliveryRow, SubscriberRow

if TYPE_CHECKING:
    import pluggy

    from hub.storage.store import Store

log = logging.getLogger("hub.events")

_KEY = "hub.events.pending"
_CHUNK = 500  # ids per IN list when loading the deliveries a hook is told about


@dataclass
class Pending:
    """What one write transaction changed, for the hooks some plugin implements."""

    hears_people: bool
    hears_deliveries: bool
    people: list[tuple[SubscriberRow, str]] = field(default_factory=list)
    deliveries: list[tuple[int, str]] = field(default_factory=list)


class Events:
    """The event hooks of one plugin manager, as a store fires them (none: a silent store)."""

    def __init__(self, pm: pluggy.PluginManager | None = None) -> None:
        self.pm = pm

    def begin(self, session: Session) -> Pending | None:
        """Start collecting for ``session``'s transaction, if any plugin listens."""
        if self.pm is None:
            return None
        pending = Pending(hears_people=bool(self.pm.hook.on_subscriber_change.get_hookimpls()),
                          hears_deliveries=bool(self.pm.hook.on_delivery_status.get_hookimpls()))
        if not (pending.hears_people or pending.hears_deliveries):
            return None
        session.info[_KEY] = pending
        return pending

    def fire(self, store: Store, pending: Pending) -> None:
        """Call the hooks for what a committed transaction changed; a plugin's error is logged."""
        if self.pm is None:
            return
        for person, change in pending.people:
            _safely(self.pm.hook.on_subscriber_change, subscriber=person, change=change)
        if pending.deliveries:
            rows = _load(store, [delivery_id for delivery_id, _ in pending.deliveries])
            for delivery_id, status in pending.deliveries:
                if delivery_id in rows:
                    _safely(self.pm.hook.on_delivery_status, delivery=rows[delivery_id], status=status)


def subscriber_changed(session: Session, person: SubscriberRow, change: str) -> None:
    """Note that ``person`` joined, left, changed topics or was forgotten in this transaction.

    :param change: ``subscribed``, ``unsubscribed``, ``topics`` or ``forgotten``.
    """
    pending: Pending | None = session.info.get(_KEY)
    if pending is not None and pending.hears_people:
        pending.people.append((person, change))


def hears_people(session: Session) -> bool:
    """Whether a plugin listens to subscriber changes in this transaction (bulk paths ask first)."""
    pending: Pending | None = session.info.get(_KEY)
    return pending is not None and pending.hears_people


def hears_deliveries(session: Session) -> bool:
    """Whether a plugin listens to delivery statuses in this transaction (bulk paths ask first)."""
    pending: Pending | None = session.info.get(_KEY)
    return pending is not None and pending.hears_deliveries


def delivery_changed(session: Session, delivery_id: int, status: str) -> None:
    """Note a delivery's outcome in this transaction (see ``on_delivery_status`` for the names)."""
    pending: Pending | None = session.info.get(_KEY)
    if pending is not None and pending.hears_deliveries:
        pending.deliveries.append((delivery_id, status))


def _load(store: Store, ids: list[int]) -> dict[int, DeliveryRow]:
    """The deliveries by id, read afresh after the commit, detached from their session."""
    rows: dict[int, DeliveryRow] = {}
    with store.read() as session:
        for chunk in _chunks(sorted(set(ids))):
            for row in session.exec(select(DeliveryRow).where(col(DeliveryRow.id).in_(chunk))):
                rows[row.id or 0] = row
    return rows


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _safely(hook: Any, **kwargs: Any) -> None:
    try:
        hook(**kwargs)
    except Exception:  # a plugin's bug must not undo or retry what the hub has already stored
        log.exception("a plugin failed in %s", getattr(hook, "name", "a hook"))
