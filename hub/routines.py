"""Routines: "every 2 days at 09:30 Madrid, a digest of up to 3 stories", kept on schedule.

The ``schedule`` library does the ticking (:func:`attach`); the store does the remembering
(``routine_state``, ``routine_runs``): each run is written in the same transaction as its
outbox rows and its next slot, so a restart neither repeats a run nor skips one. A slot missed
while the daemon was down runs on start if it is no older than the routine's ``grace``;
otherwise it is recorded as missed and logged.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import schedule
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from hub.audience.texts import Texts
from hub.cloudapi.templates import uses_from_config
from hub.config import HubConfig, RoutineConfig
from hub.contracts import Sink
from hub.delivery import brake, reach, template_status
from hub.delivery.caps import WINDOW, Caps
from hub.delivery.held_back import HeldBack, any_held
from hub.delivery.plan import PlanStats, RunPlan, active_subscribers, plan_run, preview_run, rank
from hub.errors import HubError
from hub.matching import fold_tags
from hub.pricing.budget import Budget
from hub.pricing.estimate import Estimate, estimate_people, people_counts
from hub.pricing.money import show
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, ItemRow, RoutineRunRow, RoutineStateRow
from hub.storage.typed import stored_id
from hub.timekeeping.clock import Clock, SystemClock
from hub.timekeeping.durations import parse_interval
from hub.timekeeping.when import Cadence

log = logging.getLogger("hub.routines")
MAX_MISSED = 10_000  # slots recorded one by one after a long downtime, at most


@dataclass
class RunReport:
    """What one tick did for one routine: a run (done or manual) or a missed slot."""

    routine: str
    status: str
    scheduled_for: datetime
    run_id: int | None = None
    item_ids: list[int] = field(default_factory=list)
    stats: PlanStats | None = None
    note: str | None = None
    candidates: int = 0  # items that matched the routine, whether or not anyone gets them


@dataclass
class RoutineStatus:
    """A routine as ``hub routines`` lists it."""

    config: RoutineConfig
    next_run_at: datetime | None
    last_run_at: datetime | None
    runs: int
    paused_reason: str | None = None
    monthly: str | None = None  # expected monthly cost, when asked for (`hub routines`)


@dataclass
class Preview:
    """What the next run would send, computed without writing anything."""

    routine: RoutineConfig
    at: datetime
    items: list[ItemRow]
    passed_over: list[ItemRow]
    stats: PlanStats
    ceiling_used: int | None = None
    ceiling_wait: int = 0
    cost: Estimate | None = None
    budget_left: Decimal | None = None


class Routines:
    """Runs the configured routines against one store, with an injectable clock."""

    def __init__(self, config: HubConfig, store: Store, clock: Clock | None = None,
                 sink: Sink | None = None) -> None:
        self.config, self.store = config, store
        self.clock = clock or SystemClock()
        self.sink = sink  # asked whether a run can reach anyone (Sink.reach_problem)
        self.caps = Caps.from_config(config)
        self._judged: dict[str, int] = {}  # routine → latest run the brake judged after its window
        self.tz = config.tz
        self.templates = uses_from_config(config)
        self.card = config.rate_card()
        budget = config.monthly_budget
        self.budget = Budget(budget, self.tz) if budget is not None else None

    # -- the schedule ------------------------------------------------------------------------

    def tick(self) -> list[RunReport]:
        """Run every routine whose time has come; record the slots missed beyond grace.

        Routines due together run priority-only ones first, then in the order listed.
        """
        reports: list[RunReport] = []
        now = self.clock.now()
        with self.store.read() as session:  # most ticks find nothing due: no write lock for them
            states = {s.name: s for s in session.exec(select(RoutineStateRow))}
        # Breaking-news routines first: a story due in two routines at once goes out as news.
        for routine in sorted(self.config.enabled_routines(), key=lambda r: not r.priority_only):
            state = states.get(routine.name)
            if (state is not None and state.next_run_at is not None and state.next_run_at > now
                    and state.signature == routine.cadence().signature):
                continue
            reports.extend(self._tick_one(routine))
        self._judge_closed_runs(now)
        return reports

    def _judge_closed_runs(self, now: datetime) -> None:
        """Judge each routine's latest run once its reaction window has closed (the brake), so a
        routine every 3 days or weekly is paused before its next slot, not only at it."""
        with self.store.read() as session:
            closed = brake.runs_to_judge(session, now)
        fresh = {name: run_id for name, run_id in closed.items() if self._judged.get(name) != run_id}
        if not fresh:
            return
        with self.store.write() as session:
            for name in fresh:
                brake.check(session, name, now)
        self._judged.update(fresh)

    def _tick_one(self, routine: RoutineConfig) -> list[RunReport]:
        now = self.clock.now()
        cadence = routine.cadence()
        reports: list[RunReport] = []
        with self.store.write() as session:
            state = self._state(session, routine, cadence, now)
            brake.check(session, routine.name, now)
            due: list[datetime] = []
            while state.next_run_at is not None and state.next_run_at <= now:
                due.append(state.next_run_at)
                state.next_run_at = cadence.next_after(state.next_run_at, self.tz, _anchor(state))
                if len(due) > MAX_MISSED:
                    due = due[-1:]
            if not due:
                return []
            if state.paused_at is not None:  # the brake: record the slots, send nothing
                for slot in due:
                    reports.append(self._missed(session, routine, slot, now,
                                                f"paused by the brake: {state.paused_reason}"))
                return reports
            held = template_status.hold_reason(session, routine.name, self.templates)
            if held is not None:  # a paused or disabled template: Meta would refuse every message
                for slot in due:
                    reports.append(self._missed(session, routine, slot, now, held))
                return reports
            grace = parse_interval(routine.grace)
            *older, latest = due
            for slot in older:
                reports.append(self._missed(session, routine, slot, now, "a later slot was due too",
                                            quiet=True))
            if older:
                log.warning("routine %s: %d run(s) from %s to %s skipped: the hub was not running",
                            routine.name, len(older), self._show(older[0]), self._show(older[-1]))
            if now - latest <= grace:
                reports.append(self._run(session, routine, state, latest, now, "done"))
            else:
                reports.append(self._missed(session, routine, latest, now,
                                            f"the hub was not running; more than {routine.grace} late"))
        return reports

    def _state(self, session: Session, routine: RoutineConfig, cadence: Cadence,
               now: datetime) -> RoutineStateRow:
        # FOR UPDATE: on PostgreSQL a second scheduler waits here, then sees the slot taken.
        state = session.get(RoutineStateRow, routine.name, with_for_update=True)
        if state is None:  # a first run looks one interval back, as if it had run before
            state = RoutineStateRow(name=routine.name, created_at=now, window_end=now - cadence.every)
            session.add(state)
        if state.signature != cadence.signature or state.next_run_at is None:
            if state.signature:
                log.info("routine %s: schedule changed, next run computed from now", routine.name)
            state.signature = cadence.signature
            state.anchor_date = None
            state.next_run_at = cadence.next_after(now, self.tz)
            if cadence.every.days >= 1:
                state.anchor_date = state.next_run_at.astimezone(self.tz).date().isoformat()
        return state

    def _missed(self, session: Session, routine: RoutineConfig, slot: datetime, now: datetime,
                why: str, quiet: bool = False) -> RunReport:
        note = f"missed: {why}"
        session.add(RoutineRunRow(routine=routine.name, status="missed", scheduled_for=slot,
                                  started_at=now, note=note))
        if not quiet:
            log.warning("routine %s: run of %s skipped (%s)", routine.name, self._show(slot), why)
        return RunReport(routine.name, "missed", slot, note=note)

    def _show(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M %Z")

    # -- a run --------------------------------------------------------------------------------

    def run_now(self, name: str) -> RunReport:
        """Run ``name`` now, as if its time had come; its regular schedule is unchanged."""
        routine = self._routine(name)
        now = self.clock.now()
        with self.store.write() as session:
            state = self._state(session, routine, routine.cadence(), now)
            return self._run(session, routine, state, now, now, "manual")

    def estimate(self, session: Session, stats: PlanStats, now: datetime) -> Estimate:
        """What the messages counted in ``stats.people`` are expected to cost (the rate card's)."""
        default = self.config.pricing.default_category if self.config.pricing else "marketing"
        category = template_status.category_of(session, self.templates, default)
        return estimate_people(people_counts(session, stats.people or Counter()), self.card, category, now)

    def _over_budget(self, session: Session, routine: RoutineConfig, candidates: list[ItemRow],
                     now: datetime) -> str | None:
        """Why this run may not start (its expected charge exceeds what is left), or None."""
        if self.budget is None or not candidates:
            return None
        expected = self.estimate(session, preview_run(session, self._plan(routine, None, candidates, now)),
                                 now)
        left = self.budget.left(session, now)
        if expected.charge <= left:
            return None
        note = (f"over budget: this run would cost ≈ {show(expected.charge, self.card.currency)} "
                f"({expected.paid} paid templates), {show(left, self.card.currency)} left of "
                f"{self.budget.limit} this month")
        self.budget.alert(session, now, f"monthly budget: routine {routine.name} not run, {note}")
        return note

    def _run(self, session: Session, routine: RoutineConfig, state: RoutineStateRow,
             slot: datetime, now: datetime, status: str) -> RunReport:
        candidates = self._candidates(session, routine, state.window_end or state.created_at)
        blocked = self._over_budget(session, routine, candidates, now)
        if blocked is not None:  # its stories stay for the next run (window_end is not moved)
            log.warning("routine %s: run not started: %s", routine.name, blocked)
            return self._missed(session, routine, slot, now, blocked)
        run = RoutineRunRow(routine=routine.name, status=status, scheduled_for=slot, started_at=now)
        session.add(run)
        session.flush()
        stats = PlanStats()
        if candidates or any_held(session, now, held_back_by(routine)):
            stats = plan_run(session, self._plan(routine, run.id, candidates, now))
            if stats.planned and self.sink is not None:
                unreachable = reach.skip_unreachable(session, self.sink, run.id, now)
                if unreachable.nobody:
                    return self._unreachable(session, routine, run, slot, unreachable, candidates)
                stats.planned -= unreachable.count
                stats.skipped += unreachable.count
        chosen, passed_over = _split(candidates, stats)
        if chosen:
            session.execute(
                update(ItemRow).where(col(ItemRow.id).in_([i.id for i in chosen]))
                .values(planned_at=now, planned_run_id=run.id)
            )
        run.item_ids, run.passed_over = [stored_id(i) for i in chosen], [stored_id(i) for i in passed_over]
        run.planned, run.skipped = stats.planned, stats.skipped
        state.window_end, state.last_run_at, state.last_scheduled_for = now, now, slot
        state.runs += 1
        log.info("routine %s: run #%s chose %d item(s), planned %d, skipped %d (caps)",
                 routine.name, run.id, len(chosen), stats.planned, stats.skipped)
        return RunReport(routine.name, status, slot, run.id, [stored_id(i) for i in chosen], stats,
                         candidates=len(candidates))

    def _unreachable(self, session: Session, routine: RoutineConfig, run: RoutineRunRow,
                     slot: datetime, unreachable: reach.Unreachable,
                     candidates: list[ItemRow]) -> RunReport:
        """A run that could reach nobody: its rows undone, its stories kept for the next run."""
        note = f"reached nobody: {unreachable.describe()}"
        run.status, run.note, run.planned, run.skipped = "unreachable", note, 0, 0
        reach.alert(session, routine.name, note, self.clock.now())
        log.error("routine %s: run #%s %s; its %d story(ies) wait for the next run",
                  routine.name, run.id, note, len(candidates))
        return RunReport(routine.name, "unreachable", slot, run.id, [], PlanStats(), note=note,
                         candidates=len(candidates))

    def _candidates(self, session: Session, routine: RoutineConfig,
                    since: datetime | None) -> list[ItemRow]:
        """Items ready since the last run, not sent by any run yet, matching the routine, ranked.

        Each person then gets the first ``max_items`` of these that match their topics."""
        query = select(ItemRow).where(ItemRow.status == "ready",
                                      col(ItemRow.planned_at).is_(None))
        if since is not None:
            query = query.where(func.coalesce(ItemRow.ready_at, ItemRow.fetched_at) >= since)
        wanted = fold_tags(routine.tags)
        candidates = [
            item for item in session.exec(query)
            if (not wanted or wanted & fold_tags(item.tags or []))
            and (item.priority or not routine.priority_only)
        ]
        return rank(candidates)

    def _plan(self, routine: RoutineConfig, run_id: int | None, items: list[ItemRow],
              now: datetime) -> RunPlan:
        texts = Texts(self.config.audience.language, self.config.audience.all_texts())
        return RunPlan(routine=routine.name, run_id=run_id, mode=routine.mode, items=items,
                       now=now, caps=self.caps, heading=routine.heading or texts("digest_heading"),
                       max_items=routine.max_items, footer=texts("footer"),
                       utm_source=self.config.hub.utm_source if self.config.hub.utm else None,
                       held_back=held_back_by(routine))

    def _routine(self, name: str) -> RoutineConfig:
        routine = self.config.routine(name)
        if routine is None:
            known = ", ".join(r.name for r in self.config.routines) or "none configured"
            raise HubError(f"no routine named {name!r}", hint=f"expected one of: {known}")
        return routine

    # -- looking without touching -------------------------------------------------------------

    def status(self) -> list[RoutineStatus]:
        """Every routine with its next and last run (the next one computed if never stored)."""
        now = self.clock.now()
        with self.store.read() as session:
            states = {s.name: s for s in session.exec(select(RoutineStateRow))}
        out = []
        for routine in self.config.routines:
            state = states.get(routine.name)
            cadence = routine.cadence()
            next_at = state.next_run_at if state and state.signature == cadence.signature else None
            if next_at is None and routine.enabled:
                next_at = cadence.next_after(now, self.tz)
            out.append(RoutineStatus(routine, next_at if routine.enabled else None,
                                     state.last_run_at if state else None, state.runs if state else 0,
                                     state.paused_reason if state else None))
        return out

    def monthly_cost(self, routine: RoutineConfig) -> str:
        """The expected charge of a month of this routine at today's audience, all as templates.

        An upper bound by design: each run sends up to ``max_items`` stories (1 for a digest) to
        every active subscriber whose topics match, and a run's messages usually fall outside
        the person's 24-hour window.
        """
        every = routine.cadence().every
        runs = Decimal(30 * 86400) / Decimal(max(every.total_seconds(), 60))
        if routine.weekdays and every.days <= 1:
            runs = runs * len(routine.weekdays) / 7
        per_run = 1 if routine.mode == "digest" else routine.max_items
        wanted = fold_tags(routine.tags)
        now = self.clock.now()
        with self.store.read() as session:
            people = [(s.phone, None, per_run) for s in active_subscribers(session)
                      if not wanted or not s.topics or wanted & fold_tags(s.topics)]
            default = self.config.pricing.default_category if self.config.pricing else "marketing"
            category = template_status.category_of(session, self.templates, default)
        one_run = estimate_people(people, self.card, category, now)
        month = one_run.charge * runs
        unlisted = f"; {', '.join(sorted(one_run.unlisted))} not on the card" if one_run.unlisted else ""
        return (f"≈ {show(month, self.card.currency)} ({len(people)} subscriber(s) × {runs:.1f} runs × "
                f"up to {per_run} {category} template(s){unlisted})")

    def preview(self, name: str | None = None, *, only: int | None = None,
                prior: dict[int, list[datetime]] | None = None) -> Preview:
        """What the next run of ``name`` (default: the next routine due) would send.

        ``only``: for that one subscriber, every row listed (``stats.rows_seen``); ``prior``:
        messages to people that earlier forecast runs would send, counted by the caps."""
        statuses = [s for s in self.status() if s.config.enabled]
        if name is not None:
            self._routine(name)
            statuses = [s for s in statuses if s.config.name == name]
            if not statuses:
                raise HubError(f"routine {name!r} is disabled", hint="set enabled = true to preview it")
        if not statuses:
            raise HubError("no enabled routine to preview", hint="add a [[routines]] table to hub.toml")
        status = min(statuses, key=lambda s: s.next_run_at or self.clock.now())
        routine = status.config
        at = max(status.next_run_at or self.clock.now(), self.clock.now())
        with self.store.read() as session:
            state = session.get(RoutineStateRow, routine.name)
            since = ((state.window_end or state.created_at) if state
                     else self.clock.now() - routine.cadence().every)
            candidates = self._candidates(session, routine, since)
            # Those reached in the last 24 h: at most about the ceiling, so a set stays small.
            reached: set[int] = set() if self.caps.ceiling is None else set(session.exec(
                select(DeliveryRow.subscriber_id).where(
                    col(DeliveryRow.claimed_at) > at - WINDOW, DeliveryRow.status != "planned"
                ).distinct()))
            plan = self._plan(routine, None, candidates, at)
            plan.only, plan.prior = only, dict(prior or {})
            stats = preview_run(session, plan, reached, rows=only is not None)
            chosen, passed_over = _split(candidates, stats)
            preview = Preview(routine, at, chosen, passed_over, stats, cost=self.estimate(session, stats, at))
            if self.budget is not None:
                preview.budget_left = self.budget.left(session, at)
            if self.caps.ceiling is not None:
                preview.ceiling_used = len(reached)
                new = stats.recipients - stats.reached_again
                preview.ceiling_wait = max(0, new - max(0, self.caps.ceiling - len(reached)))
        return preview


def forecast(routines: Routines, subscriber_id: int) -> list[Preview]:
    """One person's next runs, soonest first: each enabled routine's next run as planning would
    make it for them, the caps counting what the runs before it would send them."""
    due = sorted((s for s in routines.status() if s.config.enabled and s.next_run_at is not None),
                 key=lambda s: s.next_run_at or routines.clock.now())
    prior: dict[int, list[datetime]] = {subscriber_id: []}
    shown = []
    for status in due:
        preview = routines.preview(status.config.name, only=subscriber_id, prior=prior)
        prior[subscriber_id].extend(row.due for row in preview.stats.rows_seen or ()
                                    if row.status == "planned")
        shown.append(preview)
    return shown


def held_back_by(routine: RoutineConfig) -> HeldBack:
    """Which stories held back by the cap ``routine`` offers again (its ``max_age``, its kind)."""
    return HeldBack(parse_interval(routine.max_age), frozenset(fold_tags(routine.tags)),
                    routine.priority_only)


def _split(candidates: list[ItemRow], stats: PlanStats) -> tuple[list[ItemRow], list[ItemRow]]:
    """The items that reach someone, and those no one gets (beyond everyone's max_items)."""
    return ([i for i in candidates if i.id in stats.used],
            [i for i in candidates if i.id not in stats.used])


def _anchor(state: RoutineStateRow) -> date | None:
    return date.fromisoformat(state.anchor_date) if state.anchor_date else None


def attach(scheduler: schedule.Scheduler, routines: Routines, seconds: int = 30) -> schedule.Job:
    """Tick ``routines`` from a ``schedule`` scheduler every ``seconds`` (the daemon's loop).

    The slots themselves come from the store, not from ``schedule``'s own clock, so a tick that
    comes late, or after a restart, still runs each slot exactly once.
    """
    job: schedule.Job = scheduler.every(seconds).seconds.do(routines.tick)
    return job
