"""Run every benchmark and print one markdown table, each figure beside its same-run baseline.

    .venv/bin/python benchmarks/report.py            # full sizes, about 30 minutes
    .venv/bin/python benchmarks/report.py --quick    # smaller sizes, a few minutes
    .venv/bin/python benchmarks/report.py --only webhook_load.py --only crash.py

Each script runs in its own process, one after the other (they measure throughput: running two
at once would halve both), and ends by printing its rows (``benchmarks/table.py``). Scripts
that need PostgreSQL or wrk say why when those are missing, in the table. docs/benchmarks.md
holds a table made this way, with notes on each figure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.table import HEADER, collect  # noqa: E402

HERE = Path(__file__).resolve().parent

# (script, arguments at full size, arguments with --quick)
RUNS: list[tuple[str, list[str], list[str]]] = [
    ("startup.py", [], ["--runs", "5"]),
    ("poll.py", [], ["--feeds", "100", "--skip-sequential"]),
    ("plan.py", [], ["--subscribers", "20000"]),
    ("import_bulk.py", [], ["--rows", "20000"]),
    ("dispatch.py", [], []),
    ("webhook.py", [], ["--posts", "300"]),
    ("webhook_load.py", [], ["--seconds", "4"]),
    ("webhook_load.py", ["--postgresql"], ["--postgresql", "--seconds", "4"]),
    ("crash.py", [], ["--deliveries", "1000", "--kills", "5"]),
    ("crash.py", ["--postgresql"], ["--postgresql", "--deliveries", "1000", "--kills", "5"]),
    ("crash.py", ["--worker-kill"], ["--worker-kill", "--deliveries", "2000"]),
    ("optout.py", [], ["--people", "500"]),
    ("optout.py", ["--postgresql"], ["--postgresql", "--people", "500"]),
    ("workers.py", [], ["--deliveries", "3000"]),
    ("memory.py", [], ["--sizes", "10000", "100000", "--send", "5000"]),
    ("migrations.py", [], ["--stores", "10", "--deliveries", "20000"]),
]


def run(script: str, arguments: list[str]) -> list[str]:
    """The rows one script printed, or one row saying why it printed none."""
    command = [sys.executable, str(HERE / script), *arguments]
    started = time.monotonic()
    print(f"running {script} {' '.join(arguments)}", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    print(f"  {time.monotonic() - started:.0f} s, exit {done.returncode}", file=sys.stderr, flush=True)
    rows = collect(done.stdout)
    if rows:
        return rows
    last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
    name = " ".join([script, *arguments])
    return [f"| {name} | not run: {last.replace('|', '/')[:200]} | — | — | — | `{script}` |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a look, not the figures")
    parser.add_argument("--only", action="append", metavar="SCRIPT", help="run only this script")
    args = parser.parse_args()
    rows = []
    for script, full, quick in RUNS:
        if args.only and script not in args.only:
            continue
        rows += run(script, quick if args.quick else full)
    print(HEADER)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
