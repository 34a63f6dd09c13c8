"""One test per row of the Cloud API error table: the simulator answers the code, the dispatcher
does what the table says, and the stored delivery shows it (``../shared/reference`` notes, §3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from hub.delivery import account
from hub.simulator import Fault
from hub.storage.tables import AlertRow, DeliveryRow
from hub.timekeeping.clock import FakeClock
from tests.wa_world import START, World

RETRY = [130429, 4, 80007, 131016, 131057, 131000, 1, 2]
FAIL = [131026, 130472, 100, 131008, 131009, 132000, 132001, 132005, 132007, 132012, 132015, 132016,
        131051, 131052, 131053, 133010, 10, 200, 299, 131005, 131021, 131048, 130497, 131042]


@pytest.fixture
def world(tmp_path, cloud_api_factory) -> World:
    clock = FakeClock(START)
    return World(tmp_path, cloud_api_factory(clock=clock), clock)


def _one(world: World, code: int, **fault) -> tuple[int, int]:
    person = world.subscribe("34600000001")
    world.sim.faults.add(Fault(code=code, times=1, details=f"details for {code}", **fault))
    return person, world.plan(person)


@pytest.mark.parametrize("code", RETRY)
def test_transient_codes_are_retried_with_backoff(world: World, code: int) -> None:
    person, delivery = _one(world, code)
    report = world.dispatch()
    row = world.delivery(delivery)
    assert (report.sent, report.failed, report.retrying) == (0, 0, 1)
    assert row.status == "planned" and row.attempts == 1 and row.error_code is None
    assert row.next_try_at == START + timedelta(seconds=1)  # 4^0 s, Meta's advice
    assert row.last_error.startswith(f"{code}: ") and f"details for {code}" in row.last_error
    world.clock.advance(seconds=6)
    world.dispatch()
    row = world.delivery(delivery)
    assert row.status == "sent" and row.attempts == 2 and row.wamid.startswith("wamid.")
    assert len(world.sim.received_by("34600000001")) == 1


def test_retry_after_is_honoured(world: World) -> None:
    _, delivery = _one(world, 130429, retry_after=30)
    world.dispatch()
    assert world.delivery(delivery).next_try_at == START + timedelta(seconds=30)


def test_retries_stop_after_max_attempts(tmp_path, cloud_api_factory) -> None:
    clock = FakeClock(START)
    world = World(tmp_path, cloud_api_factory(clock=clock), clock, max_attempts=2)
    person = world.subscribe("34600000001")
    world.sim.faults.add(Fault(code=131000))
    delivery = world.plan(person)
    world.dispatch()
    clock.advance(seconds=10)
    world.dispatch()
    row = world.delivery(delivery)
    assert row.status == "failed" and row.attempts == 2 and row.error_code == 131000


@pytest.mark.parametrize("http_status", [500, 503])
def test_server_errors_without_a_code_are_retried(world: World, http_status: int) -> None:
    _, delivery = _one(world, None, kind="http5xx", http_status=http_status)
    world.dispatch()
    row = world.delivery(delivery)
    assert row.status == "planned" and row.next_try_at is not None
    assert f"HTTP {http_status}" in row.last_error


@pytest.mark.parametrize("http_status", [502, 504])
def test_a_gateway_that_gave_up_leaves_the_message_in_doubt(world: World, http_status: int) -> None:
    """Meta may have taken it upstream: wait for its status, resend only after the in-doubt time."""
    _, delivery = _one(world, None, kind="http5xx", http_status=http_status)
    report = world.dispatch()
    row = world.delivery(delivery)
    assert report.in_doubt == 1 and row.status == "sending" and f"HTTP {http_status}" in row.last_error


def test_network_error_before_sending_is_retried(tmp_path, cloud_api_factory) -> None:
    clock = FakeClock(START)
    server = cloud_api_factory(clock=clock)
    world = World(tmp_path, server, clock)
    person = world.subscribe("34600000001")
    delivery = world.plan(person)
    server.stop()  # nothing listens: the connection is refused, so nothing can have been sent
    world.dispatch()
    row = world.delivery(delivery)
    assert row.status == "planned" and row.attempts == 1 and row.last_error.startswith("-: network")


def test_pair_rate_131056_delays_only_that_recipient(world: World) -> None:
    busy = world.subscribe("34600000001")
    other = world.subscribe("34600000002")
    world.sim.faults.add(Fault(code=131056, recipients=frozenset({"34600000001"}), times=1))
    first, second = world.plan(busy), world.plan(other)
    report = world.dispatch()
    assert report.sent == 1 and report.retrying == 1
    assert world.delivery(second).status == "sent"
    row = world.delivery(first)
    assert row.status == "planned" and row.next_try_at == START + timedelta(seconds=6)


def test_outside_window_131047_falls_back_to_the_template_once(tmp_path, cloud_api_factory) -> None:
    clock = FakeClock(START)
    server = cloud_api_factory(clock=clock, window_failure="error")
    world = World(tmp_path, server, clock)
    # The hub believes the window is open (a message 1 h ago) but Meta never saw it.
    person = world.subscribe("34600000001", wrote_at=START - timedelta(hours=1))
    world.sim.last_inbound.clear()
    delivery = world.plan(person)
    report = world.dispatch()
    row = world.delivery(delivery)
    assert report.sent == 1 and report.fallbacks == 1
    assert row.status == "sent" and row.sent_as == "template" and row.force_template
    assert [m.type for m in world.sim.received_by("34600000001")] == ["template"]
    assert world.sim.rejected == [(131047, "34600000001")]


def test_131047_on_the_template_too_fails(world: World) -> None:
    person = world.subscribe("34600000001", wrote_at=START - timedelta(hours=1))
    world.sim.faults.add(Fault(code=131047, times=2))
    delivery = world.plan(person)
    world.dispatch()
    row = world.delivery(delivery)
    assert row.status == "failed" and row.error_code == 131047


def test_131049_waits_a_day(world: World) -> None:
    _, delivery = _one(world, 131049)
    world.dispatch()
    row = world.delivery(delivery)
    assert row.status == "planned" and row.next_try_at == START + timedelta(hours=24)
    world.clock.advance(hours=23)
    assert world.dispatch().sent == 0
    world.clock.advance(hours=1)
    assert world.dispatch().sent == 1


def test_131050_marks_the_person_as_stopping_marketing(world: World) -> None:
    person, delivery = _one(world, 131050)
    world.dispatch()
    row = world.delivery(delivery)
    assert row.status == "failed" and row.error_code == 131050
    assert world.subscriber(person).marketing_stopped
    # The next template to them is not even attempted.
    later = world.plan(person)
    world.clock.advance(seconds=10)
    world.dispatch()
    assert world.delivery(later).error_code == 131050 and world.sim.requests == 1


@pytest.mark.parametrize("code", FAIL)
def test_permanent_codes_fail_the_delivery_with_metas_details(world: World, code: int) -> None:
    _, delivery = _one(world, code)
    report = world.dispatch()
    row = world.delivery(delivery)
    assert report.failed == 1 and row.status == "failed" and row.attempts == 1
    assert row.error_code == code and f"details for {code}" in row.error_detail
    assert row.failed_at == START


@pytest.mark.parametrize("code", [190, 0])
def test_bad_token_pauses_all_sending_and_fails_nothing(world: World, code: int) -> None:
    people = [world.subscribe(f"3460000000{n}") for n in range(1, 4)]
    world.sim.faults.add(Fault(code=code, times=1))
    deliveries = [world.plan(p) for p in people]
    world.sink.options.concurrency = 1  # so the first answer halts the run before the others go
    report = world.dispatch()
    assert report.sent == 0 and report.failed == 0 and "paused" in (report.blocked or "")
    rows = [world.delivery(d) for d in deliveries]
    assert all(r.status == "planned" and r.attempts == 0 for r in rows)
    assert rows[0].last_error.startswith(f"{code}: ")
    # Until the probe time nothing is sent; then one message probes, works, and the rest follow.
    assert world.dispatch().blocked
    world.clock.advance(minutes=5)
    report = world.dispatch()
    assert report.sent == 3 and report.blocked is None
    with world.store.read() as session:
        assert account.current(session).state == "running"


def test_a_wrong_token_is_refused_with_190(tmp_path, cloud_api_factory, monkeypatch) -> None:
    world = World(tmp_path, cloud_api_factory(), FakeClock(START))
    monkeypatch.setenv("WHATSAPP_TOKEN", "expired")
    delivery = world.plan(world.subscribe("34600000001"))
    assert "paused" in world.dispatch().blocked
    assert world.delivery(delivery).status == "planned" and world.sim.rejected == [(190, "")]


@pytest.mark.parametrize("code", [131031, 368])
def test_restricted_account_stops_everything_and_alerts(world: World, code: int) -> None:
    people = [world.subscribe(f"3460000000{n}") for n in range(1, 3)]
    world.sim.faults.add(Fault(code=code, times=1))
    deliveries = [world.plan(p) for p in people]
    world.sink.options.concurrency = 1
    report = world.dispatch()
    assert "stopped" in report.blocked and report.failed == 0
    assert all(world.delivery(d).status == "planned" for d in deliveries)
    with world.store.read() as session:
        alerts = session.exec(select(AlertRow)).all()
        assert [(a.level, a.code) for a in alerts] == [("error", code)]
    world.clock.advance(days=2)
    assert "stopped" in world.dispatch().blocked  # never resumes by itself
    with world.store.write() as session:
        account.resume(session, world.clock.now())
    assert world.dispatch().sent == 2


def test_unknown_template_is_meta_132001(tmp_path, cloud_api_factory) -> None:
    clock = FakeClock(START)
    world = World(tmp_path, cloud_api_factory(clock=clock), clock,
                  template={"name": "no_such_template", "body": ["{title}"]})
    delivery = world.plan(world.subscribe("34600000001"))
    world.dispatch()
    row = world.delivery(delivery)
    assert row.status == "failed" and row.error_code == 132001 and "does not exist in es" in row.error_detail


def test_wrong_parameter_count_is_meta_132000(tmp_path, cloud_api_factory) -> None:
    clock = FakeClock(START)
    world = World(tmp_path, cloud_api_factory(clock=clock), clock,
                  template={"name": "news_update", "body": ["{title}"]})
    delivery = world.plan(world.subscribe("34600000001"))
    world.dispatch()
    assert world.delivery(delivery).error_code == 132000


def test_stored_attempts_last_error_and_next_try(world: World) -> None:
    with world.store.read() as session:
        assert session.exec(select(DeliveryRow)).all() == []
    _, delivery = _one(world, 131016)
    world.dispatch()
    row = world.delivery(delivery)
    assert (row.attempts, row.next_try_at is not None, row.last_error is not None) == (1, True, True)
