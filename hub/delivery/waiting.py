"""Why nothing was sent: what holds each group of waiting deliveries, and until when.

"4 waiting" leaves an admin guessing; this module reads the outbox and says, per group, what
the dispatcher would do with it now: quiet hours until 08:00, the daily cap until tomorrow, the
gap since the last message, the pair rate, a retry at 10:42, a send awaiting its status, or
sending paused. It only reads, and applies the same rules the claim applies
(:class:`hub.delivery.caps.ClaimGuard`, :func:`hub.delivery.account.gate`), so what it says is
what will happen. Used by ``hub send``, ``hub status`` and ``hub preview``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from hub.delivery import account
from hub.delivery.caps import Caps, ClaimGuard
from hub.storage.tables import DeliveryRow, SubscriberRow
from hub.timekeeping.shown import shown
from hub.timekeeping.when import day_bounds

LOOK_AT = 5_000  # due rows judged one by one; a bigger backlog is judged by its first ones


@dataclass(frozen=True)
class Waiting:
    """``count`` deliveries held for one reason; ``text`` reads with ``{n}`` and ``{until}`` filled."""

    kind: str  # quiet_hours, daily_cap, min_gap, pair_rate, retry, awaiting_status, sending, paused,
    #            messaging_limit, planned_later, due_now (for scripts: hub status --json)
    text: str
    count: int
    until: datetime | None = None

    def line(self, tz: ZoneInfo, now: datetime) -> str:
        until = shown(self.until, tz, now) if self.until else "a time not known yet"
        return self.text.format(n=self.count, until=until)

    def as_dict(self, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "text": self.line(tz, now),
                "until": self.until.isoformat() if self.until else None}


def why_waiting(session: Session, now: datetime, caps: Caps | None,
                recipient_gap: timedelta = timedelta(0)) -> list[Waiting]:
    """Every delivery still to go, grouped by what holds it, with the soonest time it may go."""
    groups: dict[tuple[str, str], list[Any]] = {}

    def add(kind: str, text: str, until: datetime | None, count: int = 1) -> None:
        entry = groups.setdefault((kind, text), [0, None])
        entry[0] += count
        if until is not None and (entry[1] is None or until < entry[1]):
            entry[1] = until

    d = DeliveryRow
    for requested, count in session.exec(
            select(col(d.requested_at).is_not(None), func.count())
            .where(d.status == "sending").group_by(col(d.requested_at).is_not(None))).all():
        if requested:
            add("awaiting_status", "{n} sent and awaiting a status from the API", None, count)
        else:
            add("sending", "{n} being sent right now", None, count)
    for count, first in session.exec(
            select(func.count(), func.min(d.next_try_at)).where(
                d.status == "planned", col(d.next_try_at) > now)).all():
        if count:
            add("retry", "{n} waiting for a retry after an error, the next at {until}", first, count)
    later = session.exec(
        select(d.reason, func.count(), func.min(d.due_at)).where(
            d.status == "planned", col(d.due_at) > now,
            (col(d.next_try_at).is_(None)) | (col(d.next_try_at) <= now))
        .group_by(col(d.reason))).all()
    for reason, count, first in later:
        add(*_held_for(reason), first, count)
    _judge_due(session, now, caps, recipient_gap, add)
    return [Waiting(kind, text, entry[0], entry[1]) for (kind, text), entry in groups.items()]


def _held_for(reason: str | None) -> tuple[str, str]:
    """A later ``due_at``: the hold a claim wrote, or the routine's own time when none."""
    if reason is None:
        return "planned_later", "{n} planned for later (a routine's slot, out of quiet hours), from {until}"
    return _hold_text(reason)


def _hold_text(reason: str) -> tuple[str, str]:
    if reason.startswith("quiet hours"):
        return "quiet_hours", "{n} held by " + reason + " until {until}"
    if reason.startswith("minimum gap"):
        return "min_gap", "{n} held by the minimum gap since each person's last message, until {until}"
    if reason.startswith("messaging limit"):
        return "messaging_limit", "{n} held by the " + reason + ", until {until}"
    return "held", "{n} held (" + reason.replace("{", "(").replace("}", ")") + ") until {until}"


def _judge_due(session: Session, now: datetime, caps: Caps | None, recipient_gap: timedelta,
               add: Any) -> None:
    """Rows due now: the account gate, then the caps and pair rate, as a claim would see them."""
    d, s = DeliveryRow, SubscriberRow
    rows = session.exec(
        select(d.subscriber_id, d.body, s.last_sent_at).join(s, col(s.id) == d.subscriber_id)
        .where(d.status == "planned", col(d.due_at) <= now,
               (col(d.next_try_at).is_(None)) | (col(d.next_try_at) <= now))
        .order_by(col(d.due_at), col(d.id)).limit(LOOK_AT)).all()
    if not rows:
        return
    gate = account.gate(session, now)
    if not gate.may_send:
        reason = (gate.reason or "sending is paused").replace("{", "(").replace("}", ")")
        add("paused", "{n} held because " + reason, None, len(rows))
        return
    guard = (ClaimGuard(caps, session, now, {row[0] for row in rows})
             if caps is not None and caps.active else None)
    for subscriber_id, body, last_sent in rows:
        if guard is not None and (body or {}).get("kind") != "reply":
            hold = guard.decide(subscriber_id)
            if hold is not None and hold.until is None:  # over the daily cap: the claim skips it
                assert caps is not None
                add("daily_cap", f"{{n}} over the daily cap ({caps.per_day} a day per person) until "
                    "{until}: the next claim skips them", day_bounds(now, caps.tz)[1])
                continue
            if hold is not None:
                add(*_hold_text(hold.reason), hold.until)
                continue
        if recipient_gap > timedelta(0) and last_sent is not None and last_sent > now - recipient_gap:
            add("pair_rate", "{n} held by the pair rate (one message per person every "
                f"{recipient_gap.total_seconds():g} s) until {{until}}", last_sent + recipient_gap)
            continue
        add("due_now", "{n} due now: the next `hub send` (or the daemon) sends them", None)


def lines(groups: list[Waiting], tz: ZoneInfo, now: datetime) -> list[str]:
    """One line a group, then the zone the times are in."""
    out = [group.line(tz, now) for group in groups]
    if any(group.until for group in groups):
        out.append(f"(times in {tz.key})")
    return out
