"""What messages cost: pricing stored from statuses, the estimate before a run, the cost after it,
and a monthly budget that holds — against the Cloud API simulator, counted by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from hub.app import App
from hub.commands.serve import webhook_app
from hub.delivery.paid_gate import paid_gate_for
from hub.pricing.country import country_of
from hub.routines import Routines
from hub.simulator import SimulatorServer
from hub.storage.tables import DeliveryRow, StatusEventRow, SubscriberRow
from hub.timekeeping.clock import FakeClock
from hub.web.asgi_server import serve_in_thread
from tests.money_kit import SECRET, Hub, hub_toml, wait_for

# Argentina and Colombia are on the shipped card (USD): marketing 0.0618 and 0.0125.
AR = ["5491100000001", "5491100000002", "5491100000003"]
CO = ["573000000001", "573000000002"]
CARD = ('[pricing]\ncurrency = "EUR"\nvalid_from = 2026-10-01\nsource = "test card"\n'
        'rates = { ES = { marketing = 0.0600, utility = 0.0200, authentication = 0.0200, service = 0 },'
        ' AR = { marketing = 0.0500, utility = 0.0100, authentication = 0.0100, service = 0 } }\n')


def _start(tmp_path: Path, factory: Callable[..., SimulatorServer], monkeypatch: pytest.MonkeyPatch,
           extra_hub: str = "", extra: str = "", read_share: float = 0.0) -> Iterator[Hub]:
    clock = FakeClock(datetime.now(UTC))  # `hub preview` reads the system clock
    server = factory(clock=clock, app_secret=SECRET, read_share=read_share, seed=3)
    monkeypatch.setenv("WHATSAPP_APP_SECRET", SECRET)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "verify")
    app = App(hub_toml(tmp_path, server, extra_hub, extra))
    with serve_in_thread(webhook_app(app, clock=clock)) as base_url:
        server.simulator.poster.url = f"{base_url}{app.config.webhook.path}"
        yield Hub(app, server, clock)
        server.drain_webhooks()
    app.store.dispose()


@pytest.fixture
def hub(tmp_path: Path, cloud_api_factory: Callable[..., SimulatorServer],
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    yield from _start(tmp_path, cloud_api_factory, monkeypatch, read_share=1.0)


def test_country_of_numbers_and_bsuids() -> None:
    assert [country_of(x) for x in ("34600000001", "+52 55 1234 5678", "5491112345678",
                                    "ES.1349876543210", "mx.88", "", None)] == [
        "ES", "MX", "AR", "ES", "MX", None, None]


def _sent_and_settled(hub: Hub, count: int) -> None:
    report = hub.send()
    assert report.sent == count, report
    wait_for(lambda: _events(hub) >= 2 * count, "the sent and delivered statuses")


def _events(hub: Hub) -> int:
    with hub.app.store.read() as session:
        return len(session.exec(select(StatusEventRow)).all())


def test_pricing_from_statuses_is_stored_and_stats_count_cost_and_cost_per_read(hub, hub_cli) -> None:
    hub.join(*AR, *CO)
    with hub.app.store.write() as session:  # one Colombian wrote an hour ago: inside the window
        person = session.exec(select(SubscriberRow).where(SubscriberRow.phone == CO[1])).one()
        person.last_inbound_at = hub.clock.now() - timedelta(hours=1)
    hub.sim.open_window(CO[1], hub.clock.now() - timedelta(hours=1))
    hub.story("Pleno municipal")
    Routines(hub.app.config, hub.app.store, hub.clock).run_now("mañanas")
    _sent_and_settled(hub, 5)
    wait_for(lambda: _events(hub) >= 15, "the read statuses")
    with hub.app.store.read() as session:
        priced = {(e.status, e.billable, e.pricing_type, e.pricing_model, e.category)
                  for e in session.exec(select(StatusEventRow).where(StatusEventRow.status != "read"))}
    assert priced == {(s, True, "regular", "PMP", "marketing") for s in ("sent", "delivered")} | {
        (s, False, "free_customer_service", "PMP", "service") for s in ("sent", "delivered")}

    result = hub_cli("--config", str(hub.app.config.path), "stats")
    assert result.exit_code == 0, result.output
    # By hand: 3 AR templates × 0.0618 + 1 CO template × 0.0125 = 0.1979 USD, 5 reads → 0.0396 a read.
    total = next(line for line in result.output.splitlines() if line.strip().startswith("total"))
    assert total.split() == ["total", "4", "0.20", "USD", "5", "0.0396", "USD"]
    run = next(line for line in result.output.splitlines() if "mañanas #" in line)
    assert run.split()[-6:] == ["4", "0.20", "USD", "5", "0.0396", "USD"]


def test_preview_expected_cost_is_the_card_times_the_counts(tmp_path, cloud_api_factory, monkeypatch,
                                                            hub_cli) -> None:
    for hub in _start(tmp_path, cloud_api_factory, monkeypatch, extra=CARD):
        hub.join("34600000001", "34600000002", *AR[:1], "525500000001")
        with hub.app.store.write() as session:
            person = session.exec(select(SubscriberRow).where(SubscriberRow.phone == "34600000002")).one()
            person.last_inbound_at = hub.clock.now() - timedelta(hours=2)
        hub.story("Pleno municipal")
        result = hub_cli("--config", str(hub.app.config.path), "preview")
        assert result.exit_code == 0, result.output
        # ES 1 paid × 0.06 + 1 free; AR 1 × 0.05; MX not on the card → its highest, 0.06. = 0.17 EUR
        assert "Cost: 3 paid template(s), ≈ 0.17 EUR; 1 free inside the window" in result.output
        assert "  ES: 1 paid, 1 free, ≈ 0.0600 EUR" in result.output
        assert "  MX: 1 paid, 0 free, ≈ 0.0600 EUR (not on the card: its highest rate)" in result.output
        assert "  AR: 1 paid, 0 free, ≈ 0.0500 EUR" in result.output
        listing = hub_cli("--config", str(hub.app.config.path), "routines")
        # 4 people × 30 runs × 1 template: 4 × 30 × (0.06 + 0.06 + 0.05 + 0.06) / 4 = 6.90 EUR
        assert "expected per month at today's audience: ≈ 6.90 EUR (4 subscriber(s) × 30.0 runs" in \
            listing.output


def test_a_run_over_the_budget_does_not_start_and_the_gate_stops_mid_run(tmp_path, cloud_api_factory,
                                                                          monkeypatch, hub_cli) -> None:
    for hub in _start(tmp_path, cloud_api_factory, monkeypatch, extra_hub='monthly_budget = "0.15 EUR"\n',
                      extra=CARD):
        people = [f"3460000{n:04d}" for n in range(4)]  # 4 × 0.06 = 0.24 EUR > 0.15
        hub.join(*people)
        hub.story("Pleno municipal")
        shown = hub_cli("--config", str(hub.app.config.path), "preview")
        assert "Budget: 0.15 EUR left of 0.15 EUR this month; OVER: the run would not start" in shown.output
        routines = Routines(hub.app.config, hub.app.store, hub.clock)
        report = routines.run_now("mañanas")
        assert report.status == "missed" and "over budget" in (report.note or "")
        assert "monthly budget: routine mañanas not run" in hub_cli(
            "--config", str(hub.app.config.path), "status").output
        assert hub.items()[0].planned_at is None

        # Mid-run: the rows are planned anyway (a manual plan, as if the budget was raised and then
        # lowered); the gate lets through what fits and nothing beyond it. One person is inside the
        # window: free, never blocked.
        with hub.app.store.write() as session:
            inside = session.exec(select(SubscriberRow).where(SubscriberRow.phone == people[3])).one()
            inside.last_inbound_at = hub.clock.now() - timedelta(hours=1)
        hub.sim.open_window(people[3], hub.clock.now() - timedelta(hours=1))
        with hub.app.store.write() as session:
            story = {"id": 1, "title": "Pleno", "url": "https://example.org/p"}
            now = hub.clock.now()
            for person in session.exec(select(SubscriberRow)):
                session.add(DeliveryRow(key=f"k{person.id}", subscriber_id=person.id, created_at=now,
                                        due_at=now, body={"kind": "item", "text": "Hola", "items": [story]}))
        with hub.app.store.read() as session:
            gate = paid_gate_for(hub.app.config, session)
        report = hub.send(paid_gate=gate)
        assert report.sent == 3  # 2 paid (0.12 EUR) + 1 free; a third paid one would cross 0.15
        assert report.blocked and report.blocked.startswith("monthly budget reached: 0.12 EUR of 0.15 EUR")
        accepted = hub.sim.accepted
        assert sorted(m.type for m in accepted) == ["template", "template", "text"]
        with hub.app.store.read() as session:
            waiting = session.exec(select(DeliveryRow).where(DeliveryRow.status == "planned")).all()
            assert [(w.reason, w.next_try_at is not None) for w in waiting] == [("budget", True)]
            assert paid_gate_for(hub.app.config, session).budget.committed(session, hub.clock.now()) == \
                Decimal("0.12")


def test_a_budget_in_another_currency_than_the_card_is_a_config_error(tmp_path, cloud_api, hub_cli) -> None:
    path = hub_toml(tmp_path, cloud_api, extra_hub='monthly_budget = "150 EUR"\n')
    result = hub_cli("--config", str(path), "check")
    assert result.exit_code == 1
    assert "hub.monthly_budget: in EUR, but the rate card is in USD" in result.output
