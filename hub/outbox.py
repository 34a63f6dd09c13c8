"""Writing the outbox: one delivery row per (item or digest, subscriber), in bulk.

Rows carry a unique ``key``; planning the same pair twice inserts nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import insert as generic_insert
from sqlmodel import Session, select

from hub.render import item_payload, render_item
from hub.tables import DeliveryRow, ItemRow, SubscriberRow

CHUNK = 5_000


def active_subscribers(session: Session, tags: Iterable[str] = ()) -> Iterator[SubscriberRow]:
    """Active, opted-in subscribers whose topics match ``tags`` (no topics: everything)."""
    wanted = {t.lower() for t in tags}
    query = select(SubscriberRow).where(
        SubscriberRow.status == "active", SubscriberRow.opted_in_at.is_not(None)  # type: ignore[union-attr]
    )
    for subscriber in session.exec(query):
        topics = {t.lower() for t in subscriber.topics or []}
        if not topics or not wanted or topics & wanted:
            yield subscriber


def insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> int:
    """Bulk-insert delivery rows in chunks; rows whose ``key`` exists are skipped."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:  # pragma: no cover - other databases plan without the conflict clause
        insert = None
    written = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        if insert is None:
            statement = generic_insert(DeliveryRow)
        else:
            statement = insert(DeliveryRow).on_conflict_do_nothing(index_elements=["key"])
        result = session.connection().execute(statement, chunk)
        written += max(result.rowcount or 0, 0)
    return written


def plan_each(session: Session, items: list[ItemRow], now: datetime,
              routine: str | None = None) -> int:
    """Plan one message per (item, matching subscriber), due now; returns rows written."""
    rows: list[dict[str, Any]] = []
    for item in items:
        payload = item_payload(item)
        body = {"kind": "item", "text": render_item(payload), "items": [payload]}
        for subscriber in active_subscribers(session, item.tags):
            rows.append({
                "key": f"item:{item.id}:{subscriber.id}", "subscriber_id": subscriber.id,
                "item_id": item.id, "routine": routine, "body": body, "status": "planned",
                "created_at": now, "due_at": now, "attempts": 0,
            })
    return insert_ignoring_duplicates(session, rows)
