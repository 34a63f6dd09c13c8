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
from collections import deque
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import text

from hub.delivery.pacing import HEADROOM, LATE, TokenBucket
from hub.storage.store import Store

log = logging.getLogger("hub.delivery.shared_rate")

BLOCK_SECONDS = 0.05  # a reservation covers about this much of the number's time
MAX_BLOCK = 20

_RESERVE = text("""
    INSERT INTO send_rate (number, next_slot)
    VALUES (:number, EXTRACT(EPOCH FROM clock_timestamp()) + :span)
    ON CONFLICT (number) DO UPDATE
    SET next_slot = GREATEST(send_rate.next_slot, EXTRACT(EPOCH FROM clock_timestamp())) + :span
    RETURNING next_slot, EXTRACT(EPOCH FROM clock_timestamp())
""")
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

    def __init__(self, store: Store, number: str, rate: float, *, headroom: float = HEADROOM,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self.store, self.number = store, number
        self.interval = (1.0 + headroom) / rate
        self.block = max(1, min(MAX_BLOCK, round(BLOCK_SECONDS / self.interval)))
        self._timer = timer
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
        before = self._timer()
        with self.store.write() as session:
            end, server_now = session.connection().execute(
                _RESERVE, {"number": self.number, "span": count * self.interval}).one()
        local_now = (before + self._timer()) / 2  # the server read its clock in between
        first = float(end) - count * self.interval
        return [local_now + (first + n * self.interval - float(server_now)) for n in range(count)]

    def hold(self, seconds: float) -> None:
        """Nobody sends for this number for ``seconds`` (Meta said its throughput was reached)."""
        self._slots.clear()
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._hold, seconds))
        self._holds.add(task)
        task.add_done_callback(self._holds.discard)

    def _hold(self, seconds: float) -> None:
        with self.store.write() as session:
            session.connection().execute(_HOLD, {"number": self.number, "seconds": seconds})
