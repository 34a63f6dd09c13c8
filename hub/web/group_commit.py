"""Group commit: requests that arrive while a transaction is being written share the next one.

Why: the webhook must not answer 200 before what it was told is committed, and a commit (with its
fsync) per request is what bounded it. Here one writer at a time runs in a worker thread; every
request that arrives meanwhile waits for the next transaction, which carries them all. An idle
server adds no delay (a lone request is committed at once), a busy one commits in batches.

If a batch fails, each of its requests is tried again alone, so one poisonous request gets its
own error and the others are still stored.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from starlette.concurrency import run_in_threadpool

# How long a thread that wants Python's GIL waits for a busy one to let go (Python's default: 5 ms).
PROMPT_SWITCH_SECONDS = 0.001


def prefer_prompt_commits() -> None:
    """Let the writer thread have the GIL back within 1 ms of asking, for a process that serves.

    Why: the writer leaves the GIL at every SQLite call and fsync, several times per batch, and
    each time waited up to 5 ms for the event loop, busy with the next requests, to yield it: the
    batch cycle, and so the webhook's rate, was set by that wait. Same machine, same run length
    (benchmarks/webhook_load.py, statuses stored per second): 5 ms 2,640-2,880; 2 ms 3,100-3,400;
    1 ms 3,618-3,630; 0.5 ms 3,320-3,342; 0.2 ms about 2,000 (threads thrash).
    """
    sys.setswitchinterval(PROMPT_SWITCH_SECONDS)


T = TypeVar("T")
R = TypeVar("R")


class _Lane(Generic[T, R]):
    """The waiting requests and the writer task of one event loop."""

    def __init__(self) -> None:
        self.waiting: deque[tuple[T, asyncio.Future[R]]] = deque()
        self.writer: asyncio.Task[None] | None = None


class GroupCommit(Generic[T, R]):
    """``await submit(item)`` returns ``commit([... item ...])``'s result for ``item``.

    ``commit`` gets a list of items and returns one result per item, in order, all in one
    transaction; it runs in a worker thread, never two at once per event loop.
    """

    def __init__(self, commit: Callable[[list[T]], list[R]], *, max_batch: int = 256) -> None:
        self.commit = commit
        self.max_batch = max_batch
        self.batches = 0  # transactions written, for tests and figures
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lane[T, R]] = (
            weakref.WeakKeyDictionary())

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        lane = self._lanes.get(loop)
        if lane is None:
            lane = self._lanes[loop] = _Lane()
        done: asyncio.Future[R] = loop.create_future()
        lane.waiting.append((item, done))
        if lane.writer is None or lane.writer.done():
            lane.writer = loop.create_task(self._write(lane))
        # A client that goes away must not cancel the commit others are waiting for.
        return await asyncio.shield(done)

    async def _write(self, lane: _Lane[T, R]) -> None:
        while lane.waiting:
            count = min(len(lane.waiting), self.max_batch)
            batch = [lane.waiting.popleft() for _ in range(count)]
            items = [item for item, _ in batch]
            try:
                results = await run_in_threadpool(self.commit, items)
                outcomes: list[tuple[R | None, BaseException | None]] = [(r, None) for r in results]
            except Exception as exc:
                outcomes = [(None, exc)] if count == 1 else [await self._alone(i) for i in items]
            self.batches += 1
            for (_, done), (result, error) in zip(batch, outcomes, strict=True):
                if done.done():
                    continue
                if error is not None:
                    done.set_exception(error)
                else:
                    done.set_result(cast(R, result))  # no error: the commit returned it

    async def _alone(self, item: T) -> tuple[R | None, BaseException | None]:
        try:
            return (await run_in_threadpool(self.commit, [item]))[0], None
        except Exception as exc:
            return None, exc
