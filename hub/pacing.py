"""Pacing for a rate-limited API: a token bucket that never lets a one-second window overfill.

The bucket holds one token and refills at ``rate`` per second: senders pass one at a time, each
``1/rate`` after the previous one, so no burst can follow a quiet spell. A small ``headroom``
keeps the count in any one-second window at or below ``rate`` even when the network delays one
request a little more than the next. When the process stalls (a busy machine, a slow disk), the
schedule restarts from the moment it resumes instead of catching up: catching up would send the
missed slots at once, a burst on the wire. As a last check, the sends actually made are counted:
never more than ``rate`` within ``1 s + guard``.
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
    """``await bucket.take()`` returns when the caller may send; ``rate=None`` never waits."""

    def __init__(self, rate: float | None, *, headroom: float = HEADROOM, guard: float = GUARD,
                 timer: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.rate = rate
        self.interval = 0.0 if not rate else (1.0 + headroom) / rate
        self._timer = timer
        self._sleep = sleep
        self._slot = -math.inf  # when the last sender passed, on the ideal schedule
        self._lock = asyncio.Lock()
        self._cap = max(1, math.floor(rate)) if rate else 0
        self._span = 1.0 + guard
        self._sent: deque[float] = deque(maxlen=self._cap or None)

    async def take(self) -> None:
        if not self.interval:
            return
        async with self._lock:  # FIFO: one sender at a time
            now = self._timer()
            slot = max(now, self._slot + self.interval)
            if slot > now:
                await self._sleep(slot - now)
            while len(self._sent) == self._cap and (wait := self._sent[0] + self._span - self._timer()) > 0:
                await self._sleep(wait)
            actual = self._timer()
            self._slot = slot if actual - slot < LATE else actual
            self._sent.append(actual)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the API said the number's throughput was reached)."""
        if self.interval:
            self._slot = max(self._slot, self._timer() + seconds - self.interval)


def backoff(attempt: int, *, cap: timedelta = timedelta(hours=1)) -> timedelta:
    """Meta's advice after a failure: wait 4^X seconds (X = 0, 1, 2…), here capped at ``cap``."""
    return min(timedelta(seconds=4 ** max(0, attempt - 1)), cap)
