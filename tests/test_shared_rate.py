"""The number's rate is shared: several senders for one phone number never exceed it together.

On PostgreSQL, each sender stands for a worker process of its own (its own store connection);
they agree only through the store. On SQLite the hub is one process, and its bucket alone is the
number's budget.
"""

from __future__ import annotations

import asyncio
import time

from hub.delivery.shared_rate import SharedBucket, bucket_for
from hub.storage.store import Store
from tests.test_pacing import max_in_any_window

RATE = 100
SENDS = 150


async def _send_all(buckets: list[object], per_bucket: int, times: list[float]) -> None:
    async def one(bucket: object) -> None:
        await bucket.take()  # type: ignore[attr-defined]
        times.append(time.monotonic())

    await asyncio.gather(*(one(b) for b in buckets for _ in range(per_bucket)))


def test_senders_for_one_number_share_its_rate(store_url: str) -> None:
    stores = [Store(store_url) for _ in range(3)]
    try:
        buckets = [bucket_for(store, RATE, "1234567890") for store in stores]
        if stores[0].is_sqlite:
            buckets = buckets[:1]  # one process: its own bucket is the whole budget
        else:
            assert all(isinstance(b, SharedBucket) for b in buckets)
        times: list[float] = []
        started = time.monotonic()
        asyncio.run(_send_all(buckets, SENDS // len(buckets), times))
        elapsed = time.monotonic() - started
        assert len(times) == SENDS
        assert max_in_any_window(times) <= RATE, "never more than the number's rate in any second"
        assert elapsed < SENDS / RATE * 1.3, "and not much slower than it either"
    finally:
        for store in stores:
            store.dispose()


def test_numbers_do_not_share_one_budget(store_url: str) -> None:
    stores = [Store(store_url) for _ in range(2)]
    try:
        buckets = [bucket_for(stores[0], RATE, "111"), bucket_for(stores[1], RATE, "222")]
        times: list[float] = []
        asyncio.run(_send_all(buckets, RATE // 2, times))
        assert len(times) == RATE
        assert time.monotonic() - min(times) < 1.0 + 0.5, "two numbers: twice the rate together"
    finally:
        for store in stores:
            store.dispose()
