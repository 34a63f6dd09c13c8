"""What the dashboard shows, read from the store in one read transaction.

Separate from the HTML (:mod:`hub.web.dashboard`) so the page can be rendered from plain data and
the reading stays bounded: the latest runs, the first held stories, the paused routines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from hub.cloudapi.templates import TemplateUse
from hub.delivery import account, brake, template_status
from hub.intake.held import held_count, held_items
from hub.pricing.card import RateCard
from hub.pricing.spent import Spent, spent
from hub.stats import Report, build_report
from hub.stats_runs import RunLine, recent_runs
from hub.timekeeping.shown import stamp

HELD_SHOWN = 100
RUNS_SHOWN = 12


@dataclass(frozen=True)
class HeldStory:
    id: int
    source: str
    title: str
    reason: str


@dataclass
class Board:
    """Everything on the page, in the hub's time zone ``tz``."""

    report: Report
    tz: ZoneInfo
    runs: list[RunLine] = field(default_factory=list)
    held: list[HeldStory] = field(default_factory=list)
    held_total: int = 0
    paused: list[tuple[str, str]] = field(default_factory=list)  # routine, why: the brake
    template_held: list[tuple[str, str]] = field(default_factory=list)  # until Meta approves again
    sending: tuple[str, str] | None = None  # state, why: when the hub may not send at all
    alerts: list[str] = field(default_factory=list)
    cost: Spent | None = None


def gather(session: Session, tz: ZoneInfo, card: RateCard | None,
           templates: Sequence[TemplateUse] = ()) -> Board:
    """Read the board: the stats report, the latest runs with their cost, what waits for an admin.

    ``templates`` (the config's) name the routines a paused or disabled template holds."""
    report = build_report(session, tz)
    cost = spent(session, card, tz) if card is not None else None
    state = account.current(session)
    stopped = state.state != "running"
    return Board(
        report=report, tz=tz, cost=cost,
        runs=recent_runs(session, report, cost, RUNS_SHOWN),
        held=[HeldStory(r.id, r.source, r.title, r.reason or "") for r in held_items(session, HELD_SHOWN)
              if r.id is not None],
        held_total=held_count(session),
        paused=[(r.name, r.paused_reason or "") for r in brake.paused(session)],
        template_held=[(name, why) for name in sorted({r for use in templates for r in use.routines})
                       if (why := template_status.hold_reason(session, name, templates)) is not None],
        sending=(state.state, state.reason or "") if stopped else None,
        # The account's own "sending paused/stopped" alert is the sending line, with its button.
        alerts=[a.message for a in account.open_alerts(session)
                if not (stopped and a.message.startswith(("sending paused", "sending stopped")))],
    )


def local(moment: datetime | None, tz: ZoneInfo) -> str:
    """A moment as the page shows it: local date and time with the zone's abbreviation, as the CLI."""
    return "—" if moment is None else stamp(moment, tz)
