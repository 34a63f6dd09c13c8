"""How many requests one process may have recorded as requested while they wait for their slot.

On a server store a request is recorded (a batched round trip) and then waits for its slot of the
number's shared schedule (:mod:`hub.delivery.shared_rate`). Enough of them must be under way to
keep the slots fed while a record's round trip lasts — about ``rate × round trip`` — but each one
is a request a crash would strand in doubt (it then waits for a status instead of being resent).
So the limit follows the round trips measured: what they need, at least 2, at most ``CEILING``
seconds of the rate (a crash then strands one or two, as when requests left in the order "slot,
record, send": tests/test_crash.py on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

CEILING = 0.1  # seconds of the number's rate: the most ever recorded ahead of their slots
FLOOR = 2
SMOOTHING = 0.2  # weight of the latest round trip in the running estimate


class AskedAhead:
    """``async with gate:`` around recording a request and waiting for its slot."""

    def __init__(self, rate: float, timer: Callable[[], float] = time.monotonic) -> None:
        self.rate, self._timer = rate, timer
        self.round_trip = 0.02  # seconds, until measured
        self.inside = 0
        self._most = max(FLOOR, math.ceil(rate * CEILING))
        self._turn = asyncio.Condition()

    @property
    def limit(self) -> int:
        """How many may be inside now: what the measured round trip needs."""
        return min(self._most, max(FLOOR, math.ceil(self.rate * self.round_trip)))

    def recorded(self, seconds: float) -> None:
        """One record's round trip took ``seconds``."""
        self.round_trip += SMOOTHING * (seconds - self.round_trip)

    async def __aenter__(self) -> None:
        async with self._turn:
            await self._turn.wait_for(lambda: self.inside < self.limit)
            self.inside += 1

    async def __aexit__(self, *exc: object) -> None:
        async with self._turn:
            self.inside -= 1
            self._turn.notify_all()
