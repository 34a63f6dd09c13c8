"""``hub subscribers import`` of a big list, beside a floor measured in the same run (issue 19).

    .venv/bin/python benchmarks/import_bulk.py [--rows 100000]

The list is ``--rows`` distinct Spanish mobile numbers with a name and a topic. The hub's figure
is the whole command as an admin runs it (``hub subscribers import people.csv --consent …`` on a
fresh SQLite store: start-up, parsing, each person and their consent record). The floor does the
least any importer must: read the CSV, parse and validate each number with phonenumbers, and
insert the same rows with one raw ``sqlite3`` ``executemany`` into a table with the same unique
phone column. Target: the hub at ≥ 50 % of the floor's rate.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import phonenumbers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.table import Row, emit  # noqa: E402

HUB = Path(sys.executable).with_name("hub")


def people_csv(rows: int) -> str:
    lines = ["phone,name,topics"]
    lines += [f"+34 6{i * 7919 % 100_000_000:08d},Persona {i},cultura" for i in range(rows)]
    return "\n".join(lines) + "\n"


def floor(text: str, database: Path) -> float:
    """Parse and validate every number, then one executemany of the rows: seconds."""
    started = time.perf_counter()
    now = datetime.now(UTC).isoformat()
    rows = []
    for fields in csv.reader(io.StringIO(text)):
        if fields[0] == "phone":
            continue
        number = phonenumbers.parse(fields[0], None)
        if not phonenumbers.is_valid_number(number):
            continue
        phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
        rows.append((phone, fields[1], json.dumps(fields[2].split()), "active", now, now))
    connection = sqlite3.connect(database)
    connection.execute("CREATE TABLE subscribers (id INTEGER PRIMARY KEY, phone TEXT UNIQUE, name TEXT, "
                       "topics TEXT NOT NULL, status TEXT, created_at TEXT NOT NULL, opted_in_at TEXT)")
    with connection:
        connection.executemany("INSERT INTO subscribers (phone, name, topics, status, created_at, "
                               "opted_in_at) VALUES (?, ?, ?, ?, ?, ?)", rows)
    connection.close()
    return time.perf_counter() - started


def hub_import(folder: Path, csv_path: Path) -> tuple[float, str]:
    (folder / "hub.toml").write_text('[hub]\ndatabase_url = "sqlite:///hub.db"\n', encoding="utf-8")
    started = time.perf_counter()
    done = subprocess.run([str(HUB), "subscribers", "import", str(csv_path), "--consent",
                           "newsletter sign-up form"], cwd=folder, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"hub subscribers import failed: {done.stderr.strip()[-300:]}")
    return took, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    text = people_csv(args.rows)
    with tempfile.TemporaryDirectory(prefix="hub-import-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "people.csv"
        csv_path.write_text(text, encoding="utf-8")
        base = floor(text, folder / "floor.db")
        hub, said = hub_import(folder, csv_path)
    share = base / hub
    print(f"\n### Importing {args.rows:,} people\n")
    print(f"| run | seconds | rows/s |\n|---|---:|---:|\n| floor: phonenumbers + executemany | "
          f"{base:.2f} | {args.rows / base:,.0f} |\n| `hub subscribers import` | {hub:.2f} | "
          f"{args.rows / hub:,.0f} |\n\nhub said: {said}")
    emit([Row(f"`hub subscribers import`, {args.rows:,} rows (each with its consent record)",
              f"{hub:.1f} s, {args.rows / hub:,.0f} rows/s ({share:.0%} of the floor)",
              f"phonenumbers + raw executemany: {base:.1f} s", "≥ 50 % of the floor", share >= 0.5,
              "import_bulk.py")])


if __name__ == "__main__":
    main()
