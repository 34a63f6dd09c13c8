"""The store's tables: sources' memory, items, subscribers, consent, the delivery outbox.

Times are stored as aware UTC datetimes. A ``Delivery`` row is "this subscriber gets this item
(or this digest)" and moves planned → sending → sent → delivered → read, or to failed/skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.storage.typed import table_of


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class SourceRow(SQLModel, table=True):
    """What a source remembers between polls, and how it is doing."""

    __tablename__ = "sources"

    name: str = Field(primary_key=True)
    type: str
    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    cursor: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = "new"  # new | ok | failing
    polls: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_success_at: datetime | None = _when()
    last_polled_at: datetime | None = _when()
    next_poll_at: datetime | None = _when()
    item_count: int = 0
    origin_url: str | None = None  # the hub.toml URL the stored state (url, validators) belongs to
    last_status: int | None = None  # HTTP status of the last answer (304 included)
    last_error_at: datetime | None = _when()
    failing_since: datetime | None = _when()
    usual_new: float = 0.0  # moving average of new items per poll, for the glitch guard


class ItemRow(SQLModel, table=True):
    """A stored news item; ``status`` says whether it may be sent and, if not, why."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("source", "guid", name="uq_items_source_guid"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    guid: str
    url: str = ""
    canonical_url: str = Field(default="", index=True)
    title: str = ""
    summary: str = ""
    text: str = ""
    image_url: str | None = None
    author: str | None = None
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    priority: bool = False
    fingerprint: str = Field(default="", index=True)
    status: str = Field(default="ready", index=True)  # ready | dropped | held | seen
    reason: str | None = None
    published_at: datetime | None = _when()
    fetched_at: datetime | None = _when(nullable=False, index=True)
    ready_at: datetime | None = _when(index=True)  # when it became sendable (stored or approved)
    planned_at: datetime | None = _when()  # when a routine run took it; never taken twice
    planned_run_id: int | None = None
    content_hash: str = ""  # spots an edit of the same guid
    revision: int = 0
    edited_at: datetime | None = _when()
    decisions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class SubscriberRow(SQLModel, table=True):
    """A person who asked for the news (or wrote to us).

    ``phone`` is E.164 without the plus sign, or None when Meta never shared the number (a person
    with a WhatsApp username): then ``user_id``, their business-scoped user id, is how they are
    reached. Every identifier Meta ever gave for the person is in ``person_ids``
    (:mod:`hub.audience.identity`); ``username`` is for display only, never an identity.
    """

    __tablename__ = "subscribers"

    id: int | None = Field(default=None, primary_key=True)
    phone: str | None = Field(default=None, unique=True)
    name: str | None = None
    # active | unsubscribed | paused | contact (wrote, never joined) | forgotten (erased)
    status: str = Field(default="active", index=True)
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime | None = _when(nullable=False)
    opted_in_at: datetime | None = _when()
    opted_out_at: datetime | None = _when()
    last_inbound_at: datetime | None = _when()
    marketing_stopped: bool = False
    rhythm: str = "normal"  # normal | weekly (the lighter way back offered after BAJA)
    paused_until: datetime | None = _when()
    last_sent_at: datetime | None = _when()  # claim time of the last send: the 6 s pair rate
    user_id: str | None = None  # the latest business-scoped user id (BSUID): sent to without a number
    username: str | None = None  # "@name" when the person has one: display data only


class ConsentEventRow(SQLModel, table=True):
    """Proof of a consent change: who, when, which words, which message."""

    __tablename__ = "consent_events"

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int | None = Field(default=None, index=True, foreign_key="subscribers.id")
    phone: str | None = Field(default=None, index=True)
    kind: str  # opt_in | opt_out | topics
    channel: str  # whatsapp | cli | import | demo
    words: str | None = None
    message_id: str | None = None
    note: str | None = None
    at: datetime | None = _when(nullable=False)
    user_id: str | None = None  # the business-scoped user id that spoke, when there was one


class DeliveryRow(SQLModel, table=True):
    """The outbox: one row per (item or digest, subscriber), sent at most once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("key", name="uq_deliveries_key"),
        Index("ix_deliveries_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str  # "item:<item_id>:<subscriber_id>" or "run:<run_id>:<subscriber_id>"
    subscriber_id: int = Field(index=True, foreign_key="subscribers.id")
    item_id: int | None = Field(default=None, foreign_key="items.id")
    routine: str | None = None
    run_id: int | None = Field(default=None, index=True)
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = "planned"  # planned | sending | sent | delivered | read | failed | skipped
    reason: str | None = None
    attempts: int = 0
    error_code: int | None = None
    error_detail: str | None = None
    wamid: str | None = Field(default=None, unique=True)
    claimed_by: str | None = None
    created_at: datetime | None = _when(nullable=False)
    due_at: datetime | None = _when(nullable=False)
    claimed_at: datetime | None = _when()
    sent_at: datetime | None = _when()
    delivered_at: datetime | None = _when()
    read_at: datetime | None = _when()
    failed_at: datetime | None = _when()
    updated_at: datetime | None = _when()
    next_try_at: datetime | None = _when()  # a retry waits until then (planned), or an in-doubt claim
    last_error: str | None = None  # the latest answer that was not a success, with Meta's details
    force_template: bool = False  # Meta said 131047: the window is closed, send the template
    sent_as: str | None = None  # text | image | template | interactive
    superseded_wamid: str | None = None  # a failed earlier send's wamid; its late statuses are ignored
    # Two-phase claim (hub/delivery/claims.py): set just before the request is handed to the API.
    # A ``sending`` row without it never reached Meta and goes back to the others at once.
    requested_at: datetime | None = _when()
    lease_until: datetime | None = _when()  # an unrequested claim is its worker's until then


class InboundMessageRow(SQLModel, table=True):
    """Something a person sent us (or a webhook change we do not know), stored before the 200.

    ``key`` is a hash of the message id (or of the event), so a repeat is recognised even after
    ``forget`` has erased the id, the number and the words.
    """

    __tablename__ = "inbound_messages"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    message_id: str | None = None
    phone: str | None = Field(default=None, index=True)
    user_id: str | None = None  # business-scoped user id, when Meta sends one
    name: str | None = None
    type: str  # text | interactive | button | reaction | image | … | user_preferences | unknown
    text: str | None = None  # the words or the tapped button/row, as the person saw them
    reply_id: str | None = None  # the id of the tapped button or list row
    context_id: str | None = None  # the wamid of our message this one answers
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    action: str | None = None  # what the hub did: subscribed, unsubscribed, topics, help, ignored…
    sent_at: datetime | None = _when()
    received_at: datetime | None = _when(nullable=False, index=True)


class StatusEventRow(SQLModel, table=True):
    """One status webhook (sent/delivered/read/failed) for one of our messages.

    Unique on ``key`` (a hash of wamid and status): Meta repeats them for days. ``delivery_id``
    stays empty while no delivery is known for the wamid; it is applied when the wamid appears.
    """

    __tablename__ = "status_events"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    wamid: str | None = Field(default=None, index=True)
    status: str
    delivery_id: int | None = Field(default=None, index=True)
    biz_opaque: str | None = None
    error_code: int | None = None
    error_detail: str | None = None
    category: str | None = None
    at: datetime | None = _when()
    received_at: datetime | None = _when(nullable=False)
    billable: bool | None = None  # pricing.billable: Meta charges this message (once delivered)
    pricing_type: str | None = None  # pricing.type: regular | free_customer_service | free_entry_point
    pricing_model: str | None = None  # pricing.pricing_model: PMP (per message) or CBP (before 2025-07)
    action: str | None = None  # for ``failed``: the hub.contracts.Action read from its code


class RoutineStateRow(SQLModel, table=True):
    """A routine's memory: when it runs next and what it last did, so restarts neither repeat
    nor skip a run."""

    __tablename__ = "routine_state"

    name: str = Field(primary_key=True)
    signature: str = ""  # every|at|weekdays; a change reschedules from now
    anchor_date: str | None = None  # local date the "every N days/weeks" count starts from
    next_run_at: datetime | None = _when()
    last_run_at: datetime | None = _when()  # when the last run actually happened
    last_scheduled_for: datetime | None = _when()
    window_end: datetime | None = _when()  # items ready after this belong to the next run
    runs: int = 0
    created_at: datetime | None = _when(nullable=False)
    paused_at: datetime | None = _when()  # the brake stopped it: too many people left after a run
    paused_reason: str | None = None
    paused_run_id: int | None = None


class RoutineRunRow(SQLModel, table=True):
    """One run of a routine, or one missed slot: what it chose and how many rows it wrote."""

    __tablename__ = "routine_runs"

    id: int | None = Field(default=None, primary_key=True)
    routine: str = Field(index=True)
    status: str  # done | manual | missed
    scheduled_for: datetime | None = _when(nullable=False)
    started_at: datetime | None = _when(nullable=False)
    item_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    passed_over: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    planned: int = 0
    skipped: int = 0
    note: str | None = None


class SendStateRow(SQLModel, table=True):
    """Whether the hub may send now: ``running``, ``paused`` (bad token) or ``stopped`` (account blocked)."""

    __tablename__ = "send_state"

    key: str = Field(default="default", primary_key=True)
    state: str = "running"  # running | paused | stopped
    code: int | None = None
    reason: str | None = None
    since: datetime | None = _when()
    next_probe_at: datetime | None = _when()  # paused: when one message tries the token again
    probes: int = 0


class SendRateRow(SQLModel, table=True):
    """One phone number's shared send schedule: the next free slot, on the database's clock.

    Every process sending for the number takes its slots from here (PostgreSQL), so together they
    keep to the number's rate (:mod:`hub.delivery.shared_rate`).
    """

    __tablename__ = "send_rate"

    number: str = Field(primary_key=True)
    next_slot: float = 0.0  # seconds since the epoch, on the database server's clock


class AlertRow(SQLModel, table=True):
    """Something an admin must see (``hub status``) and act on."""

    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _when(nullable=False)
    level: str = "error"  # error | warning
    code: int | None = None
    message: str
    cleared_at: datetime | None = _when()


class PersonIdRow(SQLModel, table=True):
    """One business-scoped user id (or parent id) Meta gave for a subscriber.

    A person may have several over time (a new number brings a new BSUID); each one finds the
    same subscriber. Unique on ``value``: one identifier is never two people.
    """

    __tablename__ = "person_ids"

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(index=True, foreign_key="subscribers.id")
    kind: str  # bsuid | parent_bsuid
    value: str = Field(unique=True)
    seen_at: datetime | None = _when(nullable=False)


# The caps count who was messaged in the last 24 h at every claim: by claim time, not by history.
Index("ix_deliveries_claimed_at", table_of(DeliveryRow).c.claimed_at)
# Opting out skips a person's planned deliveries, and each claim checks that person's recent sends:
# both ask for one subscriber's rows in a few states, not for all of their history.
Index("ix_deliveries_subscriber_status", table_of(DeliveryRow).c.subscriber_id,
      table_of(DeliveryRow).c.status)


class TemplateRow(SQLModel, table=True):
    """A message template as the WhatsApp Business Account last said it is (read or webhook).

    ``hub templates`` reads them from Meta; ``message_template_status_update`` webhooks change
    ``status``. A routine whose template is not APPROVED is held (:mod:`hub.delivery.paid_gate`).
    """

    __tablename__ = "templates"

    name: str = Field(primary_key=True)
    language: str = Field(primary_key=True)
    template_id: str | None = None
    status: str = "APPROVED"  # APPROVED | PAUSED | DISABLED | REJECTED | PENDING | …
    category: str | None = None  # MARKETING | UTILITY | AUTHENTICATION
    quality: str | None = None  # GREEN | YELLOW | RED | UNKNOWN
    reason: str | None = None
    body_params: int = 0
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime | None = _when(nullable=False)


class BudgetMonthRow(SQLModel, table=True):
    """What the claims of one month have committed against ``[hub] monthly_budget``.

    In millionths of the card's currency, raised inside each claim's transaction, so several
    dispatchers share one budget and none crosses it.
    """

    __tablename__ = "budget_months"

    month: str = Field(primary_key=True)  # "2026-11", in the hub's time zone
    currency: str
    committed_micros: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    updated_at: datetime | None = _when()
