"""Three ``hub run --role worker`` processes on one PostgreSQL outbox vs one, same deliveries.

    .venv/bin/python benchmarks/workers.py [--deliveries 20000] [--url postgresql+psycopg://…]
    .venv/bin/python benchmarks/workers.py --shared-rate 200 [--deliveries 4000]

Prints, for 1 and 3 workers: messages/second end to end, lost and duplicated (by the simulator's
log). With ``--shared-rate R``: three workers each configured with ``rate = R`` for the one phone
number they share, against a simulator that answers 130429 above R a second: the most messages
the simulator accepted in any one-second window, the mean rate (beside R), 130429 answers, lost
and duplicated. Needs a reachable PostgreSQL (default: the local server's `test` database); each
run gets a private schema, dropped afterwards.
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
    parser.add_argument("--shared-rate", type=int, default=None,
                        help="3 workers sharing this rate for one number (checked by the simulator)")
    args = parser.parse_args()
    if args.shared_rate:
        shared_rate(args.url, args.deliveries, args.shared_rate)
        return
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


def shared_rate(url: str, deliveries: int, rate: int) -> None:
    """Three workers, one number, one budget: by the simulator's log, never above ``rate``."""
    with private_schema(url) as schema_url, tempfile.TemporaryDirectory() as folder:
        r = run_workers(Path(folder), schema_url, deliveries, 3, rate=rate, throughput=rate,
                        deadline=900)
    peak, mean = r.most_in_one_second(), r.mean_rate()
    print("| workers | rate each | deliveries | most in any 1 s | mean msg/s | 130429 | lost | duplicated |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| 3 | {rate} | {r.deliveries} | {peak} | {mean:.1f} ({mean / rate:.1%} of {rate}) | "
          f"{r.throttled} | {r.lost} | {r.duplicated} |", flush=True)
    emit([Row(f"3 workers sharing `rate = {rate}` for one number, {r.deliveries:,} deliveries",
              f"most in any 1 s: {peak}; mean {mean:.1f} msg/s; {r.lost} lost, {r.duplicated} duplicated",
              f"the number's rate: {rate}/s", f"≤ {rate} in any 1 s, mean ≥ {0.9 * rate:.0f}, 0 and 0",
              peak <= rate and mean >= 0.9 * rate and r.lost == r.duplicated == 0, "workers.py")])


if __name__ == "__main__":
    main()
