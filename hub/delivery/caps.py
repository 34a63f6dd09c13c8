"""The caps as rules about people: per day, minimum gap, quiet hours, the 24 h recipient ceiling.

Where each rule lives, so that none is exceeded whatever the backlog:

- When a routine plans (``hub.delivery.plan``), rows beyond a person's daily cap are written as
  ``skipped`` with the reason, and due times are moved out of quiet hours and past the gap.
  That is what ``hub preview`` shows and what keeps the outbox small.
- When a row is claimed for sending (:class:`ClaimGuard`, called by ``hub.delivery.send``), every
  rule is checked again against what was really claimed, because time has passed since
  planning, several routines share one person's day, and a backlog may have piled up: a row in
  quiet hours, too soon after the last message, or over the recipient ceiling waits (its
  ``due_at`` moves); a row over the daily cap is skipped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.timekeeping.durations import parse_interval
from hub.timekeeping.when import QuietHours, day_bounds

if TYPE_CHECKING:
    from sqlmodel import Session

SENT_STATES = ("sending", "sent", "delivered", "read")
MESSAGING_LIMITS = (250, 1_000, 2_000, 10_000, 100_000)
COUNTED_AT_PLAN = ("planned", *SENT_STATES)
WINDOW = timedelta(hours=24)


NONE = "none"
UNLIMITED = "unlimited"
DEFAULT_PER_DAY = 2
DEFAULT_MIN_GAP = "2 hours"
DEFAULT_QUIET_HOURS = "22:00-08:00"


class CapsSettings(BaseModel):
    """``[caps]`` in hub.toml: how much, how often and when anyone may be sent anything.

    A core setting, not a filter: a cap is about people, not items, and the dispatcher is what
    enforces it, so it cannot be left out of a config by forgetting a plugin. Each rule has a
    calm default that a config gets by saying nothing (2 a day, 2 hours apart, nothing between
    22:00 and 08:00); a rule is loosened only in words: ``per_subscriber_per_day = "unlimited"``,
    ``min_gap = "none"``, ``quiet_hours = "none"``.
    """

    model_config = ConfigDict(extra="forbid")

    per_subscriber_per_day: Annotated[int, Field(ge=1)] | Literal["unlimited"] = Field(
        DEFAULT_PER_DAY, description='news messages per person per calendar day in [hub] '
        'timezone, or "unlimited"')
    min_gap: str = Field(DEFAULT_MIN_GAP, description='least time between two news messages to '
                         'one person, e.g. "2 hours", or "none"')
    quiet_hours: str = Field(DEFAULT_QUIET_HOURS, description='never send news inside, e.g. '
                             '"22:00-08:00", or "none"')
    messaging_limit: int | Literal["unlimited"] = Field(
        "unlimited", description="unique recipients per moving 24 h (your WhatsApp messaging "
        "limit tier: 250, 2000, 10000, 100000 or unlimited)")

    @field_validator("min_gap")
    @classmethod
    def _gap(cls, value: str) -> str:
        if value.strip().lower() != NONE:
            try:
                parse_interval(value)
            except ValueError as exc:
                raise ValueError(f'{exc}, or "none" for no minimum gap') from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        if value.strip().lower() != NONE:
            try:
                QuietHours.parse(value)
            except ValueError as exc:
                raise ValueError(f'{exc}, or "none" for no quiet hours') from None
        return value

    @field_validator("messaging_limit")
    @classmethod
    def _limit(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value not in MESSAGING_LIMITS:
            raise ValueError(f"{value} is not a WhatsApp messaging limit (expected one of "
                             f"{', '.join(str(v) for v in MESSAGING_LIMITS)} or \"unlimited\")")
        return value

    def loosened(self) -> list[str]:
        """The rules this config set away from their calm defaults, for ``hub check``."""
        changed = []
        if self.per_subscriber_per_day != DEFAULT_PER_DAY:
            changed.append("per_subscriber_per_day")
        if self.min_gap != DEFAULT_MIN_GAP:
            changed.append("min_gap")
        if self.quiet_hours != DEFAULT_QUIET_HOURS:
            changed.append("quiet_hours")
        return changed


@dataclass(frozen=True)
class Caps:
    """The caps in force, read from ``[caps]`` in hub.toml."""

    tz: ZoneInfo
    per_day: int | None = None
    min_gap: timedelta | None = None
    quiet: QuietHours | None = None
    ceiling: int | None = None  # unique recipients per moving 24 h

    @classmethod
    def from_config(cls, config: Any) -> Caps:
        """The caps of ``config``: its ``[caps]``, the calm defaults where it says nothing."""
        return cls.from_settings(config.caps or CapsSettings.model_validate({}), config.tz)

    @classmethod
    def from_settings(cls, opts: CapsSettings, tz: ZoneInfo) -> Caps:
        gap, quiet = opts.min_gap.strip().lower(), opts.quiet_hours.strip().lower()
        return cls(
            tz=tz,
            per_day=None if opts.per_subscriber_per_day == UNLIMITED else int(opts.per_subscriber_per_day),
            min_gap=None if gap == NONE else parse_interval(opts.min_gap),
            quiet=None if quiet == NONE else QuietHours.parse(opts.quiet_hours),
            ceiling=None if opts.messaging_limit == UNLIMITED else int(opts.messaging_limit),
        )

    def describe(self) -> str:
        """One line for ``hub check``: every rule in force, and the ones switched off."""
        return ", ".join((
            f"{self.per_day} news message(s) per person a day" if self.per_day else "no daily cap",
            f"at least {_span(self.min_gap)} apart" if self.min_gap else "no minimum gap",
            f"quiet hours {self.quiet}" if self.quiet else "no quiet hours",
            f"{self.ceiling} unique recipients per 24 h" if self.ceiling else "no messaging limit",
        ))

    @property
    def active(self) -> bool:
        """Whether any rule is set (without one, claims need no checking)."""
        return any(rule is not None for rule in (self.per_day, self.min_gap, self.quiet, self.ceiling))

    def out_of_quiet(self, moment: datetime) -> datetime:
        """``moment``, or the end of the quiet hours it falls in."""
        return self.quiet.end_after(moment, self.tz) if self.quiet else moment

    def lookback(self, moment: datetime) -> datetime:
        """How far back a person's history matters for the rules at ``moment``."""
        since = min(day_bounds(moment, self.tz)[0], moment - WINDOW)
        return since - self.min_gap if self.min_gap else since


def news_column() -> Any:
    """Whether a delivery is news (a story or a run's digest) rather than a reply to a person.

    Replies (welcome, TEMAS list, help, ¿POR QUÉ?, goodbye) answer someone who has just written:
    conversation, not broadcast. They never count against the news caps; they have their own
    limit (:mod:`hub.delivery.holds`).
    """
    from sqlalchemy import or_
    from sqlmodel import col

    from hub.storage.tables import DeliveryRow

    return or_(col(DeliveryRow.item_id).is_not(None), col(DeliveryRow.run_id).is_not(None)).label("news")


@dataclass(frozen=True)
class Hold:
    """A claim refused: wait until ``until`` (``None``: skip for good), for ``reason``."""

    reason: str
    until: datetime | None = None


class ClaimGuard:
    """Checks each claim of one batch against what was claimed before, including this batch."""

    def __init__(self, caps: Caps, session: Session, now: datetime, subscriber_ids: set[int]) -> None:
        # The store's modules are imported here, not with the module: reading hub.toml (whose
        # [caps] table is CapsSettings) must not load SQLAlchemy for config-only commands.
        from sqlalchemy import func
        from sqlmodel import col, select

        from hub.storage.tables import DeliveryRow

        self.caps, self.now = caps, now
        self.history: dict[int, list[datetime]] = defaultdict(list)
        if subscriber_ids:
            # The status is checked here, not in SQL: with ``status IN (…)`` SQLite chose the
            # (status, due_at) index and read every message ever sent, for each claim batch
            # (~40 ms a batch after a month of 1,000 people); now it reads these people's rows.
            rows = session.exec(
                select(DeliveryRow.subscriber_id, DeliveryRow.claimed_at, DeliveryRow.status,
                       news_column()).where(
                    col(DeliveryRow.subscriber_id).in_(subscriber_ids),
                    col(DeliveryRow.claimed_at) >= caps.lookback(now),
                )
            ).all()
            for subscriber_id, claimed_at, status, news in rows:
                if status in SENT_STATES and news and claimed_at is not None:  # never None: >= filter
                    self.history[subscriber_id].append(claimed_at)
        self.recipients, self.oldest = 0, None
        if caps.ceiling is not None:
            # Every claim in the window counts, failed ones too (a message Meta accepted may
            # still fail later): erring towards fewer recipients, never more. No status IN here,
            # so the claimed_at index is the one used.
            count, oldest = session.exec(
                select(func.count(func.distinct(DeliveryRow.subscriber_id)),
                       func.min(DeliveryRow.claimed_at)).where(
                    col(DeliveryRow.claimed_at) > now - WINDOW, DeliveryRow.status != "planned",
                )
            ).one()
            self.recipients, self.oldest = count, oldest

    def decide(self, subscriber_id: int) -> Hold | None:
        """``None`` to send now (and count it), or why and until when it must wait."""
        caps, now = self.caps, self.now
        if caps.quiet and caps.quiet.contains(now, caps.tz):
            return Hold(f"quiet hours {caps.quiet}", caps.quiet.end_after(now, caps.tz))
        times = self.history[subscriber_id]
        if caps.per_day is not None:
            start, end = day_bounds(now, caps.tz)
            if sum(1 for t in times if start <= t < end) >= caps.per_day:
                return Hold(f"cap: {caps.per_day} message(s) per day already reached")
        if caps.min_gap and times and now - max(times) < caps.min_gap:
            return Hold("minimum gap since the last message", max(times) + caps.min_gap)
        recent = any(t > now - WINDOW for t in times)
        if caps.ceiling is not None and not recent and self.recipients >= caps.ceiling:
            until = (self.oldest or now) + WINDOW
            return Hold(f"messaging limit: {caps.ceiling} unique recipients per 24 h reached",
                        max(until, now + timedelta(minutes=1)))
        times.append(now)
        if caps.ceiling is not None and not recent:
            self.recipients += 1
            self.oldest = self.oldest or now
        return None


def _span(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60} hour(s)"
    return f"{minutes} minute(s)" if minutes else f"{gap.total_seconds():g} second(s)"
