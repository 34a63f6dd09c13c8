"""BAJA at once under load: 2,000 people at 100/s and 400/s, signed BAJAs ahead of the send front.

    .venv/bin/python benchmarks/optout.py [--people 2000] [--rates 100 400] [--postgresql [URL]]

Judged by the Cloud API simulator's own log: news requests that reached a person after the
webhook had answered 200 to their BAJA. Must be 0. The same-run figure beside it shows that the
BAJAs really raced the send front: how many of those people's news reached them in the last
second *before* their 200 (a BAJA far from the front would prove nothing). Loopback only; stops
by itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pg_schema import DEFAULT_URL, private_schema  # noqa: E402
from benchmarks.table import Row, emit  # noqa: E402
from tests.optout_kit import run_optout_scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--postgresql", nargs="?", const=DEFAULT_URL, metavar="URL",
                        help="store on PostgreSQL (default: the local server's test database)")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.postgresql else "SQLite"
    print("| backend | people | rate | BAJAs answered 200 | news after a BAJA's 200 | news within 1 s before "
          "the 200 | news sent | time |")
    print("|---|---|---|---|---|---|---|---|")
    rows, ok = [], True
    for rate in args.rates:
        with ExitStack() as stack:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-optout-"))
            if args.postgresql:
                os.environ["HUB_DATABASE_URL"] = stack.enter_context(private_schema(args.postgresql))
            result = run_optout_scenario(Path(folder), args.people, rate, deadline=600)
        late = f"{result.after_baja}" + (f" (up to {max(result.late):.2f} s)" if result.late else "")
        close = sum(1 for gap in result.early if gap <= 1.0)
        print(f"| {backend} | {result.people} | {rate}/s | {result.bajas} | {late} | {close} | {result.news} "
              f"| {result.seconds:.0f} s |")
        ok = ok and result.after_baja == 0 and result.bajas > 0
        rows.append(Row(f"BAJA under load: {result.people:,} people at {rate}/s, {backend}",
                        f"{result.after_baja} news after {result.bajas} BAJAs' 200",
                        f"{close} of them got news in the second before their 200 (the front was there)",
                        "0", result.after_baja == 0, "optout.py"
                        + (" --postgresql" if args.postgresql else "")))
    emit(rows)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
