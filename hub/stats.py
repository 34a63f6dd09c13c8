"""Is this channel helping or annoying people? Figures read from the outbox and consent rows.

A delivery that reached ``read`` was also sent and delivered, so counts are cumulative:
``sent`` counts every delivery that reached at least ``sent``, ``delivered`` at least
``delivered``. Rates are over sent deliveries.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from hub.tables import ConsentEventRow, DeliveryRow, SubscriberRow

REACHED_SENT = {"sent", "delivered", "read"}
REACHED_DELIVERED = {"delivered", "read"}
ANNOYANCE_WINDOW = timedelta(hours=24)
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@dataclass
class Counts:
    """Deliveries of one group (a run, an item, a day) by outcome."""

    planned: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    skipped: int = 0
    failed_by_code: dict[str, int] = field(default_factory=dict)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    read_seconds: list[float] = field(default_factory=list, repr=False)

    def add(self, row: _DeliveryFacts) -> None:
        self.planned += 1
        if row.status in REACHED_SENT:
            self.sent += 1
        if row.status in REACHED_DELIVERED:
            self.delivered += 1
        if row.status == "read":
            self.read += 1
            if row.sent_at and row.read_at:
                self.read_seconds.append((row.read_at - row.sent_at).total_seconds())
        if row.status == "failed":
            self.failed += 1
            code = str(row.error_code) if row.error_code is not None else "unknown"
            self.failed_by_code[code] = self.failed_by_code.get(code, 0) + 1
        if row.status == "skipped":
            self.skipped += 1
            reason = row.reason or "unknown"
            self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + 1

    @property
    def delivery_rate(self) -> float | None:
        return self.delivered / self.sent if self.sent else None

    @property
    def read_rate(self) -> float | None:
        return self.read / self.sent if self.sent else None

    @property
    def median_time_to_read(self) -> float | None:
        return statistics.median(self.read_seconds) if self.read_seconds else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("read_seconds")
        data.update(delivery_rate=self.delivery_rate, read_rate=self.read_rate,
                    median_seconds_to_read=self.median_time_to_read)
        return data


@dataclass(frozen=True)
class _DeliveryFacts:
    id: int
    subscriber_id: int
    item_id: int | None
    routine: str | None
    run_id: int | None
    status: str
    reason: str | None
    error_code: int | None
    created_at: datetime | None
    sent_at: datetime | None
    read_at: datetime | None


@dataclass
class RunAnnoyance:
    """Unsubscribes within 24 h after a run's messages, over the people it reached."""

    run: str
    reached: int
    unsubscribed: int

    @property
    def rate(self) -> float | None:
        return self.unsubscribed / self.reached if self.reached else None


@dataclass
class Report:
    """Everything ``hub stats`` shows."""

    by_run: dict[str, Counts]
    by_item: dict[str, Counts]
    by_day: dict[str, Counts]
    annoyance: list[RunAnnoyance]
    by_hour: dict[int, Counts]
    by_weekday: dict[str, Counts]
    opens_by_hour: dict[int, int]
    growth_by_day: dict[str, dict[str, int]]
    growth_by_topic: dict[str, dict[str, int]]
    suggestion: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "by_run": {k: v.as_dict() for k, v in self.by_run.items()},
            "by_item": {k: v.as_dict() for k, v in self.by_item.items()},
            "by_day": {k: v.as_dict() for k, v in self.by_day.items()},
            "annoyance": [{"run": a.run, "reached": a.reached, "unsubscribed": a.unsubscribed,
                           "rate": a.rate} for a in self.annoyance],
            "read_by_hour": {str(h): v.as_dict() for h, v in self.by_hour.items()},
            "read_by_weekday": {k: v.as_dict() for k, v in self.by_weekday.items()},
            "opens_by_hour": {str(h): n for h, n in self.opens_by_hour.items()},
            "growth_by_day": self.growth_by_day,
            "growth_by_topic": self.growth_by_topic,
            "suggestion": self.suggestion,
        }


def run_label(routine: str | None, run_id: int | None) -> str:
    if run_id is None:
        return routine or "(no routine)"
    return f"{routine or 'run'}#{run_id}"


def build_report(session: Session, tz: ZoneInfo, *, since: datetime | None = None,
                 routine: str | None = None) -> Report:
    """Compute every table of ``hub stats`` from the store, in the hub's time zone."""
    facts = _deliveries(session, since, routine)
    by_run: dict[str, Counts] = defaultdict(Counts)
    by_item: dict[str, Counts] = defaultdict(Counts)
    by_day: dict[str, Counts] = defaultdict(Counts)
    by_hour: dict[int, Counts] = defaultdict(Counts)
    by_weekday: dict[str, Counts] = defaultdict(Counts)
    opens: Counter[int] = Counter()
    for row in facts:
        by_run[run_label(row.routine, row.run_id)].add(row)
        if row.item_id is not None:
            by_item[str(row.item_id)].add(row)
        moment = row.sent_at or row.created_at
        if moment is not None:
            by_day[moment.astimezone(tz).date().isoformat()].add(row)
        if row.sent_at is not None and row.status in REACHED_SENT:
            local = row.sent_at.astimezone(tz)
            by_hour[local.hour].add(row)
            by_weekday[WEEKDAYS[local.weekday()]].add(row)
        if row.status == "read" and row.read_at is not None:
            opens[row.read_at.astimezone(tz).hour] += 1
    events = _consent_events(session, since)
    return Report(
        by_run=dict(by_run), by_item=dict(by_item), by_day=dict(sorted(by_day.items())),
        annoyance=_annoyance(facts, events),
        by_hour=dict(sorted(by_hour.items())),
        by_weekday={d: by_weekday[d] for d in WEEKDAYS if d in by_weekday},
        opens_by_hour=dict(sorted(opens.items())),
        growth_by_day=_growth_by_day(events, tz),
        growth_by_topic=_growth_by_topic(session, events),
        suggestion=best_hours_suggestion(opens),
    )


def _deliveries(session: Session, since: datetime | None, routine: str | None) -> list[_DeliveryFacts]:
    d = DeliveryRow
    query = select(d.id, d.subscriber_id, d.item_id, d.routine, d.run_id, d.status, d.reason,
                   d.error_code, d.created_at, d.sent_at, d.read_at)
    if since is not None:
        query = query.where(d.created_at >= since)  # type: ignore[operator]
    if routine is not None:
        query = query.where(d.routine == routine)
    return [_DeliveryFacts(*row) for row in session.exec(query)]


def _consent_events(session: Session, since: datetime | None) -> list[ConsentEventRow]:
    query = select(ConsentEventRow).where(
        ConsentEventRow.kind.in_(("opt_in", "opt_out"))  # type: ignore[attr-defined]
    )
    if since is not None:
        query = query.where(ConsentEventRow.at >= since)  # type: ignore[operator]
    return list(session.exec(query.order_by(ConsentEventRow.at)))  # type: ignore[arg-type]


def _annoyance(facts: list[_DeliveryFacts], events: list[ConsentEventRow]) -> list[RunAnnoyance]:
    """Attribute each unsubscribe to the latest run that reached that person in the 24 h before.

    Only routine runs count: replies (the welcome, the BAJA's own confirmation sent at the same
    moment) are answers to the person, not what annoyed them.
    """
    reached: dict[str, set[int]] = defaultdict(set)
    sends_by_person: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for row in facts:
        if row.status in REACHED_SENT and row.sent_at is not None and row.routine is not None:
            label = run_label(row.routine, row.run_id)
            reached[label].add(row.subscriber_id)
            sends_by_person[row.subscriber_id].append((row.sent_at, label))
    left: Counter[str] = Counter()
    for event in events:
        if event.kind != "opt_out" or event.subscriber_id is None or event.at is None:
            continue
        before = [(t, label) for t, label in sends_by_person.get(event.subscriber_id, [])
                  if event.at - ANNOYANCE_WINDOW <= t < event.at]
        if before:
            left[max(before)[1]] += 1
    return [RunAnnoyance(label, len(people), left[label]) for label, people in reached.items()]


def _growth_by_day(events: list[ConsentEventRow], tz: ZoneInfo) -> dict[str, dict[str, int]]:
    days: dict[str, dict[str, int]] = defaultdict(lambda: {"new": 0, "left": 0, "net": 0})
    for event in events:
        if event.at is None:
            continue
        day = days[event.at.astimezone(tz).date().isoformat()]
        key = "new" if event.kind == "opt_in" else "left"
        day[key] += 1
        day["net"] += 1 if event.kind == "opt_in" else -1
    return dict(sorted(days.items()))


def _growth_by_topic(session: Session, events: list[ConsentEventRow]) -> dict[str, dict[str, int]]:
    ids = {e.subscriber_id for e in events if e.subscriber_id is not None}
    topics: dict[int, list[str]] = {}
    if ids:
        for sid, subscriber_topics in session.exec(
            select(SubscriberRow.id, SubscriberRow.topics).where(
                SubscriberRow.id.in_(ids))  # type: ignore[union-attr]
        ):
            topics[sid] = list(subscriber_topics or [])
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"new": 0, "left": 0, "net": 0})
    for event in events:
        names = topics.get(event.subscriber_id or -1) or ["(all topics)"]
        for name in names:
            entry = out[name]
            entry["new" if event.kind == "opt_in" else "left"] += 1
            entry["net"] += 1 if event.kind == "opt_in" else -1
    return dict(sorted(out.items()))


def best_hours_suggestion(opens_by_hour: Counter[int] | dict[int, int], min_reads: int = 10) -> str | None:
    """A plain sentence naming the two-hour slot in which most messages are opened."""
    total = sum(opens_by_hour.values())
    if total < min_reads:
        return None
    def slot(hour: int) -> int:
        return opens_by_hour.get(hour, 0) + opens_by_hour.get((hour + 1) % 24, 0)

    best_hour = max(range(24), key=lambda h: (slot(h), -h))
    share = slot(best_hour) / total
    return (f"your readers open most between {best_hour:02d}:00 and {(best_hour + 2) % 24:02d}:00 "
            f"({share:.0%} of all reads)")
