"""Peak resident memory of what a subscriber count drives, at 10,000 and 1,000,000 subscribers.

    .venv/bin/python benchmarks/memory.py [--sizes 10000 1000000] [--send 20000]

For each size a SQLite store is filled fast (raw ``executemany``: the subscribers, each with
its opt-in proof, and three ready items), then every phase runs in a fresh child process, so
high-water marks never mix; the child reports its own ``VmHWM`` (peak RSS, /proc/self/status):

- ``baseline``: imports the hub (CLI, plugins, every module the phases use), loads hub.toml
  and opens the store, doing no work — the interpreter-and-libraries floor, same run;
- ``plan``: the daemon's routine tick at the run's slot: brake check, then one digest run
  planned for every subscriber (one outbox row each);
- ``send --dry-run``: ``hub send --dry-run`` (what is due, the first ten shown);
- ``dispatch``: ``dispatch_due`` sends the first ``--send`` (10,000) deliveries of that outbox through
  the WhatsApp sink to the Cloud API simulator (its own process; no latency, 1,000/s);
- then, unmeasured, the run is settled as if every message had gone out (statuses, reads,
  1 % of people leaving within the day, 10 % failed with a non-blocking code), so the reading
  phases see a full run:
- ``hub stats``, ``hub status``, the ``/dashboard`` page, ``/metrics``, ``hub subscribers
  list``, ``hub subscribers export`` (one person), ``hub preview``;
- ``next tick``: the next slot's tick: the brake judges the full run, then plans the next
  run against everyone's history (caps).

Prints one markdown table: phase, peak MB at each size, the ratio, and the baseline.
Target (issue 8): flat — the largest size within ~10 % (or a few MB) of the smallest.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.table import Row, emit  # noqa: E402

TOKEN = "benchmark-token"
TZ = ZoneInfo("Europe/Madrid")
TOPIC_SETS = ['[]', '["deportes"]', '["cultura"]', '["municipal"]', '["deportes", "cultura"]']
PHASES = ("baseline", "plan", "send --dry-run", "dispatch", "hub stats", "hub status", "dashboard",
          "metrics", "subscribers list", "subscribers export", "hub preview", "next tick")
BEFORE_SETTLE = ("baseline", "plan", "send --dry-run", "dispatch")
CONFIG = """
[hub]
database_url = "sqlite:///{db}"
timezone = "Europe/Madrid"

[sinks.whatsapp]
phone_number_id = "1234567890"
base_url = "{base_url}"
rate = 1000
concurrency = 100
template = {{ name = "news_update", language = "es", body = ["{{title}}", "{{url}}"] }}

[caps]
per_subscriber_per_day = 2
quiet_hours = "none"  # the benchmark runs at any hour; quiet hours would hold every send

[[routines]]
name = "mañanas"
every = "1 day"
at = "09:30"
mode = "digest"
max_items = 3
"""


def _stamp(moment: datetime) -> str:
    """A UTC datetime as the store writes it on SQLite."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def first_slot() -> datetime:
    """09:30 Madrid two days ago: the first run's slot (its second one is then also past)."""
    local = datetime.now(TZ).replace(hour=9, minute=30, second=0, microsecond=0) - timedelta(days=2)
    return local.astimezone(UTC)


# --- Filling the store (parent process, unmeasured) ----------------------------------------------

def seed(folder: Path, subscribers: int, base_url: str) -> Path:
    """A store with ``subscribers`` opted-in people and three ready items; returns hub.toml."""
    from hub.config import load_config
    from hub.plugins import load
    from hub.routines import Routines
    from hub.storage.store import Store
    from hub.timekeeping.clock import FakeClock

    db = folder / "hub.db"
    config_path = folder / "hub.toml"
    config_path.write_text(CONFIG.format(db=db, base_url=base_url), encoding="utf-8")
    slot = first_slot()
    store = Store(f"sqlite:///{db}")
    config = load_config(config_path, load([])[1])
    Routines(config, store, FakeClock(slot - timedelta(hours=1))).tick()  # the routine's state
    store.dispose()
    joined = _stamp(slot - timedelta(days=30))
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA journal_mode=WAL")
    for start in range(1, subscribers + 1, 100_000):
        ids = range(start, min(start + 100_000, subscribers + 1))
        raw.executemany(
            "INSERT INTO subscribers (id, phone, status, topics, created_at, opted_in_at, "
            "marketing_stopped, rhythm) VALUES (?, ?, 'active', ?, ?, ?, 0, 'normal')",
            ((n, f"34{600000000 + n}", TOPIC_SETS[n % len(TOPIC_SETS)], joined, joined) for n in ids))
        raw.executemany(
            "INSERT INTO consent_events (subscriber_id, phone, kind, channel, note, at) "
            "VALUES (?, ?, 'opt_in', 'import', 'benchmark list', ?)",
            ((n, f"34{600000000 + n}", joined) for n in ids))
    raw.commit()
    raw.close()
    add_items(db, slot - timedelta(minutes=30), "a")
    return config_path


def add_items(db: Path, ready: datetime, batch: str) -> None:
    raw = sqlite3.connect(db)
    stamp = _stamp(ready)
    raw.executemany(
        "INSERT INTO items (source, guid, url, canonical_url, title, summary, text, tags, priority, "
        "fingerprint, status, fetched_at, ready_at, published_at, content_hash, revision, decisions) "
        "VALUES ('diario', ?, ?, ?, ?, 'Resumen.', '', ?, 0, '', 'ready', ?, ?, ?, '', 0, '[]')",
        ((f"{batch}{n}", f"https://villa.example.org/{batch}{n}/", f"https://villa.example.org/{batch}{n}/",
          f"Noticia {batch}{n} del día", json.dumps([tag]), stamp, stamp, stamp)
         for n, tag in enumerate(["Deportes", "cultura", "municipal"])))
    raw.commit()
    raw.close()


def settle(db: Path) -> None:
    """As if the whole first run had gone out: statuses, reads, failures, 1 % leaving after it."""
    raw = sqlite3.connect(db)
    when = "strftime('%Y-%m-%d %H:%M:%S', due_at, '+' || (id % 3600) || ' seconds') || '.000000'"
    later = "strftime('%Y-%m-%d %H:%M:%S', due_at, '+' || (id % 3600 + 600) || ' seconds') || '.000000'"
    raw.execute(
        f"UPDATE deliveries SET sent_at = coalesce(sent_at, {when}), "
        f"claimed_at = coalesce(claimed_at, {when}), "
        "status = CASE id % 10 WHEN 9 THEN 'failed' WHEN 8 THEN 'sent' WHEN 7 THEN 'delivered' "
        "WHEN 6 THEN 'delivered' ELSE 'read' END, "
        f"read_at = CASE WHEN id % 10 < 6 THEN {later} END, "
        "error_code = CASE id % 10 WHEN 9 THEN 131000 END, "
        "wamid = coalesce(wamid, 'wamid.bench' || id) WHERE run_id IS NOT NULL")
    raw.execute(
        f"INSERT INTO consent_events (subscriber_id, phone, kind, channel, words, at) "
        f"SELECT subscriber_id, NULL, 'opt_out', 'whatsapp', 'BAJA', {later} FROM deliveries "
        "WHERE run_id IS NOT NULL AND subscriber_id % 100 = 0 AND status != 'failed'")
    raw.execute("UPDATE subscribers SET status = 'unsubscribed', opted_out_at = created_at "
                "WHERE id % 100 = 0 AND id IN (SELECT subscriber_id FROM consent_events "
                "WHERE kind = 'opt_out')")
    raw.commit()
    raw.close()


# --- One phase (child process, measured) ---------------------------------------------------------

def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _cli(config: Path, *args: str) -> None:
    from hub.cli import cli

    cli.main(["--config", str(config), *args], standalone_mode=False)


def run_phase(name: str, config_path: Path, send: int) -> str:
    """Do one phase's work; returns a short note for the table."""
    import asyncio

    from sqlalchemy import text

    import hub.delivery.send  # noqa: F401
    import hub.routines  # noqa: F401
    import hub.web.dashboard  # noqa: F401 - the modules the phases use, in the baseline too
    from hub.app import App
    from hub.cli import cli  # noqa: F401
    from hub.delivery.caps import Caps
    from hub.timekeeping.clock import FakeClock

    app = App(config_path)
    store = app.store
    with store.read() as session:
        session.connection().execute(text("SELECT 1"))
    if name == "baseline":
        return "imports, config, store opened"
    if name in ("plan", "next tick"):
        from hub.routines import Routines
        from hub.storage.tables import RoutineStateRow

        with store.read() as session:
            state = session.get(RoutineStateRow, "mañanas")
            assert state is not None and state.next_run_at is not None
            at = state.next_run_at + timedelta(minutes=1)
        reports = Routines(app.config, store, FakeClock(at)).tick()
        stats = reports[-1].stats
        return f"{stats.planned if stats else 0:,} planned, {stats.skipped if stats else 0:,} skipped"
    if name == "send --dry-run":
        _cli(config_path, "send", "--dry-run")
        return "first 10 shown"
    if name == "dispatch":
        from hub.delivery.send import dispatch_due

        report = asyncio.run(dispatch_due(store, app.sink(), caps=Caps.from_config(app.config),
                                          limit=send))
        assert report.sent == send, report
        return f"{report.sent:,} sent, {report.rate:,.0f} msg/s"
    if name == "hub stats":
        _cli(config_path, "stats")
        return "tables"
    if name == "hub status":
        _cli(config_path, "status")
        return ""
    if name == "dashboard":
        from hub.web.pages import _render

        return f"{len(_render(store, app.config.tz)):,} bytes of HTML"
    if name == "metrics":
        from hub.web.metrics import Metrics

        return f"{len(Metrics(store).render()):,} bytes"
    if name == "subscribers list":
        _cli(config_path, "subscribers", "list")
        return "one line each"
    if name == "subscribers export":
        _cli(config_path, "subscribers", "export", "+34600000001")
        return "one person"
    if name == "hub preview":
        _cli(config_path, "preview")
        return ""
    raise SystemExit(f"unknown phase {name!r}")


def child(name: str, config_path: Path, send: int, out: Path) -> None:
    started = time.perf_counter()
    note = run_phase(name, config_path, send)
    out.write_text(json.dumps({"kib": _peak_kib(), "seconds": time.perf_counter() - started,
                               "note": note}), encoding="utf-8")


def measure(name: str, config_path: Path, send: int) -> dict[str, Any]:
    out = config_path.parent / "phase.json"
    out.unlink(missing_ok=True)
    env = {**os.environ, "WHATSAPP_TOKEN": TOKEN}
    done = subprocess.run([sys.executable, __file__, "--phase", name, "--config", str(config_path),
                           "--send", str(send), "--out", str(out)],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:  # shown in the table; the other phases still run
        lines = done.stderr.strip().splitlines() or ["?"]
        last = next((line for line in reversed(lines) if "Error" in line), lines[-1])
        return {"kib": None, "seconds": 0.0, "note": f"FAILED: {last[:120]}"}
    return json.loads(out.read_text(encoding="utf-8"))


def run_size(folder: Path, subscribers: int, send: int, base_url: str) -> dict[str, dict[str, Any]]:
    started = time.perf_counter()
    config_path = seed(folder, subscribers, base_url)
    print(f"  {subscribers:,} subscribers seeded in {time.perf_counter() - started:.1f} s", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for name in PHASES:
        if name == "hub stats":  # the first reading phase: settle the whole run first
            settle(folder / "hub.db")
            add_items(folder / "hub.db", first_slot() + timedelta(hours=12), "b")
        results[name] = measure(name, config_path, send)
        r = results[name]
        print(f"  {name:<20} {_mb(r['kib']):>7} MB  {r['seconds']:6.1f} s  {r['note']}", flush=True)
    return results


def _mb(kib: int | None) -> str:
    return "failed" if kib is None else f"{kib / 1024:.1f}"


def table(sizes: list[int], runs: list[dict[str, dict[str, Any]]]) -> str:
    small, large = sizes[0], sizes[-1]
    head = (f"| phase | {small:,} subscribers: peak RSS | {large:,}: peak RSS | ratio "
            f"| above baseline at {small:,} → {large:,} | same-run baseline (no work) |")
    lines = [head, "|---|---|---|---|---|---|"]
    base_small, base_large = runs[0]["baseline"]["kib"] / 1024, runs[-1]["baseline"]["kib"] / 1024
    for name in PHASES[1:]:
        if runs[0][name]["kib"] is None or runs[-1][name]["kib"] is None:
            lines.append(f"| {name} | {_mb(runs[0][name]['kib'])} MB | {_mb(runs[-1][name]['kib'])} MB "
                         f"| — | {runs[-1][name]['note'] or runs[0][name]['note']} | |")
            continue
        a, b = runs[0][name]["kib"] / 1024, runs[-1][name]["kib"] / 1024
        lines.append(f"| {name} | {a:.1f} MB | {b:.1f} MB | {b / a:.2f}× "
                     f"| {a - base_small:+.1f} → {b - base_large:+.1f} MB "
                     f"| {base_small:.1f} / {base_large:.1f} MB |")
    return "\n".join(lines)


def summary(sizes: list[int], runs: list[dict[str, dict[str, Any]]]) -> list[Row]:
    """One row per phase: peak RSS at the smallest and largest size, flat within 10 %."""
    small, large = sizes[0], sizes[-1]
    base = f"no work: {_mb(runs[0]['baseline']['kib'])} / {_mb(runs[-1]['baseline']['kib'])} MB"
    rows = []
    for name in PHASES[1:]:
        a, b = runs[0][name]["kib"], runs[-1][name]["kib"]
        hub = (f"{a / 1024:.1f} → {b / 1024:.1f} MB ({b / a:.2f}×)" if a and b
               else f"failed: {runs[-1][name]['note'] or runs[0][name]['note']}")
        rows.append(Row(f"peak RSS, {name}: {small:,} → {large:,} subscribers", hub, base,
                        "flat (within 10 %)", bool(a and b and b / a <= 1.10), "memory.py"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--send", type=int, default=10_000,
                        help="deliveries the dispatch phase sends (the same slice at every size)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child(args.phase, args.config, args.send, args.out)
        return
    from hub.simulator.process import SandboxProcess

    sizes = sorted(args.sizes)
    runs = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-memory-") as tmp, \
            SandboxProcess("--latency", "0", "--throughput", "0", token=TOKEN, cwd=Path(tmp)) as sim:
        for size in sizes:
            folder = Path(tmp) / f"s{size}"
            folder.mkdir()
            print(f"{size:,} subscribers:", flush=True)
            runs.append(run_size(folder, size, min(args.send, size), sim.base_url))
    print()
    print(table(sizes, runs))
    emit(summary(sizes, runs))


if __name__ == "__main__":
    main()
