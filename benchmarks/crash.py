"""Crash test at full size: 5,000 deliveries, ``hub run`` killed with SIGKILL 20 times.

    .venv/bin/python benchmarks/crash.py [--deliveries 5000] [--kills 20] [--postgresql [URL]]

Counts by the Cloud API simulator's own log of accepted requests: lost (never accepted) and
duplicated (accepted twice). Both must be 0. Loopback only; stops by itself (deadline).
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
from tests.crash_kit import run_crash_scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgresql", nargs="?", const=DEFAULT_URL, metavar="URL",
                        help="store on PostgreSQL (default: the local server's test database)")
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-crash-"))
        if args.postgresql:  # the hub processes and the counting both follow HUB_DATABASE_URL
            os.environ["HUB_DATABASE_URL"] = stack.enter_context(private_schema(args.postgresql))
        # The sink's default in-doubt timeout (1 h): only requests that may have reached the API
        # wait for a status; claims never requested are sent as soon as the hub is back.
        # Paced at 200/s so that 5,000 sends outlast 20 kills at random moments (at 400/s the
        # outbox was all claimed after 18).
        result = run_crash_scenario(Path(folder), args.deliveries, args.kills, seed=args.seed,
                                    deadline=900, rate=200)
    print("| deliveries | SIGKILLs | accepted once | lost | duplicated | in doubt (1 h) | last sent after "
          "the last restart | final states | time |")
    print("|---|---|---|---|---|---|---|---|---|")
    once = sum(1 for n in result.accepted.values() if n == 1)
    print(f"| {result.deliveries} | {result.kills} | {once} | {result.lost} | {result.duplicated} "
          f"| {result.in_doubt} | {result.drained:.0f} s | {result.states} | {result.seconds:.0f} s |")
    ok = (result.lost == 0 and result.duplicated == 0 and result.kills == args.kills
          and result.drained < 60)
    emit([Row(f"crash: {result.deliveries:,} deliveries, `hub run` SIGKILLed at random moments"
              + (", PostgreSQL" if args.postgresql else ", SQLite"),
              f"{result.kills} kills: {result.lost} lost, {result.duplicated} duplicated; {result.states} "
              f"({result.seconds:.0f} s)", "", f"0 and 0, {args.kills} kills", ok,
              "crash.py" + (" --postgresql" if args.postgresql else ""))])
    if result.kills < args.kills:
        print(f"only {result.kills} of {args.kills} kills: everything was claimed before the rest")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
