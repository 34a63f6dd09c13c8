"""``hub stats`` against a scenario whose figures are worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hub.audience.consent import record_opt_in, record_opt_out
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow
from tests.backend import db_url
from tests.conftest import write_config

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # 09:30 in Madrid (CET)


def _scenario(db_path) -> None:
    """Run 1 reaches 10 people: 9 delivered, 6 read (3 of them at 19:xx Madrid), 1 failed 131026,
    and 2 of the 10 leave within 24 h; 1 more leaves after 30 h. Run 2 reaches 4, 1 skipped."""
    store = Store(db_url(db_path))
    with store.write() as s:
        people = [record_opt_in(s, f"3460000{i:04d}", T0 - timedelta(days=1), channel="cli",
                                note="scenario", topics=(["cultura"] if i < 4 else []))
                  for i in range(12)]
        s.flush()
        for i, person in enumerate(people[:10]):
            status = "read" if i < 6 else "delivered" if i < 9 else "failed"
            s.add(DeliveryRow(
                key=f"run:1:{person.id}", subscriber_id=person.id, routine="mañanas", run_id=1,
                status=status, created_at=T0, due_at=T0,
                sent_at=T0 if status != "failed" else None,
                read_at=(T0 + timedelta(hours=10 if i < 3 else 1, minutes=i)) if i < 6 else None,
                error_code=131026 if status == "failed" else None,
            ))
        later = T0 + timedelta(days=2)
        for i, person in enumerate(people[8:12]):
            s.add(DeliveryRow(
                key=f"run:2:{person.id}", subscriber_id=person.id, routine="mañanas", run_id=2,
                status="skipped" if i == 3 else "sent", reason="cap" if i == 3 else None,
                created_at=later, due_at=later, sent_at=None if i == 3 else later,
            ))
        record_opt_out(s, people[0], T0 + timedelta(hours=3), channel="whatsapp", words="BAJA")
        record_opt_out(s, people[5], T0 + timedelta(hours=20), channel="whatsapp", words="BAJA")
        record_opt_out(s, people[7], T0 + timedelta(hours=30), channel="whatsapp", words="STOP")
    store.dispose()


def test_stats_figures_match_the_hand_count(hub_cli, project) -> None:
    write_config(hub_cli.config, '[hub]\ndatabase_url = "sqlite:///hub.db"\n')
    _scenario(project / "hub.db")
    result = hub_cli("stats", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)

    run1 = data["by_run"]["mañanas#1"]
    counts = tuple(run1[k] for k in ("planned", "sent", "delivered", "read", "failed"))
    assert counts == (10, 9, 9, 6, 1)
    assert run1["failed_by_code"] == {"131026": 1}
    assert run1["read_rate"] == 6 / 9 and run1["delivery_rate"] == 1.0
    # time to read: 10h00, 10h01, 10h02, 1h03, 1h04, 1h05 → median of the six = (1h05 + 10h00) / 2
    assert run1["median_seconds_to_read"] == ((65 + 600) / 2) * 60

    run2 = data["by_run"]["mañanas#2"]
    assert (run2["sent"], run2["skipped"], run2["skipped_by_reason"]) == (3, 1, {"cap": 1})

    annoyance = {a["run"]: a for a in data["annoyance"]}
    assert annoyance["mañanas#1"]["reached"] == 9
    assert annoyance["mañanas#1"]["unsubscribed"] == 2  # the one after 30 h is not attributed
    assert annoyance["mañanas#2"]["unsubscribed"] == 0

    # 12 joined on 1 March; left at 11:30 on 2 March, 05:30 and 15:30 on 3 March (Madrid).
    assert data["growth_by_day"]["2026-03-01"] == {"new": 12, "left": 0, "net": 12}
    assert data["growth_by_day"]["2026-03-02"] == {"new": 0, "left": 1, "net": -1}
    assert data["growth_by_day"]["2026-03-03"] == {"new": 0, "left": 2, "net": -2}
    assert data["growth_by_topic"]["cultura"] == {"new": 4, "left": 1, "net": 3}

    # Reads at 18:30–18:32 UTC = 19:xx Madrid (3), and 09:33–09:35 UTC = 10:xx Madrid (3).
    assert data["opens_by_hour"] == {"10": 3, "19": 3}

    assert data["by_day"]["2026-03-02"]["planned"] == 10


def test_stats_tables_and_routine_filter(hub_cli, project) -> None:
    write_config(hub_cli.config, '[hub]\ndatabase_url = "sqlite:///hub.db"\n')
    _scenario(project / "hub.db")
    table = hub_cli("stats")
    assert table.exit_code == 0, table.output
    assert "Per routine run" in table.output and "mañanas#1" in table.output
    assert "failed by code: 131026 (Message Undeliverable): 1" in table.output
    empty = hub_cli("stats", "--routine", "tardes", "--json")
    assert json.loads(empty.output)["by_run"] == {}
    bad = hub_cli("stats", "--since", "yesterday-ish")
    assert bad.exit_code == 2 and "expected a date" in bad.output


def test_an_unsubscribe_is_attributed_to_the_run_not_to_the_replies(tmp_path) -> None:
    """The welcome and the BAJA's own confirmation (sent at the very moment of leaving) are replies."""
    from zoneinfo import ZoneInfo

    from hub.stats import build_report

    store = Store(db_url(tmp_path / 'hub.db'))
    with store.write() as s:
        person = record_opt_in(s, "34600000001", T0, channel="whatsapp", words="ALTA")
        s.flush()
        leaving = T0 + timedelta(hours=3)
        sends = [("welcome", None, None, T0), ("run", "mañanas", 1, T0 + timedelta(hours=1)),
                 ("goodbye", None, None, leaving)]
        for key, routine, run_id, at in sends:
            s.add(DeliveryRow(key=key, subscriber_id=person.id, routine=routine, run_id=run_id, status="read",
                              created_at=at, due_at=at, sent_at=at, read_at=at))
        record_opt_out(s, person, leaving, channel="whatsapp", words="BAJA")
    with store.read() as s:
        report = build_report(s, ZoneInfo("Europe/Madrid"))
    store.dispose()
    assert [(a.run, a.reached, a.unsubscribed) for a in report.annoyance] == [("mañanas#1", 1, 1)]


def test_a_big_store_gives_the_same_figures_as_a_small_one(tmp_path, monkeypatch) -> None:
    """Read a page of 3 rows at a time and move times-to-read to disk after 2: the same report,
    to the last decimal, as reading everything at once (how a million deliveries are read)."""
    from zoneinfo import ZoneInfo

    from hub import stats
    from hub.storage import medians, paging

    _scenario(tmp_path / "hub.db")
    store = Store(db_url(tmp_path / 'hub.db'))
    with store.read() as s:
        whole = stats.build_report(s, ZoneInfo("Europe/Madrid")).as_dict()
        monkeypatch.setattr(paging, "PAGE", 3)
        monkeypatch.setattr(medians, "SPILL_AT", 2)
        paged = stats.build_report(s, ZoneInfo("Europe/Madrid")).as_dict()
    store.dispose()
    assert paged == whole
    assert paged["by_run"]["mañanas#1"]["median_seconds_to_read"] == ((65 + 600) / 2) * 60


def test_medians_on_disk_equal_statistics_median() -> None:
    import random
    import statistics

    from hub.storage.medians import Medians

    rng = random.Random(8)
    for spill_at in (1, 5, 1_000):
        groups = [[rng.uniform(0, 9e4) for _ in range(rng.randint(0, 9))] for _ in range(12)]
        collected = Medians(spill_at)
        handles = [collected.group() for _ in groups]
        for handle, values in zip(handles, groups, strict=True):
            for value in values:
                handle.append(value)
        collected.close()
        assert [h.median() for h in handles] == [statistics.median(v) if v else None for v in groups]
