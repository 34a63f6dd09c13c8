"""What schema versioning costs at open, and what revision 0002's index buys, each beside a baseline.

    .venv/bin/python benchmarks/migrations.py [--stores 40] [--deliveries 200000]

1. Opening a store on an empty SQLite file, interleaved in one run: the baseline is main's open
   (create_all on the store's engine); beside it the hub's open now (create_all + stamp head under
   the schema lock), running every Alembic migration instead, and reopening a store at head.
2. The opt-out query (``audience.skip_planned``: one person's planned deliveries) on a table where
   each person has a long history: with only ``ix_deliveries_subscriber_id`` (revision 0001, the
   baseline) and with ``ix_deliveries_subscriber_status`` (0002), same file, same run.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import SQLModel  # noqa: E402

from benchmarks.table import Row, emit  # noqa: E402
from hub.storage import migrate  # noqa: E402
from hub.storage.store import Store  # noqa: E402


def opening(folder: Path, stores: int) -> Row:
    Store(f"sqlite:///{folder / 'warm.db'}").dispose()  # imports and the script directory, once
    times: dict[str, list[float]] = {"baseline: main's create_all": [], "hub now: create_all + stamp": [],
                                     "every Alembic migration": [], "reopen at head": []}
    for i in range(stores):
        t = time.perf_counter()
        store = Store(f"sqlite:///{folder / f'main{i}.db'}", create=False)
        SQLModel.metadata.create_all(store.engine)
        store.dispose()
        times["baseline: main's create_all"].append(time.perf_counter() - t)
        t = time.perf_counter()
        Store(f"sqlite:///{folder / f'now{i}.db'}").dispose()
        times["hub now: create_all + stamp"].append(time.perf_counter() - t)
        t = time.perf_counter()
        store = Store(f"sqlite:///{folder / f'alembic{i}.db'}", create=False)
        migrate.upgrade(store.engine)
        store.dispose()
        times["every Alembic migration"].append(time.perf_counter() - t)
        t = time.perf_counter()
        Store(f"sqlite:///{folder / f'now{i}.db'}").dispose()
        times["reopen at head"].append(time.perf_counter() - t)
    print(f"\n### Opening a store on an empty SQLite file ({stores} each, interleaved)\n")
    print("| open | median ms | p90 ms |\n|---|---:|---:|")
    for name, values in times.items():
        p90 = sorted(values)[int(len(values) * 0.9)]
        print(f"| {name} | {statistics.median(values) * 1000:.1f} | {p90 * 1000:.1f} |")
    now = statistics.median(times["hub now: create_all + stamp"]) * 1000
    before = statistics.median(times["baseline: main's create_all"]) * 1000
    return Row("opening a store on an empty SQLite file (create_all + Alembic stamp)", f"{now:.1f} ms",
               f"create_all alone: {before:.1f} ms", "", None, "migrations.py")


def opt_out_query(folder: Path, deliveries: int) -> None:
    path = folder / "optout.db"
    store = Store(f"sqlite:///{path}")
    store.dispose()
    db = sqlite3.connect(path)
    people = 200
    db.executemany("INSERT INTO subscribers (id, phone, status, topics, created_at, marketing_stopped,"
                   " rhythm) VALUES (?, ?, 'active', '[]', '2026-01-01', 0, 'normal')",
                   [(p, f"3460{p:07d}") for p in range(1, people + 1)])
    # A long history per person, a handful still planned: what an opt-out after months looks like.
    db.executemany("INSERT INTO deliveries (key, subscriber_id, body, status, attempts, created_at, due_at,"
                   " force_template) VALUES (?, ?, '{}', ?, 0, '2026-01-01', '2026-01-01', 0)",
                   [(f"k{n}", n % people + 1, "planned" if n % 500 == 0 else "read")
                    for n in range(deliveries)])
    db.commit()
    query = "SELECT id FROM deliveries WHERE subscriber_id = ? AND status = 'planned'"
    results = {}
    for label in ("baseline: 0001, subscriber_id index", "0002: (subscriber_id, status) index"):
        if label.startswith("baseline"):
            db.execute("DROP INDEX ix_deliveries_subscriber_status")
        else:
            db.execute("CREATE INDEX ix_deliveries_subscriber_status ON deliveries (subscriber_id, status)")
        db.execute("ANALYZE")
        plan = db.execute("EXPLAIN QUERY PLAN " + query, (1,)).fetchall()[-1][-1]
        t = time.perf_counter()
        for p in range(1, people + 1):
            db.execute(query, (p,)).fetchall()
        results[label] = ((time.perf_counter() - t) / people * 1e6, plan)
    db.close()
    print(f"\n### Opt-out: one person's planned deliveries ({deliveries:,} rows, "
          f"{deliveries // people:,} per person)\n")
    print("| index | µs per person | plan |\n|---|---:|---|")
    for label, (micros, plan) in results.items():
        print(f"| {label} | {micros:.0f} | {plan} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--deliveries", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        row = opening(Path(folder), args.stores)
        opt_out_query(Path(folder), args.deliveries)
    emit([row])


if __name__ == "__main__":
    main()
