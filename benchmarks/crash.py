"""Crash test at full size: 5,000 deliveries, ``hub run`` killed with SIGKILL 20 times.

    .venv/bin/python benchmarks/crash.py [--deliveries 5000] [--kills 20] [--postgresql [URL]]
    .venv/bin/python benchmarks/crash.py --worker-kill [--workers 3] [--deliveries 5000] [--postgresql URL]

Counts by the Cloud API simulator's own log of accepted requests: lost (never accepted) and
duplicated (accepted twice). Both must be 0, with the sink's default in-doubt timeout (1 h), and
the last message must leave within 60 s of the last restart. Beside it, from the same run, what
the restarted runs gave back at once: claims never requested, and requested claims whose
request provably never left (not in the dead run's departure journal): without the journal
those waited for the in-doubt hour.

``--worker-kill``: several ``hub run --role worker`` on one PostgreSQL outbox; one is SIGKILLed
mid-send, and the others must send its claims that never left within 30 s (its lease is 10 s).
Loopback only; stops by itself (deadline).
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
from tests.workers_kit import run_workers  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgresql", nargs="?", const=DEFAULT_URL, metavar="URL",
                        help="store on PostgreSQL (default: the local server's test database)")
    parser.add_argument("--worker-kill", action="store_true",
                        help="kill one of several workers on PostgreSQL instead")
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    if args.worker_kill:
        worker_kill(args.postgresql or DEFAULT_URL, args.deliveries, args.workers)
        return
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-crash-"))
        if args.postgresql:  # the hub processes and the counting both follow HUB_DATABASE_URL
            os.environ["HUB_DATABASE_URL"] = stack.enter_context(private_schema(args.postgresql))
        # The sink's default in-doubt timeout (1 h): only requests that may have reached the API
        # wait for a status; claims that never left are sent as soon as the hub is back.
        # Paced at 200/s so that 5,000 sends outlast 20 kills at random moments (at 400/s the
        # outbox was all claimed after 18).
        result = run_crash_scenario(Path(folder), args.deliveries, args.kills, seed=args.seed,
                                    deadline=900, rate=200)
    print("| deliveries | SIGKILLs | accepted once | lost | duplicated | in doubt (1 h) | given back at "
          "once: never requested / requested, never left | last sent after the last restart "
          "| final states | time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    once = sum(1 for n in result.accepted.values() if n == 1)
    print(f"| {result.deliveries} | {result.kills} | {once} | {result.lost} | {result.duplicated} "
          f"| {result.in_doubt} | {result.never_requested} / {result.never_left} | {result.drained:.0f} s "
          f"| {result.states} | {result.seconds:.0f} s |")
    ok = (result.lost == 0 and result.duplicated == 0 and result.kills == args.kills
          and result.drained < 60)
    backend = "PostgreSQL" if args.postgresql else "SQLite"
    emit([Row(f"crash: {result.deliveries:,} deliveries, `hub run` SIGKILLed at random moments, "
              f"in-doubt timeout 1 h (default), {backend}",
              f"{result.kills} kills: {result.lost} lost, {result.duplicated} duplicated, {result.in_doubt} "
              f"in doubt; last sent {result.drained:.0f} s after the last restart ({result.seconds:.0f} s)",
              f"given back at once: {result.never_requested:,} never requested, {result.never_left} "
              "requested that never left (stranded 1 h without the journal)",
              f"0 and 0, {args.kills} kills, < 60 s", ok,
              "crash.py" + (" --postgresql" if args.postgresql else ""))])
    if result.kills < args.kills:
        print(f"only {result.kills} of {args.kills} kills: everything was claimed before the rest")
    sys.exit(0 if ok else 1)


def worker_kill(url: str, deliveries: int, workers: int) -> None:
    """Several workers on one PostgreSQL outbox; one SIGKILLed once a fifth was sent."""
    with private_schema(url) as schema_url, tempfile.TemporaryDirectory() as folder:
        r = run_workers(Path(folder), schema_url, deliveries, workers, rate=200, deadline=600,
                        kill_after=deliveries // 5)
    k = r.killed
    print("| workers | deliveries | killed worker's claims: unrequested / requested | in doubt at the end "
          "| sent by the others within | lost | duplicated |")
    print("|---|---|---|---|---|---|---|")
    if k is None:
        print("the kill did not happen (everything was sent first)")
        sys.exit(1)
    within = f"{k.taken_over:.1f} s" if k.taken_over is not None else "not all sent"
    print(f"| {workers} | {r.deliveries} | {len(k.unrequested)} / {len(k.requested)} | {k.in_doubt} "
          f"| {within} | {r.lost} | {r.duplicated} |", flush=True)
    ok = k.taken_over is not None and k.taken_over <= 30 and r.lost == r.duplicated == 0
    emit([Row(f"{workers} `hub run --role worker` on PostgreSQL, one SIGKILLed, {r.deliveries:,} deliveries",
              f"its {len(k.unrequested)} unrequested and {len(k.requested) - k.in_doubt} requested that "
              f"never left: sent by the others within {within}; {r.lost} lost, {r.duplicated} duplicated",
              "its lease: 10 s", "≤ 30 s, 0 and 0", ok, "crash.py --worker-kill")])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
