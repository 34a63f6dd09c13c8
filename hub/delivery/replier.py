"""Send what the webhook has just planned (welcome, confirmations, lists) without waiting.

A person who writes ALTA expects the welcome within seconds, not at the next routine. The
replier runs beside the webhook in the same event loop: each post that planned a reply pokes it,
and it sends every due delivery through the outbox (claim-then-send, so running it next to a
daemon that also dispatches never sends anything twice). It also wakes every ``every`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from hub.contracts import Sink
from hub.delivery.send import dispatch_due
from hub.storage.store import Store
from hub.timekeeping.clock import Clock, SystemClock

log = logging.getLogger("hub.delivery.replier")


class Replier:
    """Dispatches due deliveries when poked, and every ``every`` seconds."""

    def __init__(self, store: Store, make_sink: Callable[[], Sink], clock: Clock | None = None,
                 every: float = 5.0) -> None:
        self.store = store
        self.make_sink = make_sink
        self.clock = clock or SystemClock()
        self.every = every
        self._wake: asyncio.Event | None = None

    def poke(self) -> None:
        """Ask for a dispatch soon; called from the webhook's request handler (same loop)."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        self._wake = asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.every)
            self._wake.clear()
            try:
                await dispatch_due(self.store, self.make_sink(), self.clock)
            except Exception:  # keep serving the webhook; the outbox keeps what was not sent
                log.exception("sending planned replies failed; will retry")

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(self.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
