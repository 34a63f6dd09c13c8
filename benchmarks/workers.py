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
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from tests.workers_kit import run_workers  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _schema(url: str) -> tuple[str, str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return name, f"{url}?options=-csearch_path%3D{name}"


def _drop(url: str, name: str) -> None:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20000)
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    print("| workers | deliveries | msg/s | lost | duplicated | per worker |")
    print("|---|---|---|---|---|---|")
    for workers in (1, 3):
        name, url = _schema(args.url)
        try:
            with tempfile.TemporaryDirectory() as folder:
                r = run_workers(Path(folder), url, args.deliveries, workers, deadline=900)
        finally:
            _drop(args.url, name)
        shares = sorted(v for k, v in r.by_worker.items() if k != "None")
        print(f"| {workers} | {r.deliveries} | {r.rate:.0f} | {r.lost} | {r.duplicated} | {shares} |",
              flush=True)


if __name__ == "__main__":
    main()
