"""Plan one routine run for many subscribers, beside a raw ``sqlite3`` ``executemany`` baseline.

    .venv/bin/python benchmarks/plan.py [--subscribers 100000]

For each size: the hub's planning (stream subscribers a page at a time, match topics, apply the
daily cap against their history, render the digest once per distinct content, insert in chunks,
commit) is timed against a raw ``executemany`` of exactly the rows it wrote, into a fresh file
with the same schema, committed — measured in the same run. Target: within 1.5x of the raw insert.
Peak memory (resident, per phase, 10k vs 1M subscribers) is ``benchmarks/memory.py``'s job.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.table import Row, emit  # noqa: E402
from hub.delivery.caps import Caps  # noqa: E402
from hub.delivery.plan import RunPlan, plan_run  # noqa: E402
from hub.storage.store import Store  # noqa: E402
from hub.storage.tables import ItemRow  # noqa: E402

NOW = datetime(2026, 10, 12, 7, 30, tzinfo=UTC)
TOPIC_SETS = [[], ["deportes"], ["cultura"], ["municipal"], ["deportes", "cultura"]]


def _fresh_store(folder: Path, name: str) -> tuple[Store, Path]:
    path = folder / name
    return Store(f"sqlite:///{path}"), path


def _seed(store: Store, path: Path, subscribers: int) -> list[ItemRow]:
    rng = random.Random(1)
    with store.write() as session:
        items = [ItemRow(source="diario", guid=f"g{n}", url=f"https://villa.example.org/{n}/",
                         title=f"Noticia {n} del día", summary="Resumen.", tags=[tag],
                         status="ready", fetched_at=NOW, ready_at=NOW, published_at=NOW)
                 for n, tag in enumerate(["Deportes", "cultura", "municipal"])]
        session.add_all(items)
    store.dispose()
    stamp = NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO subscribers (id, phone, status, topics, created_at, opted_in_at, "
        "marketing_stopped, rhythm) VALUES (?, ?, 'active', ?, ?, ?, 0, 'normal')",
        ((n, f"34{600000000 + n}", json.dumps(rng.choice(TOPIC_SETS)), stamp, stamp)
         for n in range(1, subscribers + 1)))
    db.commit()
    db.close()
    return items


def _plan(store: Store, items: list[ItemRow]) -> tuple[float, int]:
    caps = Caps(tz=ZoneInfo("Europe/Madrid"), per_day=2)
    started = time.perf_counter()
    with store.write() as session:
        stats = plan_run(session, RunPlan(routine="mañanas", run_id=1, mode="digest", items=items,
                                          now=NOW, caps=caps))
    return time.perf_counter() - started, stats.rows


def _raw_baseline(folder: Path, planned_path: Path) -> tuple[float, int]:
    """The same rows, pre-built as tuples, written by raw executemany into an identical schema."""
    source = sqlite3.connect(planned_path)
    columns = [row[1] for row in source.execute("PRAGMA table_info(deliveries)") if row[1] != "id"]
    rows = source.execute(f"SELECT {', '.join(columns)} FROM deliveries ORDER BY id").fetchall()
    source.close()
    store, path = _fresh_store(folder, "raw.db")
    store.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    sql = f"INSERT INTO deliveries ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    started = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.executemany(sql, rows)
    db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed, len(rows)


def measure(subscribers: int, repeats: int = 3) -> Row:
    """Best of ``repeats`` for each side, alternating, so a busy disk hurts both alike."""
    best_plan = best_raw = float("inf")
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="hub-bench-plan-") as tmp:
            folder = Path(tmp)
            store, path = _fresh_store(folder, "plan.db")
            items = _seed(store, path, subscribers)
            store = Store(f"sqlite:///{path}")
            planned, rows = _plan(store, items)
            store.dispose()
            raw, raw_rows = _raw_baseline(folder, path)
            assert rows == raw_rows == subscribers, (rows, raw_rows)
            best_plan, best_raw = min(best_plan, planned), min(best_raw, raw)
    print(f"{subscribers:>7} subscribers: plan {best_plan * 1000:7.0f} ms "
          f"({subscribers / best_plan:,.0f} rows/s) | raw executemany {best_raw * 1000:7.0f} ms | "
          f"ratio {best_plan / best_raw:4.2f}x (target <= 1.5x; best of {repeats})")
    return Row(f"plan one routine run, {subscribers:,} subscribers (SQLite)", f"{best_plan * 1000:,.0f} ms",
               f"raw sqlite3 executemany of the same rows: {best_raw * 1000:,.0f} ms", "≤ 1.5×",
               best_plan / best_raw <= 1.5, "plan.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    args = parser.parse_args()
    emit([measure(size) for size in sorted({10_000, args.subscribers})])


if __name__ == "__main__":
    main()
