"""At most once per delivery: claim before the call, requested just before it, wamid after;
statuses settle what a crash left in doubt, a requested claim with no status is resent only after
the in-doubt timeout, and one never requested goes back to the others at once."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from hub.contracts import OutgoingMessage, Pacing, SendResult
from hub.delivery.claims import LEASE, Ask, mark_requested
from hub.delivery.departures import Journal, departed
from hub.delivery.send import claim_due, record_outcome, worker_id
from hub.simulator import Fault
from hub.storage.tables import DeliveryRow
from hub.timekeeping.clock import FakeClock
from tests.status_kit import apply_posted, apply_status
from tests.wa_world import START, World


@pytest.fixture
def world(tmp_path, cloud_api_factory) -> World:
    clock = FakeClock(START)
    return World(tmp_path, cloud_api_factory(clock=clock), clock, in_doubt_after="30 minutes")


def posted_statuses(world: World) -> list[dict[str, Any]]:
    """The status entries the simulator posted (or would have: no webhook URL in these tests)."""
    return [s for record in world.sim.poster.log for e in record.payload["entry"] for c in e["changes"]
            for s in c["value"].get("statuses", [])]


def settle_all(world: World) -> None:
    """Stand-in for the hub's webhook: apply each posted status as it would."""
    with world.store.write() as session:
        for status in posted_statuses(world):
            apply_posted(session, status, world.clock.now())


def test_the_claim_is_committed_before_the_call_and_the_wamid_after(world: World) -> None:
    person = world.subscribe("34600000001")
    delivery = world.plan(person)
    claimed = claim_due(world.store, world.clock)
    assert [c.id for c in claimed] == [delivery]
    with world.store.read() as session:  # another connection sees the claim: it is committed
        row = session.get(DeliveryRow, delivery)
        assert (row.status, row.attempts, row.claimed_at, row.wamid) == ("sending", 1, START, None)
    assert mark_requested(world.store, [Ask(delivery, person, True)], world.clock.now()) == [True]
    # What a crash here leaves: a request that may have reached Meta. A new run does not resend it.
    assert world.dispatch().sent == 0 and world.sim.requests == 0
    world.clock.advance(minutes=29)
    assert world.dispatch().sent == 0
    # No status came within the in-doubt timeout: Meta never took it, so it is sent now.
    world.clock.advance(minutes=2)
    assert world.dispatch().sent == 1
    row = world.delivery(delivery)
    assert row.status == "sent" and row.attempts == 2 and row.wamid == world.sim.accepted[0].wamid
    assert len(world.sim.received_by("34600000001")) == 1


def test_a_claim_never_requested_goes_to_another_run_when_its_lease_ends(world: World) -> None:
    """A crash between claim and request: nothing reached Meta, so nothing waits for a status."""
    person = world.subscribe("34600000001")
    delivery = world.plan(person)
    assert [c.id for c in claim_due(world.store, world.clock)] == [delivery]
    assert world.dispatch().sent == 0  # its worker's lease still runs
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    assert world.dispatch().sent == 1
    assert world.delivery(delivery).attempts == 2 and len(world.sim.received_by("34600000001")) == 1


def test_a_dead_process_s_unrequested_claims_are_planned_again_at_once(world: World) -> None:
    person = world.subscribe("34600000001")
    delivery = world.plan(person)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with world.store.write() as session:
        row = session.get(DeliveryRow, delivery)
        row.status, row.claimed_at, row.claimed_by = "sending", START, f"{socket.gethostname()}:{dead}"
        row.lease_until, row.attempts = START + LEASE, 1
    assert world.dispatch().sent == 1  # no wait for the lease: its process is gone
    assert world.delivery(delivery).status == "sent"


def test_a_claim_taken_over_after_its_lease_is_not_requested_by_its_first_worker(world: World) -> None:
    person = world.subscribe("34600000001")
    delivery = world.plan(person)
    claim_due(world.store, world.clock)
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    assert claim_due(world.store, world.clock)  # another worker, or this one again
    ask = [Ask(delivery, person, True)]
    assert mark_requested(world.store, ask, world.clock.now(), "elsewhere:1") == [False]
    assert mark_requested(world.store, ask, world.clock.now()) == [True]
    assert mark_requested(world.store, ask, world.clock.now()) == [False]  # requested once only


def test_a_lost_answer_is_settled_by_the_status_webhook_not_resent(world: World) -> None:
    person = world.subscribe("34600000001")
    delivery = world.plan(person)
    world.sim.faults.add(Fault(kind="drop", accept=True, times=1))  # accepted, answer lost
    report = world.dispatch()
    row = world.delivery(delivery)
    assert report.in_doubt == 1 and row.status == "sending" and row.wamid is None
    assert row.next_try_at == START + timedelta(minutes=30) and row.last_error.startswith("-: network")
    settle_all(world)  # the 'sent' status carries biz_opaque_callback_data = our delivery id
    row = world.delivery(delivery)
    assert row.status in ("delivered", "read") and row.wamid == world.sim.accepted[0].wamid
    world.clock.advance(hours=2)
    world.dispatch()
    assert len(world.sim.received_by("34600000001")) == 1  # never a second message


def test_a_dropped_request_never_accepted_is_resent_after_the_timeout(world: World) -> None:
    delivery = world.plan(world.subscribe("34600000001"))
    world.sim.faults.add(Fault(kind="drop", accept=False, times=1))
    world.dispatch()
    assert world.delivery(delivery).status == "sending"
    world.clock.advance(minutes=31)
    assert world.dispatch().sent == 1
    assert len(world.sim.received_by("34600000001")) == 1


def test_statuses_move_forward_only_and_repeats_are_harmless(world: World) -> None:
    delivery = world.plan(world.subscribe("34600000001"))
    world.dispatch()
    wamid = world.delivery(delivery).wamid
    at = world.clock.now()
    with world.store.write() as session:
        read = apply_status(session, status="read", wamid=wamid, at=at + timedelta(minutes=2))
        assert read.changed
        apply_status(session, status="delivered", wamid=wamid, at=at + timedelta(minutes=1))
        again = apply_status(session, status="read", wamid=wamid, at=at + timedelta(minutes=2))
        failed = apply_status(session, status="failed", wamid=wamid, at=at, error_code=131026)
        unknown = apply_status(session, status="sent", wamid="wamid.other", at=at)
    assert not again.changed and not failed.changed and unknown.delivery is None
    row = world.delivery(delivery)
    # The late "delivered" keeps the state at read, but tells when it was delivered.
    assert row.status == "read" and row.delivered_at == at + timedelta(minutes=1)
    assert row.read_at == at + timedelta(minutes=2)


def test_a_status_that_overtakes_the_answer_is_not_undone(world: World) -> None:
    delivery = world.plan(world.subscribe("34600000001"))
    claim_due(world.store, world.clock)
    with world.store.write() as session:
        apply_status(session, status="delivered", wamid="wamid.A", at=START,
                     callback_data=f"hub:delivery:{delivery}")
        record_outcome(session, delivery, SendResult(ok=True, message_id="wamid.A"), START, Pacing())
    row = world.delivery(delivery)
    assert row.status == "delivered" and row.wamid == "wamid.A"


def test_async_131047_replans_as_template_once(world: World) -> None:
    person = world.subscribe("34600000001", wrote_at=START - timedelta(hours=1))
    world.sim.last_inbound.clear()  # Meta never saw that message: free-form will fail afterwards
    delivery = world.plan(person)
    world.dispatch()
    assert world.delivery(delivery).sent_as == "text"
    settle_all(world)
    row = world.delivery(delivery)
    assert row.status == "planned" and row.force_template and row.superseded_wamid
    world.clock.advance(seconds=6)
    world.dispatch()
    settle_all(world)  # the old text's failed status again: harmless, it names a superseded wamid
    row = world.delivery(delivery)
    assert row.status == "delivered" and row.sent_as == "template"
    assert [m.type for m in world.sim.received_by("34600000001")] == ["text", "template"]


@pytest.mark.parametrize(("code", "expected"), [(131049, "planned"), (131050, "failed"), (131026, "failed"),
                                                (131000, "planned")])
def test_failed_statuses_act_by_code(world: World, code: int, expected: str) -> None:
    person = world.subscribe("34600000001")
    delivery = world.plan(person)
    world.sim.faults.add(Fault(kind="status", code=code, details="async", times=1))
    world.dispatch()
    settle_all(world)
    row = world.delivery(delivery)
    assert row.status == expected
    if code == 131049:
        assert row.next_try_at == START + timedelta(hours=24)
    if expected == "failed":
        assert row.error_code == code and row.failed_at == START
    assert world.subscriber(person).marketing_stopped == (code == 131050)


def test_signed_statuses_reach_a_receiver_and_settle_every_delivery(tmp_path, cloud_api_factory) -> None:
    """End to end over loopback: the simulator posts signed statuses, a receiver settles them."""
    from hub.web.signature import HEADER, is_valid
    from tests.test_simulator import Receiver

    receiver = Receiver()
    try:
        clock = FakeClock(START)
        server = cloud_api_factory(clock=clock, webhook_url=receiver.url, app_secret="s3cret", read_share=1.0)
        world = World(tmp_path, server, clock)
        deliveries = [world.plan(world.subscribe(f"3460000{n:04d}")) for n in range(20)]
        assert world.dispatch().sent == 20
        server.drain_webhooks()
        with world.store.write() as session:
            for headers, body in receiver.posts:
                assert is_valid(body, headers[HEADER], "s3cret")
                for entry in json.loads(body)["entry"]:
                    for status in entry["changes"][0]["value"]["statuses"]:
                        apply_posted(session, status, START)
            rows = session.exec(select(DeliveryRow).where(DeliveryRow.id.in_(deliveries))).all()
        assert {r.status for r in rows} == {"read"}
    finally:
        receiver.close()


def test_a_sink_that_crashes_leaves_the_claim_in_doubt_not_resent(world: World) -> None:
    """A third-party sink's bug must neither stop the run with a traceback nor cause a resend."""
    from hub.contracts import Sink
    from hub.delivery.send import dispatch_due

    class Broken(Sink):
        async def send(self, message: OutgoingMessage) -> SendResult:
            raise RuntimeError("bug in a plugin")

    first, second = (world.plan(world.subscribe(f"3460000000{n}")) for n in (1, 2))
    report = asyncio.run(dispatch_due(world.store, Broken(Sink.Options()), world.clock))
    assert report.in_doubt == 2 and report.sent == 0
    assert {world.delivery(d).status for d in (first, second)} == {"sending"}
    assert world.delivery(first).last_error.startswith("-: sink error: RuntimeError")


def _dead_worker() -> str:
    pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return f"{socket.gethostname()}:{pid}"


def _requested_by(world: World, worker: str) -> int:
    """A delivery that ``worker`` claimed and recorded as requested, and then died."""
    person = world.subscribe("34600000001")
    delivery = world.plan(person)
    with world.store.write() as session:
        row = session.get(DeliveryRow, delivery)
        row.status, row.claimed_at, row.claimed_by, row.attempts = "sending", START, worker, 1
        row.requested_at = START
    return delivery


def test_a_dead_process_s_request_that_never_left_is_planned_again_at_once(world: World) -> None:
    """Killed between recording the request and its bytes leaving: not in its journal, so not in doubt."""
    dead = _dead_worker()
    delivery = _requested_by(world, dead)
    Journal(world.store.url, dead).close()  # its journal, opened at its run's start, holds no mark
    assert world.dispatch().sent == 1  # not the 30 minutes in doubt: it provably never left
    row = world.delivery(delivery)
    assert row.status == "sent" and row.attempts == 1
    assert len(world.sim.received_by("34600000001")) == 1


def test_a_dead_process_s_request_in_its_journal_waits_for_its_status(world: World) -> None:
    dead = _dead_worker()
    delivery = _requested_by(world, dead)
    journal = Journal(world.store.url, dead)
    journal.mark(delivery)  # it may have left: only its status (or the in-doubt timeout) settles it
    journal.close()
    assert world.dispatch().sent == 0 and world.sim.requests == 0
    world.clock.advance(minutes=31)
    assert world.dispatch().sent == 1 and world.delivery(delivery).attempts == 2


@pytest.mark.parametrize("journal", ["missing", "another boot", "cut short"])
def test_a_journal_that_proves_nothing_leaves_the_request_in_doubt(world: World, journal: str) -> None:
    """No journal, or one written before the machine restarted (its page cache lost): in doubt."""
    dead = _dead_worker()
    _requested_by(world, dead)
    kept = Journal(world.store.url, dead)
    kept.close()
    if journal == "missing":
        kept.path.unlink()
    elif journal == "another boot":
        kept.path.write_bytes(b"boot 00000000-0000-0000-0000-000000000000\n")
    else:  # the dead worker was killed while writing its first line (the boot line)
        kept.path.write_bytes(b"boot 1234")
    assert world.dispatch().sent == 0 and world.sim.requests == 0


def test_the_sink_notes_a_departure_before_the_api_sees_the_request(world: World) -> None:
    """The WhatsApp sink calls ``departing`` before the body is written; if it fails, nothing goes."""
    seen: list[int] = []
    message = OutgoingMessage(delivery_id=7, phone="34600000001", text="Hola", items=[],
                              last_inbound_at=START, now=START,
                              departing=lambda: seen.append(world.sim.requests))
    assert world.sink.marks_departure()

    async def send(m: OutgoingMessage) -> SendResult:
        try:
            return await world.sink.send(m)
        finally:
            await world.sink.close()

    assert asyncio.run(send(message)).ok
    assert seen == [0] and world.sim.requests == 1  # noted while the API had not seen it yet

    def refuse() -> None:
        raise OSError("disk full")

    result = asyncio.run(send(replace(message, delivery_id=8, departing=refuse)))
    assert not result.ok and world.sim.requests == 1  # the body never left


def test_the_journal_is_cut_back_after_a_run_that_leaves_nothing_unanswered(world: World) -> None:
    world.plan(world.subscribe("34600000001"))
    assert world.dispatch().sent == 1
    assert departed(world.store.url, worker_id()) == set()  # its boot line only: it stays small
