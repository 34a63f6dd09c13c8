"""Opt-outs this process has just heard, checked by its dispatcher right before each request.

Why: the promise is that once the webhook has answered 200 to a BAJA, no news request for that
person leaves the hub. The store is checked when a claim is requested
(:func:`hub.delivery.claims.mark_requested`), but a request may already be past that check when
the BAJA is committed. So the webhook, before its 200, notes the person here and waits for any
news request to them that is already under way to be done; the dispatcher looks here at the
very last moment. Other processes are covered by the store check.

One registry per :class:`~hub.storage.store.Store` object: the webhook and the dispatcher of one
``hub run`` share their store.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Iterable, Iterator

from hub.storage.store import Store

WAIT_IN_FLIGHT = 5.0  # seconds a BAJA's 200 waits at most for a request to that person under way


class OptOuts:
    """People whose news must not go out, and the news requests under way, by subscriber id."""

    def __init__(self) -> None:
        self.stopped: set[int] = set()
        self.in_flight: dict[int, int] = {}
        self._waiters: set[asyncio.Event] = set()

    @contextlib.contextmanager
    def sending(self, subscriber_id: int) -> Iterator[bool]:
        """Wrap one news request: yields False when the person has opted out (do not send)."""
        if subscriber_id in self.stopped:
            yield False
            return
        self.in_flight[subscriber_id] = self.in_flight.get(subscriber_id, 0) + 1
        try:
            yield True
        finally:
            left = self.in_flight[subscriber_id] - 1
            if left:
                self.in_flight[subscriber_id] = left
            else:
                del self.in_flight[subscriber_id]
                for waiter in self._waiters:
                    waiter.set()

    def joined(self, subscriber_ids: Iterable[int]) -> None:
        """People who opted in again: their news may go."""
        self.stopped.difference_update(subscriber_ids)

    async def left(self, subscriber_ids: Iterable[int], timeout: float = WAIT_IN_FLIGHT) -> None:
        """Note people who opted out; return once no news request to them is under way."""
        ids = set(subscriber_ids)
        self.stopped.update(ids)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            while ids & self.in_flight.keys():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                waiter.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), remaining)
        finally:
            self._waiters.discard(waiter)


_REGISTRIES: weakref.WeakKeyDictionary[Store, OptOuts] = weakref.WeakKeyDictionary()


def optouts(store: Store) -> OptOuts:
    """The registry shared by everything in this process that uses ``store``."""
    registry = _REGISTRIES.get(store)
    if registry is None:
        registry = _REGISTRIES[store] = OptOuts()
    return registry
