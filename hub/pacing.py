"""Pacing for a rate-limited API: a token bucket that never lets a one-second window overfill.

The bucket holds one token and refills at ``rate`` per second, so sends are evenly spaced
(1/rate apart) and no burst can follow a quiet spell. Callers reserve their slot without a lock
(the event loop runs one coroutine at a time), then sleep until it comes. A small ``headroom``
keeps the count in any one-second window at or below ``rate`` even when the network delays one
request more than the next.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

HEADROOM = 0.03  # 3 % slower than the limit: 80/s becomes ~77.7/s, 1,000/s ~971/s


class TokenBucket:
    """``await bucket.take()`` returns when the caller may send; ``rate=None`` never waits."""

    def __init__(self, rate: float | None, *, headroom: float = HEADROOM,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.interval = 0.0 if not rate else (1.0 + headroom) / rate
        self._timer = timer
        self._next = 0.0

    def reserve(self) -> float:
        """Claim the next slot; returns how many seconds to wait for it."""
        if not self.interval:
            return 0.0
        now = self._timer()
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now

    async def take(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the API said the number's throughput was reached)."""
        self._next = max(self._next, self._timer() + seconds)


def backoff(attempt: int, *, cap: timedelta = timedelta(hours=1)) -> timedelta:
    """Meta's advice after a failure: wait 4^X seconds (X = 0, 1, 2…), here capped at ``cap``."""
    return min(timedelta(seconds=4 ** max(0, attempt - 1)), cap)
