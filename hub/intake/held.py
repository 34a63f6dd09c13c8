"""Stories the glitch guard held, and an admin's decision on them (``hub items``, the dashboard).

One code path for both: approving makes a story sendable by the next routine run (``ready``,
``ready_at`` now); dropping keeps it stored as ``dropped`` so the feed never brings it back.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session, col, func, select

from hub.storage.store import Store
from hub.storage.tables import ItemRow


def held_items(session: Session, limit: int | None = None) -> list[ItemRow]:
    """Held items, by source then id (the first ``limit`` of them when given)."""
    query = select(ItemRow).where(ItemRow.status == "held").order_by(ItemRow.source, col(ItemRow.id))
    return list(session.exec(query if limit is None else query.limit(limit)))


def held_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(ItemRow).where(ItemRow.status == "held")).one()


def settle(store: Store, ids: Collection[int], source: str | None, now: datetime,
           *, approve: bool) -> int:
    """Approve or drop the held items among ``ids`` (and/or of ``source``); returns how many.

    Items that are no longer held are left alone, so a second click changes nothing.
    """
    if not ids and not source:
        raise ValueError("give item ids or a source")
    with store.write() as session:
        query = select(ItemRow).where(ItemRow.status == "held")
        if ids:
            query = query.where(col(ItemRow.id).in_(ids))
        if source:
            query = query.where(ItemRow.source == source)
        rows = session.exec(query).all()
        for row in rows:
            if approve:
                row.status, row.reason, row.ready_at = "ready", None, now
                row.decisions = [*row.decisions, f"approved by an admin at {now:%Y-%m-%d %H:%M} UTC"]
            else:
                row.status, row.reason = "dropped", "dropped by an admin after the glitch guard held it"
                row.decisions = [*row.decisions, row.reason]
    return len(rows)
