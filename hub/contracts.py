"""What a source, a filter and a sink type must provide.

Each type carries an ``Options`` pydantic model that validates its table in ``hub.toml``
(``extra="forbid"``, so a misspelt option is an error naming its key path).
"""

from __future__ import annotations

import asyncio
import pickle
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.news import NewsItem
from hub.timekeeping.durations import parse_interval

if TYPE_CHECKING:
    import httpx
    from sqlmodel import Session

    from hub.intake.fetch import Fetched, Fetcher
    from hub.timekeeping.clock import Clock


class Options(BaseModel):
    """Base of every plugin options model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class SourceOptions(Options):
    """Keys every ``[[sources]]`` table accepts, whatever its type."""

    name: str = Field(min_length=1, description="unique name of this source")
    enabled: bool = True
    every: str = Field("10 minutes", description='poll interval, e.g. "10 minutes"')
    tags: list[str] = Field(default_factory=list, description="tags added to every item")

    @field_validator("every")
    @classmethod
    def _interval(cls, value: str) -> str:
        parse_interval(value)
        return value


class FilterOptions(Options):
    """Keys every ``[[filters]]`` table accepts."""

    enabled: bool = True


class SinkOptions(Options):
    """Keys every ``[sinks.NAME]`` table accepts."""

    enabled: bool = True


@dataclass
class SourceState:
    """What a source remembers between polls (validators, current URL, cursors)."""

    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    cursor: dict[str, Any] = field(default_factory=dict)


_T = TypeVar("_T")


@dataclass
class FetchContext:
    """Handed to ``Source.fetch``: the shared HTTP client, the source's memory, the clock.

    Sources fetch through :meth:`get` (conditional, bounded, polite; see :mod:`hub.intake.fetch`) and
    hand CPU-heavy parsing to :meth:`offload`, which runs it in the poll's process pool when
    there is one, so parsing many feeds uses every core.
    """

    client: httpx.AsyncClient
    state: SourceState
    clock: Clock
    base_dir: Path
    warnings: list[str] = field(default_factory=list)
    fetcher: Fetcher | None = None
    pool: Executor | None = None

    async def get(self, url: str, *, conditional: bool = True, **kwargs: Any) -> Fetched:
        """GET ``url`` through the poll's fetcher.

        ``conditional`` marks the source's own document: its validators are sent and kept, and a
        permanent redirect moves ``state.url``. Use ``conditional=False`` for side requests.
        """
        if self.fetcher is None:
            from hub.intake.fetch import Fetcher  # here: reading hub.toml needs no HTTP client

            self.fetcher = Fetcher(self.client)
        fetched = await self.fetcher.get(url, state=self.state if conditional else None, **kwargs)
        if conditional and fetched.moved_to:
            self.state.url = fetched.moved_to  # a 301/308: the source lives there now
        return fetched

    async def offload(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` (a picklable, module-level function) off the event loop if possible."""
        if self.pool is None:
            return fn(*args)
        packed = await asyncio.get_running_loop().run_in_executor(self.pool, _run_packed, fn, *args)
        return cast(_T, _unpack(packed))


_PIECE = 256  # list entries per pickled piece: each unpickles in a few ms


@dataclass(frozen=True)
class _Pieces:
    """A long list pickled in pieces, so that loading it never holds the GIL for long."""

    pickled: tuple[bytes, ...]


def _run_packed(fn: Callable[..., Any], *args: Any) -> Any:
    """In the pool's process: ``fn(*args)`` with its long lists (top level, or in a top-level
    tuple) pickled in pieces. Unpickled whole, 13,000 parsed items held the interpreter of the
    process answering the webhook for a third of a second."""
    return _pack(fn(*args), nested=True)


def _pack(value: Any, *, nested: bool = False) -> Any:
    if isinstance(value, list) and len(value) > _PIECE:
        return _Pieces(tuple(pickle.dumps(value[i:i + _PIECE], protocol=pickle.HIGHEST_PROTOCOL)
                             for i in range(0, len(value), _PIECE)))
    if nested and type(value) is tuple:
        return tuple(_pack(v) for v in value)
    return value


def _unpack(value: Any) -> Any:
    """The value :func:`_run_packed` packed, loaded piece by piece (other threads run between)."""
    if isinstance(value, _Pieces):
        return [entry for piece in value.pickled for entry in pickle.loads(piece)]
    if type(value) is tuple:
        return tuple(_unpack(v) for v in value)
    return value


@dataclass
class FetchResult:
    """A source's answer: its items, or ``not_modified`` when the server said 304."""

    items: list[NewsItem]
    not_modified: bool = False


class Source(ABC):
    """Produces news items from one place an editor publishes."""

    Options: ClassVar[type[SourceOptions]] = SourceOptions

    def __init__(self, options: SourceOptions) -> None:
        self.options = options

    @property
    def name(self) -> str:
        return self.options.name

    @abstractmethod
    async def fetch(self, ctx: FetchContext) -> FetchResult:
        """Fetch and normalise what the source holds now; raise ``SourceError`` on failure."""


@dataclass(frozen=True)
class Keep:
    """A filter's verdict: the item goes on (possibly changed)."""

    item: NewsItem
    note: str | None = None  # why it passed, kept with the item (e.g. "matched 'cultura'")


@dataclass(frozen=True)
class Drop:
    """A filter's verdict: the item stops here, for ``reason`` (shown to admins)."""

    reason: str
    store: bool = True  # False for exact repeats, which need no second row
    status: str = "dropped"  # or "seen": known, deliberately never sent (a new source's backlog)


Verdict = Keep | Drop


@dataclass
class FilterContext:
    """Handed to ``Filter.check``: a read session on the store and the clock."""

    session: Session
    clock: Clock
    first_poll: bool = False
    batch: list[NewsItem] = field(default_factory=list)  # everything this poll of the source brought
    source_usual_new: float = 0.0  # the source's usual number of new items per poll


class Filter(ABC):
    """Returns the item (possibly changed) or a drop with a reason."""

    Options: ClassVar[type[FilterOptions]] = FilterOptions

    def __init__(self, options: FilterOptions) -> None:
        self.options = options

    @abstractmethod
    def check(self, item: NewsItem, ctx: FilterContext) -> Verdict:
        """Decide about one item."""

    def review_poll(self, kept: list[NewsItem], ctx: FilterContext) -> str | None:
        """Look at everything one poll kept; a reason holds all of it for an admin's approval."""
        return None

    def resends_edits(self) -> bool:
        """Whether an edited item (same source and guid, new content) is sent again."""
        return False

    def prepare(self, items: list[NewsItem], ctx: FilterContext) -> None:
        """Called once per poll of a source before ``check``, with the items not stored yet, so
        a filter that reads the store can read it once for the whole batch, not once per item."""
        return None

    def stored(self, item: NewsItem, row_id: Callable[[], int], ctx: FilterContext) -> None:
        """An item of this batch was stored (kept, or dropped with ``store``): later items of the
        same batch may be compared with it. ``row_id()`` gives its id (writing it first)."""
        return None


@dataclass(frozen=True)
class OutgoingMessage:
    """One planned delivery, ready for a sink: who, what, and the delivery id to echo back.

    ``phone`` is empty when Meta never shared the person's number: ``user_id`` (their
    business-scoped user id) is then the only way to reach them.
    """

    delivery_id: int
    phone: str
    text: str
    items: list[dict[str, Any]]
    last_inbound_at: datetime | None = None
    now: datetime | None = None  # the dispatcher's clock, for the 24-hour window
    body: dict[str, Any] = field(default_factory=dict)  # the whole planned body (kind, buttons…)
    force_template: bool = False  # set after a 131047: the window is closed whatever we believe
    marketing_stopped: bool = False  # the person stopped marketing messages (131050)
    user_id: str | None = None  # business-scoped user id (BSUID), for a person without a number
    # Call synchronously right before the request's last bytes are handed to the operating system
    # (see Sink.marks_departure); the dispatcher's departure journal, so a crash strands nothing.
    departing: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @property
    def address(self) -> str:
        """Whom to send to: the number when known (Meta's advice), else the BSUID."""
        return self.phone or self.user_id or ""


class Action(Enum):
    """What the dispatcher does about a failed send; the sink decides, knowing its API.

    A sink maps its API's answers to these (the WhatsApp sink reads Cloud API codes through
    :mod:`hub.cloudapi.codes`); the delivery engine acts on the action alone, so a third-party
    sink has every power a built-in one has. Also what a failed status settles to.
    """

    RETRY = "retry"                      # transient: again later, after back-off (and ``retry_after``)
    SLOW_DOWN = "slow_down"              # the API's throughput limit: every send waits ``retry_after``
                                         # (1 s if unset), and this one is retried like RETRY
    WAIT_PERSON = "wait_person"          # only this person waits: again after the per-person gap
    WAIT_DAY = "wait_day"                # only this person waits, for 24 hours
    TEMPLATE = "template"                # resend at once as the approved template (once)
    MARKETING_STOPPED = "marketing_stopped"  # fail, and mark the person: no more templated news
    FAIL = "fail"                        # this delivery cannot succeed as it is
    PAUSE = "pause"                      # hold all sending; one message probes until it works
    STOP = "stop"                        # stop all sending until an admin resumes it


@dataclass(frozen=True)
class SendResult:
    """A sink's answer for one message: sent (with its id), in doubt, or failed with an action.

    A failure without an ``action`` is retried with back-off when the API was called, and fails
    the delivery when it was not (``called=False``: the sink refused it itself).
    """

    ok: bool
    message_id: str | None = None
    error_code: int | None = None  # the API's own code, stored and counted, never acted on
    error_detail: str | None = None
    retry_after: float | None = None
    in_doubt: bool = False  # the request may have reached the API: never resend blindly
    sent_as: str | None = None  # the shape sent: text, image, template, interactive
    called: bool = True  # False when the sink answered without calling the API
    action: Action | None = None  # what the dispatcher does about a failure (see Action)


CALLBACK_PREFIX = "hub:delivery:"


def callback_for(delivery_id: int) -> str:
    """What a sink sends along and its API echoes in statuses, so a status names its delivery
    even when the send's answer was lost (the Cloud API's ``biz_opaque_callback_data``)."""
    return f"{CALLBACK_PREFIX}{delivery_id}"


def delivery_id_from_callback(data: str | None) -> int | None:
    """The delivery id in echoed callback data (``hub:delivery:42``, or a bare ``42``), else None."""
    text = (data or "").strip()
    if text.startswith(CALLBACK_PREFIX):
        text = text[len(CALLBACK_PREFIX):]
    fits = text.isascii() and text.isdigit() and len(text) <= 10  # a row id: PostgreSQL's are 32 bits
    return int(text) if fits and int(text) < 2**31 else None


@dataclass(frozen=True)
class Pacing:
    """How a sink wants to be driven: messages per second, requests in flight, retry policy."""

    rate: float | None = None  # messages per second; None means as fast as the sink answers
    concurrency: int = 1
    recipient_gap: timedelta = timedelta(0)  # at least this long between two sends to one person
    in_doubt_after: timedelta = timedelta(hours=1)  # a claim with no status after this is resent
    max_attempts: int = 5
    # The sender whose rate this is (a phone number id): every process sending for the same
    # number shares one budget through the store (hub.delivery.shared_rate).
    number: str | None = None


class Sink(ABC):
    """Delivers planned messages to subscribers."""

    Options: ClassVar[type[SinkOptions]] = SinkOptions

    def __init__(self, options: SinkOptions) -> None:
        self.options = options

    async def open(self) -> None:  # noqa: B027 - optional lifecycle hook
        """Acquire connections before a batch of sends."""

    async def close(self) -> None:  # noqa: B027 - optional lifecycle hook
        """Release what ``open`` acquired."""

    @abstractmethod
    async def send(self, message: OutgoingMessage) -> SendResult:
        """Deliver one message; never raise for an answer the API gave, return it."""

    def marks_departure(self) -> bool:
        """True if ``send`` calls ``message.departing()`` itself, right before the request's
        last bytes leave (with no ``await`` between), and never after they may have.

        Then a crash between the dispatcher's record and the request strands nothing: a claim
        never noted as departing returns to the outbox at once (:mod:`hub.delivery.departures`).
        Otherwise the dispatcher notes it just before calling ``send``, which is safe but leaves
        the sink's own work before the write (connecting, building) inside the window.
        """
        return False

    def pacing(self) -> Pacing:
        """How fast and how many at once the dispatcher may call ``send``."""
        return Pacing()

    def preview(self, message: OutgoingMessage) -> str:
        """What ``send`` would deliver, for ``hub send --dry-run``; nothing is sent."""
        return message.text

    def reach_problem(self, last_inbound_at: datetime | None, now: datetime) -> str | None:
        """Why news cannot reach a person who last wrote at ``last_inbound_at`` (``None``: never
        or long ago), or ``None`` if it can. Asked before a routine run is planned, by ``hub
        check`` and ``hub preview``: a run that can reach nobody keeps its stories for later."""
        return None
