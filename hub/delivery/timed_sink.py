"""A sink wrapper that times each send into the ``hub_send_latency_seconds`` histogram."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Histogram

from hub.contracts import OutgoingMessage, SendResult, Sink


class TimedSink(Sink):
    """Delegates everything to ``inner``; only ``send`` is timed."""

    def __init__(self, inner: Sink, histogram: Histogram) -> None:
        super().__init__(inner.options)
        self.inner, self.histogram = inner, histogram

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def pacing(self) -> Any:
        return self.inner.pacing()

    def marks_departure(self) -> bool:
        return self.inner.marks_departure()

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def send(self, message: OutgoingMessage) -> SendResult:
        started = time.perf_counter()
        try:
            return await self.inner.send(message)
        finally:
            self.histogram.observe(time.perf_counter() - started)
