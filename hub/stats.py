"""Is this channel helping or annoying people? Figures read from the outbox and consent rows.

A delivery that reached ``read`` was also sent and delivered, so counts are cumulative:
``sent`` counts every delivery that reached at least ``sent``, ``delivered`` at least
``delivered``. Rates are over sent deliveries.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from hub.delivery.failure_names import failure_name
from hub.storage.medians import Group, Medians
from hub.storage.paging import pages
from hub.storage.tables import ConsentEventRow, DeliveryRow, SubscriberRow
from hub.storage.typed import select_columns

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
    # Times to read: a list, or a group of a report's :class:`hub.storage.medians.Medians` (bounded memory).
    read_seconds: list[float] | Group = field(default_factory=list, repr=False)

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
            code = str(row.error_code) if row.error_code is not None else failure_name(None, row.error_detail)
            self.failed_by_code[code] = self.failed_by_code.get(code, 0) + 1
        if row.status == "skipped":
            self.skipped += 1
            reason = row.reason or "no reason recorded"
            self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + 1

    @property
    def delivery_rate(self) -> float | None:
        return self.delivered / self.sent if self.sent else None

    @property
    def read_rate(self) -> float | None:
        return self.read / self.sent if self.sent else None

    @property
    def median_time_to_read(self) -> float | None:
        if isinstance(self.read_seconds, Group):
            return self.read_seconds.median()
        return statistics.median(self.read_seconds) if self.read_seconds else None

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "read_seconds"}
        data.update(failed_by_code=dict(self.failed_by_code), skipped_by_reason=dict(self.skipped_by_reason),
                    delivery_rate=self.delivery_rate, read_rate=self.read_rate,
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
    error_detail: str | None
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
    """Compute every table of ``hub stats`` from the store, in the hub's time zone.

    Deliveries and consent events are streamed a page at a time and folded into the tables as
    they come, so memory does not grow with the number of subscribers or deliveries.
    """
    medians = Medians()

    def counts() -> Counts:
        return Counts(read_seconds=medians.group())

    by_run: dict[str, Counts] = defaultdict(counts)
    by_item: dict[str, Counts] = defaultdict(counts)
    by_day: dict[str, Counts] = defaultdict(counts)
    by_hour: dict[int, Counts] = defaultdict(counts)
    by_weekday: dict[str, Counts] = defaultdict(counts)
    opens: Counter[int] = Counter()
    for row in _deliveries(session, since, routine):
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
    medians.close()
    growth_by_day, growth_by_topic = _growth(session, since, tz)
    return Report(
        by_run=dict(by_run), by_item=dict(by_item), by_day=dict(sorted(by_day.items())),
        annoyance=_annoyance(session, since, routine),
        by_hour=dict(sorted(by_hour.items())),
        by_weekday={d: by_weekday[d] for d in WEEKDAYS if d in by_weekday},
        opens_by_hour=dict(sorted(opens.items())),
        growth_by_day=growth_by_day,
        growth_by_topic=growth_by_topic,
        suggestion=best_hours_suggestion(opens),
    )


def _delivery_filter(query: Any, since: datetime | None, routine: str | None) -> Any:
    if since is not None:
        query = query.where(col(DeliveryRow.created_at) >= since)
    if routine is not None:
        query = query.where(DeliveryRow.routine == routine)
    return query


def _deliveries(session: Session, since: datetime | None, routine: str | None) -> Iterator[_DeliveryFacts]:
    """Every delivery's facts, read a page at a time (flat memory on any database)."""
    d = DeliveryRow
    query = select_columns(d.id, d.subscriber_id, d.item_id, d.routine, d.run_id, d.status, d.reason,
                           d.error_code, d.error_detail, d.created_at, d.sent_at, d.read_at)
    for page in pages(session, _delivery_filter(query, since, routine), d.id):
        for row in page:
            yield _DeliveryFacts(*row)


def _consent_pages(session: Session, since: datetime | None, kinds: tuple[str, ...],
                   size: int | None = None) -> Iterator[list[Any]]:
    """Consent events of ``kinds`` as (id, kind, at, subscriber_id, topics), a page at a time."""
    e = ConsentEventRow
    query = (select_columns(e.id, e.kind, e.at, e.subscriber_id, SubscriberRow.topics)
             .outerjoin(SubscriberRow, col(SubscriberRow.id) == e.subscriber_id)
             .where(col(e.kind).in_(kinds)))
    if since is not None:
        query = query.where(col(e.at) >= since)
    return pages(session, query, e.id, size)


def _annoyance(session: Session, since: datetime | None, routine: str | None) -> list[RunAnnoyance]:
    """Attribute each unsubscribe to the latest run that reached that person in the 24 h before.

    Only routine runs count: replies (the welcome, the BAJA's own confirmation sent at the same
    moment) are answers to the person, not what annoyed them. People reached are counted by the
    database; each page of unsubscribes then reads only its own people's sends.
    """
    d = DeliveryRow
    reached_sent = (col(d.status).in_(REACHED_SENT), col(d.sent_at).is_not(None), col(d.routine).is_not(None))
    reached = session.exec(_delivery_filter(
        select(d.routine, d.run_id, func.count(func.distinct(d.subscriber_id))).where(*reached_sent)
        .group_by(d.routine, col(d.run_id)).order_by(func.min(d.id)), since, routine)).all()
    left: Counter[str] = Counter()
    for page in _consent_pages(session, since, ("opt_out",), size=500):  # 500 ids in one IN (…)
        events = [(sid, at) for _, _, at, sid, _ in page if sid is not None and at is not None]
        if not events:
            continue
        sends: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
        for sid, sent_at, routine_name, run_id in session.exec(_delivery_filter(
                select(d.subscriber_id, d.sent_at, d.routine, d.run_id).where(
                    *reached_sent, col(d.subscriber_id).in_({sid for sid, _ in events}),
                    col(d.sent_at) >= min(at for _, at in events) - ANNOYANCE_WINDOW,
                    col(d.sent_at) < max(at for _, at in events)), since, routine)):
            sends[sid].append((sent_at, run_label(routine_name, run_id)))
        for sid, at in events:
            before = [(t, label) for t, label in sends.get(sid, []) if at - ANNOYANCE_WINDOW <= t < at]
            if before:
                left[max(before)[1]] += 1
    return [RunAnnoyance(label, people, left[label])
            for label, people in ((run_label(r, i), n) for r, i, n in reached)]


def _growth(session: Session, since: datetime | None,
            tz: ZoneInfo) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Joins and leaves per local day and per topic (the person's topics now), streamed."""
    days: dict[str, dict[str, int]] = defaultdict(lambda: {"new": 0, "left": 0, "net": 0})
    topics: dict[str, dict[str, int]] = defaultdict(lambda: {"new": 0, "left": 0, "net": 0})
    for page in _consent_pages(session, since, ("opt_in", "opt_out")):
        for _, kind, at, _, subscriber_topics in page:
            key, step = ("new", 1) if kind == "opt_in" else ("left", -1)
            if at is not None:
                day = days[at.astimezone(tz).date().isoformat()]
                day[key] += 1
                day["net"] += step
            for name in list(subscriber_topics or []) or ["(all topics)"]:
                entry = topics[name]
                entry[key] += 1
                entry["net"] += step
    return dict(sorted(days.items())), dict(sorted(topics.items()))


def best_hours(opens_by_hour: Counter[int] | dict[int, int], min_reads: int = 10) -> tuple[int, float] | None:
    """The first hour of the two-hour slot in which most messages are opened, and its share."""
    total = sum(opens_by_hour.values())
    if total < min_reads:
        return None

    def slot(hour: int) -> int:
        return opens_by_hour.get(hour, 0) + opens_by_hour.get((hour + 1) % 24, 0)

    best_hour = max(range(24), key=lambda h: (slot(h), -h))
    return best_hour, slot(best_hour) / total


def best_hours_suggestion(opens_by_hour: Counter[int] | dict[int, int], min_reads: int = 10) -> str | None:
    """A plain sentence naming the two-hour slot in which most messages are opened."""
    best = best_hours(opens_by_hour, min_reads)
    if best is None:
        return None
    hour, share = best
    return (f"your readers open most between {hour:02d}:00 and {(hour + 2) % 24:02d}:00 "
            f"({share:.0%} of all reads)")
