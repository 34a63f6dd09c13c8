"""Pacing: the bucket keeps every one-second window at or under the number's rate, measured on
the simulator's own arrival log, while enough requests stay in flight to keep the pipe full."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from hub.audience.consent import record_opt_in
from hub.delivery.pacing import TokenBucket, backoff
from hub.simulator import Latency
from hub.timekeeping.clock import FakeClock
from tests.wa_world import START, World


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most arrivals in any window [t, t + window) — checked from every arrival on."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


class FakeTime:
    """A timer and a sleep that only move time forward when slept on (no real waiting)."""

    def __init__(self) -> None:
        self.now = 100.0

    def timer(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def _passes(bucket: TokenBucket, clock: FakeTime, count: int) -> list[float]:
    async def run() -> list[float]:
        times = []
        for _ in range(count):
            await bucket.take()
            times.append(clock.now)
        return times
    return asyncio.run(run())


def test_bucket_spaces_sends_evenly_and_keeps_no_burst_credit() -> None:
    clock = FakeTime()
    bucket = TokenBucket(80, timer=clock.timer, sleep=clock.sleep)
    times = _passes(bucket, clock, 200)
    assert max_in_any_window(times) <= 80
    assert 75 <= (len(times) - 1) / (times[-1] - times[0]) <= 80
    clock.now += 60  # a quiet minute earns no burst
    later = _passes(bucket, clock, 3)
    assert later[0] == pytest.approx(clock.now - 2 * bucket.interval)
    assert later[2] - later[1] == pytest.approx(bucket.interval)
    bucket.hold(5)
    before = clock.now
    assert _passes(bucket, clock, 1)[0] >= before + 5


def test_a_stall_restarts_the_schedule_instead_of_bursting() -> None:
    clock = FakeTime()
    bucket = TokenBucket(80, timer=clock.timer, sleep=clock.sleep)
    _passes(bucket, clock, 10)
    clock.now += 0.5  # the process was descheduled for half a second
    times = _passes(bucket, clock, 3)
    assert times[1] - times[0] == pytest.approx(bucket.interval)
    assert times[2] - times[1] == pytest.approx(bucket.interval)


class BusyLoop(FakeTime):
    """Every wake-up comes ``late`` seconds after it was due, as on a busy event loop."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.late
        await asyncio.sleep(0)  # let the senders that were let through run


def _many_senders(bucket: TokenBucket, clock: FakeTime, senders: int, count: int) -> list[float]:
    async def run() -> list[float]:
        times: list[float] = []

        async def sender() -> None:
            while len(times) < count:
                await bucket.take()
                times.append(clock.now)

        await asyncio.gather(*(sender() for _ in range(senders)))
        return times[:count]
    return asyncio.run(run())


@pytest.mark.parametrize("rate", [80, 1000])
def test_a_busy_loop_still_reaches_the_rate_and_never_overfills_a_second(rate: int) -> None:
    """Wake-ups 5 ms late: the tokens due meanwhile go out together (one per wake-up would cap
    1,000/s near 170/s), and still no one-second window holds more than ``rate``."""
    clock = BusyLoop(late=0.005)
    bucket = TokenBucket(rate, timer=clock.timer, sleep=clock.sleep)
    times = _many_senders(bucket, clock, senders=300, count=rate * 4)
    assert max_in_any_window(times) <= rate
    assert (len(times) - 1) / (times[-1] - times[0]) >= 0.9 * rate


def test_backoff_follows_metas_four_to_the_x() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 6)] == [1, 4, 16, 64, 256]
    assert backoff(20) == timedelta(hours=1)


def test_80_per_second_at_100ms_latency_are_all_sent_once_and_paced(tmp_path, cloud_api_process) -> None:
    """The issue's set-up with fewer messages: the simulator in its own process enforces 80/s.

    What holds on any machine: every message reaches the API exactly once, and the run is paced
    (unpaced, 100 in flight would arrive at hundreds a second). The exact figures (never above
    80 in any second by the simulator's clock, the mean rate beside 80) are timing claims: a busy
    machine stalls the simulator's own loop and bunches its arrival stamps, so they are measured
    in ``benchmarks/dispatch.py``, and the schedule itself is proven on a fake clock above.
    """
    server = cloud_api_process("--latency", "0.1", "--throughput", "80")
    world = World(tmp_path, server, rate=80, concurrency=100)
    people = 240
    with world.store.write() as session:
        ids = [record_opt_in(session, f"346{n:08d}", START, channel="cli", note="t") for n in range(people)]
        session.flush()
        ids = [s.id for s in ids]
    for subscriber_id in ids:
        world.plan(subscriber_id)
    sent = world.dispatch().sent
    for _ in range(5):  # a 130429 (a bunch seen by a stalled simulator) waits its backoff: retry
        if sent == people:
            break
        world.clock.advance(minutes=5)
        sent += world.dispatch().sent
    accepted = server.accepted()
    assert sent == people
    assert len(accepted) == people and len({m["to"] for m in accepted}) == people, "each once"
    arrivals = sorted(m["at"] for m in accepted)
    assert (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) < 120, "paced, not a burst"


def test_one_message_per_person_per_six_seconds(tmp_path, cloud_api_factory) -> None:
    clock = FakeClock(START)
    world = World(tmp_path, cloud_api_factory(clock=clock), clock)
    person = world.subscribe("34600000001")
    other = world.subscribe("34600000002")
    first, second, third = world.plan(person), world.plan(person), world.plan(other)
    report = world.dispatch()
    assert report.sent == 2 and report.waiting == 1
    assert world.delivery(second).status == "planned"
    clock.advance(seconds=5)
    assert world.dispatch().sent == 0
    clock.advance(seconds=1)
    assert world.dispatch().sent == 1
    assert world.sim.rejected == []  # the simulator's 131056 never fired
    assert {world.delivery(d).status for d in (first, second, third)} == {"sent"}


def test_requests_in_flight_keep_the_pipe_full(tmp_path, cloud_api_factory) -> None:
    """At 0.5 s latency and 200/s, one request at a time would manage 2/s; the run keeps up."""
    server = cloud_api_factory(latency=Latency(fixed=0.5), throughput=None)
    world = World(tmp_path, server, rate=200, concurrency=150)
    for n in range(200):
        world.plan(world.subscribe(f"347{n:08d}"))
    report = world.dispatch()
    assert report.sent == 200
    # ~1.5 s on an idle machine (benchmarks/dispatch.py measures it); one at a time: 100 s.
    assert report.elapsed < 30, report.elapsed
