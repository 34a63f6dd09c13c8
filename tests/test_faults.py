"""Faults injected by the Cloud API simulator, over loopback, against the real dispatcher and sink.

Only what tests/test_whatsapp_errors.py and tests/test_dispatch_claims.py do not already prove:
a request that hangs past the sink's timeout, 500/503/429 pages, 130429 again and again, a 190 in
the middle of a run, and the store held locked by another connection for a moment.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import SQLModel, select

from hub.config import AudienceConfig
from hub.delivery import account
from hub.simulator import Fault
from hub.storage.tables import StatusEventRow
from hub.timekeeping.clock import FakeClock
from hub.web.signature import HEADER, sign
from hub.web.webhook import build_app
from tests.audience_kit import SECRET, TOKEN, Switch, envelope
from tests.backend import db_url
from tests.status_kit import apply_posted
from tests.wa_world import START, World

PEOPLE = [f"346000000{n:02d}" for n in range(1, 11)]


@pytest.fixture
def world(tmp_path, cloud_api_factory) -> World:
    clock = FakeClock(START)
    return World(tmp_path, cloud_api_factory(clock=clock), clock, in_doubt_after="30 minutes", timeout=0.3)


def _posted_statuses(world: World) -> list[dict[str, Any]]:
    return [s for record in world.sim.poster.log for e in record.payload["entry"] for c in e["changes"]
            for s in c["value"].get("statuses", [])]


def _received(world: World) -> dict[str, int]:
    return {phone: len(world.sim.received_by(phone)) for phone in PEOPLE}


def test_timeout_never_answered_is_in_doubt_then_sent_once(world: World) -> None:
    delivery = world.plan(world.subscribe(PEOPLE[0]))
    world.sim.faults.add(Fault(kind="timeout", hang=2, accept=False, times=1))
    report = world.dispatch()
    row = world.delivery(delivery)
    assert report.in_doubt == 1 and report.failed == 0
    assert row.status == "sending" and row.last_error.startswith("-: network")
    assert world.dispatch().sent == 0  # not resent blindly: Meta may have taken it
    world.clock.advance(minutes=31)
    assert world.dispatch().sent == 1
    assert world.delivery(delivery).status == "sent" and _received(world)[PEOPLE[0]] == 1


def test_timeout_after_meta_accepted_is_settled_by_its_status_never_resent(world: World) -> None:
    delivery = world.plan(world.subscribe(PEOPLE[0]))
    world.sim.faults.add(Fault(kind="timeout", hang=2, accept=True, times=1))
    assert world.dispatch().in_doubt == 1
    with world.store.write() as session:  # the status webhook, as the hub's webhook applies it
        for status in _posted_statuses(world):
            apply_posted(session, status, world.clock.now())
    row = world.delivery(delivery)
    assert row.status in ("delivered", "read") and row.wamid == world.sim.accepted[0].wamid
    world.clock.advance(hours=2)
    world.dispatch()
    assert _received(world)[PEOPLE[0]] == 1


@pytest.mark.parametrize("http_status", [500, 503, 429])
def test_500_503_and_429_pages_are_retried_with_backoff_and_sent_once(world: World,
                                                                     http_status: int) -> None:
    delivery = world.plan(world.subscribe(PEOPLE[0]))
    world.sim.faults.add(Fault(kind="http5xx", http_status=http_status, times=2))
    report = world.dispatch()
    row = world.delivery(delivery)
    assert (report.sent, report.failed, report.retrying) == (0, 0, 1)
    assert row.status == "planned" and row.last_error.startswith(f"-: HTTP {http_status}")
    assert row.next_try_at == START + timedelta(seconds=1)
    world.clock.advance(seconds=6)  # the back-off (1 s), and the person's 6 s gap charged at the claim
    world.dispatch()
    assert world.delivery(delivery).next_try_at == world.clock.now() + timedelta(seconds=4)  # 4^1 s
    world.clock.advance(seconds=6)
    assert world.dispatch().sent == 1
    assert world.delivery(delivery).attempts == 3 and _received(world)[PEOPLE[0]] == 1


def test_130429_again_and_again_backs_off_four_to_the_x_then_sends(world: World) -> None:
    delivery = world.plan(world.subscribe(PEOPLE[0]))
    world.sim.faults.add(Fault(code=130429, times=3))
    waits = []
    for _ in range(3):
        before = world.clock.now()
        assert world.dispatch().retrying == 1
        row = world.delivery(delivery)
        assert row.status == "planned" and row.last_error.startswith("130429: ")
        waits.append((row.next_try_at - before).total_seconds())
        assert world.dispatch().sent == 0  # nothing goes before its time
        world.clock.advance(seconds=max(waits[-1], 6))  # the person's 6 s gap is charged at each claim
    assert waits == [1, 4, 16]
    assert world.dispatch().sent == 1 and _received(world)[PEOPLE[0]] == 1


def test_131056_only_that_recipient_waits_while_everyone_else_is_sent(world: World) -> None:
    ids = {phone: world.subscribe(phone) for phone in PEOPLE[:5]}
    world.sim.faults.add(Fault(code=131056, recipients=frozenset({PEOPLE[0]})))  # every time
    deliveries = {phone: world.plan(ids[phone]) for phone in PEOPLE[:5]}
    report = world.dispatch()
    assert report.sent == 4 and report.retrying == 1 and report.failed == 0
    assert world.delivery(deliveries[PEOPLE[0]]).next_try_at == START + timedelta(seconds=6)
    world.clock.advance(seconds=6)
    world.dispatch()
    assert world.delivery(deliveries[PEOPLE[0]]).next_try_at == START + timedelta(seconds=6 + 12)
    world.sim.faults.clear()
    world.clock.advance(seconds=12)
    assert world.dispatch().sent == 1
    assert set(_received(world).values()) - {0} == {1}


@pytest.mark.parametrize("concurrency", [1, 4])
def test_190_in_the_middle_of_a_run_pauses_everything_fails_nothing_and_resumes(
        world: World, concurrency: int) -> None:
    ids = [world.subscribe(phone) for phone in PEOPLE]
    deliveries = [world.plan(i) for i in ids]
    world.sink.options.concurrency = concurrency
    # The token dies after the first four messages went out.
    world.sim.faults.add(Fault(code=190, recipients=frozenset(PEOPLE[4:]), details="token expired"))
    report = world.dispatch()
    assert report.failed == 0 and "paused" in (report.blocked or "")
    sent_before = world.sim.requests
    assert report.sent >= 4 and sent_before <= 4 + concurrency  # the run stopped at the 190
    with world.store.read() as session:
        state = account.current(session)
        assert state.state == "paused" and state.code == 190 and "token expired" in state.reason
    rows = [world.delivery(d) for d in deliveries]
    assert {r.status for r in rows} <= {"sent", "planned"} and not any(r.error_code for r in rows)
    assert all(r.attempts == 0 for r in rows if r.status == "planned")
    # Paused: no request at all until the probe time.
    assert "paused" in world.dispatch().blocked and world.sim.requests == sent_before
    # The probe finds the token still refused: still paused, still nothing failed.
    world.clock.advance(minutes=5)
    assert "paused" in (world.dispatch().blocked or "")
    assert world.sim.requests == sent_before + 1
    assert not any(world.delivery(d).status == "failed" for d in deliveries)
    # The token works again: the next probe resumes, and every person gets exactly one message.
    world.sim.faults.clear()
    world.clock.advance(minutes=30)
    report = world.dispatch()
    assert report.blocked is None and report.failed == 0
    assert {world.delivery(d).status for d in deliveries} == {"sent"}
    assert _received(world) == dict.fromkeys(PEOPLE, 1)
    with world.store.read() as session:
        assert account.current(session).state == "running"


class _Locker:
    """Another connection holding the store's write lock until told to let go.

    SQLite: BEGIN IMMEDIATE (the database's one write lock). PostgreSQL: every hub table locked
    in EXCLUSIVE mode, which likewise lets readers through and makes every writer wait.
    """

    def __init__(self, path: Path) -> None:
        url = db_url(path)
        if url.startswith("postgresql"):
            import psycopg

            self.connection: Any = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)
            self.connection.execute("BEGIN")
            self.connection.execute(f"LOCK TABLE {', '.join(SQLModel.metadata.tables)} IN EXCLUSIVE MODE")
        else:
            self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.connection.execute("BEGIN IMMEDIATE")
            self.connection.execute("UPDATE deliveries SET updated_at = updated_at WHERE 0")

    def holding(self) -> bool:
        if isinstance(self.connection, sqlite3.Connection):
            return self.connection.in_transaction
        return self.connection.info.transaction_status.name == "INTRANS"

    def release_when(self, event: threading.Event, timeout: float = 10) -> threading.Thread:
        def run() -> None:
            event.wait(timeout)
            self.connection.execute("COMMIT")
            self.connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread


def _lock_once_sending(path: Path, world: World, taken: list[float], hold: float = 0.3) -> threading.Thread:
    """Take the write lock as soon as the simulator has taken a first message, hold it a moment."""

    def run() -> None:
        deadline = time.monotonic() + 10
        while world.sim.requests < 1 and time.monotonic() < deadline:
            time.sleep(0.002)
        locker = _Locker(path)
        taken.append(time.monotonic())
        time.sleep(hold)  # the moment the lock is held: what is tested is waiting on a real lock
        locker.connection.execute("COMMIT")
        locker.connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("when", ["at the claim", "while sending"])
def test_store_locked_for_a_moment_the_dispatcher_waits_and_loses_nothing(world: World, tmp_path: Path,
                                                                        when: str) -> None:
    deliveries = [world.plan(world.subscribe(phone)) for phone in PEOPLE]
    # The sink's usual patience, not the 0.3 s the timeout tests use: on a busy machine the
    # simulator itself may take longer than that to answer, and a request that times out is
    # rightly in doubt (once in six PostgreSQL runs: the test's race, not the hub's).
    world.sink.options.timeout = 5
    if when == "at the claim":
        locker = _Locker(tmp_path / "hub.db")
        let_go = threading.Event()
        holder = locker.release_when(let_go)
        threading.Timer(0.3, let_go.set).start()  # held a moment into the run (real time: what is
        assert locker.holding()                   # tested is waiting on a real lock)
    else:
        world.sink.options.concurrency = 2  # a slower run, so the recorder meets the lock
        holder = _lock_once_sending(tmp_path / "hub.db", world, taken := [])
    report = world.dispatch()
    finished = time.monotonic()
    holder.join()
    if when == "while sending":
        assert taken and taken[0] < finished  # the lock really came down in the middle of the run
    assert report.sent == 10 and report.failed == 0 and report.in_doubt == 0
    assert {world.delivery(d).status for d in deliveries} == {"sent"}
    assert _received(world) == dict.fromkeys(PEOPLE, 1)


def test_store_locked_for_a_moment_the_webhook_waits_and_stores_the_status(
        world: World, tmp_path: Path, loopback: Switch) -> None:
    delivery = world.plan(world.subscribe(PEOPLE[0]))
    assert world.dispatch().sent == 1
    wamid = world.delivery(delivery).wamid
    loopback.target = build_app(world.store, AudienceConfig(), ZoneInfo("Europe/Madrid"), app_secret=SECRET,
                                verify_token=TOKEN, clock=world.clock)
    body = json.dumps(envelope({"statuses": [{"id": wamid, "status": "delivered", "recipient_id": PEOPLE[0],
                                              "timestamp": str(int(START.timestamp()))}]})).encode()
    locker = _Locker(tmp_path / "hub.db")
    let_go = threading.Event()
    holder = locker.release_when(let_go)
    threading.Timer(0.3, let_go.set).start()
    assert locker.holding()
    with httpx.Client(base_url=loopback.base_url, timeout=10) as client:
        response = client.post("/webhook", content=body, headers={HEADER: sign(body, SECRET)})
    holder.join()
    assert response.status_code == 200, response.text  # not a 500 that makes Meta retry
    assert world.delivery(delivery).status == "delivered"
    with world.store.read() as session:
        assert [e.status for e in session.exec(select(StatusEventRow)).all()] == ["delivered"]
