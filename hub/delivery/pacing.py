"""Pacing for a rate-limited API: a token bucket that never lets a one-second window overfill.

The bucket holds one token and refills at ``rate`` per second: senders pass in order, each on a
slot ``1/rate`` after the previous one's, so no burst can follow a quiet spell. A small ``headroom``
keeps the count in any one-second window at or below ``rate`` even when the network delays one
request a little more than the next. When the process stalls (a busy machine, a slow disk), the
schedule restarts from the moment it resumes instead of catching up: catching up would send the
missed slots at once, a burst on the wire. Slots missed by less than ``LATE`` (an event loop
running a few milliseconds behind) are still used, or a busy process would never reach the rate.
As a last check, the sends actually made are counted: never more than ``rate`` within ``1 s + guard``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta

HEADROOM = 0.03  # 3 % slower than the limit: 80/s becomes ~77.7/s, 1,000/s ~971/s
GUARD = 0.03  # seconds added to the one-second window the actual sends are counted in
LATE = 0.02  # a wake-up later than this is a stall: restart the schedule instead of catching up


class TokenBucket:
    """``await bucket.take()`` returns when the caller may send; ``rate=None`` never waits.

    Waiters queue in arrival order; one pump task hands out the tokens. Each time it runs it lets
    through every waiter whose slot has come (at most ``LATE`` seconds of them), in one go: handing
    the turn from one sender to the next through a lock costs an event-loop iteration per token,
    which capped a busy dispatcher at about 300/s whatever the rate.
    """

    def __init__(self, rate: float | None, *, headroom: float = HEADROOM, guard: float = GUARD,
                 timer: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.rate = rate
        self.interval = 0.0 if not rate else (1.0 + headroom) / rate
        self._timer = timer
        self._sleep = sleep
        self._slot = -math.inf  # when the last sender passed, on the ideal schedule
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._pump: asyncio.Task[None] | None = None
        self._cap = max(1, math.floor(rate)) if rate else 0
        self._span = 1.0 + guard
        self._sent: deque[float] = deque(maxlen=self._cap or None)

    async def take(self) -> None:
        if not self.interval:
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._hand_out())
        await turn  # a cancelled waiter is skipped by the pump

    async def _hand_out(self) -> None:
        """Let waiters through on the schedule; never more than ``rate`` in ``1 s + guard``."""
        waiting = self._waiting
        while True:
            while waiting and waiting[0].done():
                waiting.popleft()
            if not waiting:
                return
            now = self._timer()
            slot = self._slot + self.interval
            if slot > now:
                await self._sleep(slot - now)
                continue
            if now - slot >= LATE:
                slot = now  # a stall (or a quiet spell): restart the schedule, send no missed slots
            if len(self._sent) == self._cap and (wait := self._sent[0] + self._span - now) > 0:
                await self._sleep(wait)
                continue
            self._slot = slot
            self._sent.append(now)
            waiting.popleft().set_result(None)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the API said the number's throughput was reached)."""
        if self.interval:
            self._slot = max(self._slot, self._timer() + seconds - self.interval)


def backoff(attempt: int, *, cap: timedelta = timedelta(hours=1)) -> timedelta:
    """Meta's advice after a failure: wait 4^X seconds (X = 0, 1, 2…), here capped at ``cap``."""
    return min(timedelta(seconds=4 ** max(0, attempt - 1)), cap)
