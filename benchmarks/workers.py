"""Three ``hub run --role worker`` processes on one PostgreSQL outbox vs one, same deliveries.

    .venv/bin/python benchmarks/workers.py [--deliveries 20000] [--url postgresql+psycopg://…]

Prints, for 1 and 3 workers: messages/second end to end, lost and duplicated (by the simulator's
log). Needs a reachable PostgreSQL (default: the local server's `test` database); each run gets
a private schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pg_schema import DEFAULT_URL, private_schema  # noqa: E402
from benchmarks.table import Row, emit  # noqa: E402
from tests.workers_kit import run_workers  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20000)
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    print("| workers | deliveries | msg/s | lost | duplicated | per worker |")
    print("|---|---|---|---|---|---|")
    results = {}
    for workers in (1, 3):
        with private_schema(args.url) as url, tempfile.TemporaryDirectory() as folder:
            r = run_workers(Path(folder), url, args.deliveries, workers, deadline=900)
        shares = sorted(v for k, v in r.by_worker.items() if k != "None")
        print(f"| {workers} | {r.deliveries} | {r.rate:.0f} | {r.lost} | {r.duplicated} | {shares} |",
              flush=True)
        results[workers] = r
    one, three = results[1], results[3]
    emit([Row(f"3 `hub run --role worker` on one PostgreSQL outbox, {three.deliveries:,} deliveries",
              f"{three.rate:.0f} msg/s, {three.lost} lost, {three.duplicated} duplicated",
              f"1 worker, same pace: {one.rate:.0f} msg/s", "0 and 0",
              three.lost == three.duplicated == one.lost == one.duplicated == 0, "workers.py")])


if __name__ == "__main__":
    main()
