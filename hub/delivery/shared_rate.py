"""One send rate per phone number, shared by every process sending for it, through the store.

Meta's throughput limit belongs to the phone number, not to a process: three ``hub run --role
worker`` each pacing itself at ``rate`` would together send three times that. On PostgreSQL the
processes share one schedule instead, a row per number holding the next free slot on the
database server's clock (so clock skew between machines does not matter). A process reserves a
few consecutive slots in one statement, sends on them, and reserves again; slots are ``(1 +
headroom) / rate`` apart whoever holds them, so all processes together stay at or below ``rate``
in any one-second window. A slot missed by more than ``LATE`` (a stalled process) is given up,
never sent late on top of someone else's.

SQLite is one process by design, so there the per-process :class:`~hub.delivery.pacing.TokenBucket`
is already the number's whole budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import text

from hub.delivery.pacing import LATE, TokenBucket
from hub.storage.store import Store

log = logging.getLogger("hub.delivery.shared_rate")

BLOCK_SECONDS = 0.05  # a reservation covers about this much of the number's time
MAX_BLOCK = 20
# Several processes' requests also meet on the wire, each a little early or late on its slot (a
# busy event loop, a busy machine): 6 % below the rate absorbs 60 ms of that in any second, where
# one process's 3 % (``pacing.HEADROOM``) left throughput-exceeded answers, each halting the number for 1 s.
SHARED_HEADROOM = 0.06
DRIFT = 0.001  # how fast (s/s) a clock offset measured earlier is trusted less than a new one
CALIBRATE = 5  # round trips measured before a process's first reservation

_RESERVE = text("""
    INSERT INTO send_rate (number, next_slot)
    VALUES (:number, EXTRACT(EPOCH FROM clock_timestamp()) + :span)
    ON CONFLICT (number) DO UPDATE
    SET next_slot = GREATEST(send_rate.next_slot, EXTRACT(EPOCH FROM clock_timestamp())) + :span
    RETURNING next_slot, EXTRACT(EPOCH FROM clock_timestamp())
""")
_CLOCK = text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")
_CLOCKS: weakref.WeakKeyDictionary[Store, tuple[float, float, float]] = weakref.WeakKeyDictionary()
_HOLD = text("""
    INSERT INTO send_rate (number, next_slot)
    VALUES (:number, EXTRACT(EPOCH FROM clock_timestamp()) + :seconds)
    ON CONFLICT (number) DO UPDATE
    SET next_slot = GREATEST(send_rate.next_slot, EXTRACT(EPOCH FROM clock_timestamp()) + :seconds)
""")


class Bucket(Protocol):
    """What the dispatcher needs from a rate limiter."""

    async def take(self) -> None: ...

    def hold(self, seconds: float) -> None: ...


def bucket_for(store: Store, rate: float | None, number: str | None) -> Bucket:
    """The rate limiter for sending from ``number``: shared through PostgreSQL, else per process."""
    if store.is_sqlite or not rate or not number:
        return TokenBucket(rate)
    return SharedBucket(store, number, rate)


class SharedBucket:
    """``await take()`` returns when the caller may send, on a slot no other process holds."""

    def __init__(self, store: Store, number: str, rate: float, *, headroom: float = SHARED_HEADROOM,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self.store, self.number = store, number
        self.interval = (1.0 + headroom) / rate
        self.block = max(1, min(MAX_BLOCK, round(BLOCK_SECONDS / self.interval)))
        self._timer = timer
        # The server's clock minus this process's, its error and when measured: kept per store,
        # so each dispatch run (a new bucket) starts from the best estimate so far.
        self._clock: tuple[float, float, float] | None = _CLOCKS.get(store)
        self._slots: deque[float] = deque()  # reserved slots, on this process's monotonic clock
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._pump: asyncio.Task[None] | None = None
        self._holds: set[asyncio.Task[None]] = set()

    async def take(self) -> None:
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._hand_out())
        await turn

    async def _hand_out(self) -> None:
        waiting = self._waiting
        while True:
            while waiting and waiting[0].done():
                waiting.popleft()
            if not waiting:
                return
            if not self._slots:
                self._slots.extend(await asyncio.to_thread(self._reserve, min(self.block, len(waiting))))
                continue
            slot = self._slots[0]
            now = self._timer()
            if slot > now:
                await asyncio.sleep(slot - now)
                continue
            self._slots.popleft()
            if now - slot >= LATE:
                continue  # a stall: sending now would crowd the slots other processes hold
            waiting.popleft().set_result(None)

    def _reserve(self, count: int) -> list[float]:
        """``count`` consecutive slots of the number's schedule, as local monotonic times."""
        if self._clock is None:
            self._calibrate()
        before = self._timer()
        with self.store.write() as session:
            end, server_now = session.connection().execute(
                _RESERVE, {"number": self.number, "span": count * self.interval}).one()
        offset = self._offset_of(float(server_now), before, self._timer())
        first = float(end) - count * self.interval
        return [first + n * self.interval - offset for n in range(count)]

    def _offset_of(self, server_now: float, before: float, after: float) -> float:
        """The server's clock minus this process's, from the quickest reservation lately.

        The server read its clock somewhere between ``before`` and ``after``: taking the middle
        errs by up to half the round trip. On a loaded machine one round trip may take 50 ms, and
        slots placed 25 ms early in one process and late in another add up to more than the rate
        in a second (seen as Meta's throughput error). The quickest round trip seen is the best
        estimate; it is trusted a little less as it ages (``DRIFT``), as clocks drift apart.
        """
        error = (after - before) / 2
        best = self._clock
        if best is None or error <= best[1] + DRIFT * (after - best[2]):
            self._clock = _CLOCKS[self.store] = best = (server_now - (before + after) / 2, error, after)
        return best[0]

    def _calibrate(self) -> None:
        """A first estimate of the server's clock from a few bare round trips, before any slot is
        placed on it (a busy first reservation alone could be 25 ms off)."""
        with self.store.read() as session:
            connection = session.connection()
            for _ in range(CALIBRATE):
                before = self._timer()
                server_now = connection.execute(_CLOCK).scalar_one()
                self._offset_of(float(server_now), before, self._timer())

    def hold(self, seconds: float) -> None:
        """Nobody sends for this number for ``seconds`` (Meta said its throughput was reached)."""
        self._slots.clear()
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._hold, seconds))
        self._holds.add(task)
        task.add_done_callback(self._holds.discard)

    def _hold(self, seconds: float) -> None:
        with self.store.write() as session:
            session.connection().execute(_HOLD, {"number": self.number, "seconds": seconds})
