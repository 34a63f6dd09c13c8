"""Stories the daily cap held back for a person, offered again in that person's next run.

Why: on a busy day the cap skips the third story for someone; without this, that story was used
up (the run had taken it) and never reached them. Now a routine's run gives each person their
held stories back as candidates beside the new ones, ranked together (priority, then freshest
first, :func:`hub.delivery.plan.rank`), so a busy day delays news instead of losing it.

What stays true: a story is offered again only while it is younger than the routine's
``max_age``, still ``ready``, matching the routine and the person's topics, and never if the
person already has it in any other delivery (sent, planned, failed — anything but skipped), so
nobody gets the same story twice. Offered again, it goes through the caps like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from hub.matching import fold_tags
from hub.storage.tables import DeliveryRow, ItemRow

CAP_REASON = "cap:"  # how a row skipped by the daily cap (at planning or at the claim) is marked


@dataclass(frozen=True)
class HeldBack:
    """Which held stories a routine may offer again: fresh enough, and of the routine's kind."""

    max_age: timedelta
    tags: frozenset[str] = frozenset()  # the routine's tags (empty: every story)
    priority_only: bool = False

    def takes(self, item: ItemRow, now: datetime) -> bool:
        """Whether the routine may offer ``item`` again at ``now``."""
        born = item.published_at or item.fetched_at
        if item.status != "ready" or born is None or now - born > self.max_age:
            return False
        if self.priority_only and not item.priority:
            return False
        return not self.tags or bool(self.tags & fold_tags(item.tags or []))


def any_held(session: Session, now: datetime, rule: HeldBack) -> bool:
    """Whether any story was held back by the cap within ``rule.max_age`` (a run with no new
    stories still plans, for those)."""
    d = DeliveryRow
    return session.exec(select(d.id).where(
        d.status == "skipped", col(d.reason).startswith(CAP_REASON), col(d.created_at) >= now - rule.max_age,
    ).limit(1)).first() is not None


def held_for(session: Session, first: int, last: int, now: datetime,
             rule: HeldBack) -> dict[int, list[ItemRow]]:
    """Subscribers ``first..last`` with stories held back by the cap that ``rule`` lets compete
    again, each with those stories (none the person already has)."""
    d = DeliveryRow
    rows = session.exec(select(d.subscriber_id, d.item_id, d.body).where(
        d.subscriber_id >= first, d.subscriber_id <= last, d.status == "skipped",
        col(d.reason).startswith(CAP_REASON), col(d.created_at) >= now - rule.max_age,
    )).all()
    wanted: dict[int, set[int]] = {}
    for subscriber_id, item_id, body in rows:
        wanted.setdefault(subscriber_id, set()).update(story_ids(item_id, body))
    if not wanted:
        return {}
    ids = set().union(*wanted.values())
    items = {item.id: item for item in session.exec(select(ItemRow).where(col(ItemRow.id).in_(ids)))
             if rule.takes(item, now)}
    if not items:
        return {}
    since = min(item.fetched_at or now for item in items.values())
    had = _already_theirs(session, first, last, since, set(wanted))
    held: dict[int, list[ItemRow]] = {}
    for subscriber_id, stories in wanted.items():
        mine = [items[i] for i in sorted(stories - had.get(subscriber_id, set())) if i in items]
        if mine:
            held[subscriber_id] = mine
    return held


def _already_theirs(session: Session, first: int, last: int, since: datetime,
                    people: set[int]) -> dict[int, set[int]]:
    """The stories each of ``people`` has in a delivery that was not skipped, since ``since``
    (a story's deliveries are all written after it was fetched)."""
    d = DeliveryRow
    rows = session.exec(select(d.subscriber_id, d.item_id, d.body).where(
        d.subscriber_id >= first, d.subscriber_id <= last, d.status != "skipped",
        func.coalesce(d.created_at, since) >= since,
        or_(col(d.item_id).is_not(None), col(d.run_id).is_not(None)),
    )).all()
    had: dict[int, set[int]] = {}
    for subscriber_id, item_id, body in rows:
        if subscriber_id in people:
            had.setdefault(subscriber_id, set()).update(story_ids(item_id, body))
    return had


def story_ids(item_id: int | None, body: Mapping[str, Any] | None) -> Iterable[int]:
    """The stories a delivery carries: its item, or every story of its digest."""
    if item_id is not None:
        return (item_id,)
    return (int(p["id"]) for p in (body or {}).get("items", []) if isinstance(p, dict) and p.get("id"))
