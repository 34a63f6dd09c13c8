"""How long the ``hub`` command takes to start, beside rss2email's ``r2e --version`` (issue 19).

    .venv/bin/python benchmarks/startup.py [--runs 9]

rss2email is installed into a temporary venv of this script's own (pip, from whatever index pip
is configured with); when that fails the rows say why and show the hub's figures alone. Each
command runs ``--runs`` times, interleaved with ``r2e --version`` so that both see the same
machine, and the median counts:

- ``hub --version`` and ``hub --help``: target ≤ 0.4 s;
- a command's fixed start-up, ``hub check`` on a one-source hub.toml (the config read and
  validated against the plugins, nothing fetched), and ``hub sources`` (the same, plus opening
  the SQLite store, made on the warm-up run): target ≤ 2× ``r2e --version``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.table import Row, emit  # noqa: E402

HUB = Path(sys.executable).with_name("hub")
CONFIG = """[hub]
database_url = "sqlite:///hub.db"

[[sources]]
type = "rss"
name = "blog"
url = "https://blog.example.org/feed.xml"

[sinks.console]
"""


def install_rss2email(folder: Path) -> tuple[Path | None, str]:
    """``r2e`` in a fresh venv under ``folder``, or None and why not."""
    venv = folder / "r2e-venv"
    steps = ([sys.executable, "-m", "venv", str(venv)],
             [str(venv / "bin" / "pip"), "install", "--quiet", "rss2email"])
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"could not install rss2email: {exc}"
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            return None, f"could not install rss2email: {last[:160]}"
    r2e = venv / "bin" / "r2e"
    return (r2e, "") if r2e.exists() else (None, "rss2email installed no r2e script")


def seconds(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of each command (median counts)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hub-startup-") as tmp:
        folder = Path(tmp)
        (folder / "hub.toml").write_text(CONFIG, encoding="utf-8")
        r2e, why = install_rss2email(folder)
        commands = {"hub --version": [str(HUB), "--version"], "hub --help": [str(HUB), "--help"],
                    "hub check": [str(HUB), "check"], "hub sources": [str(HUB), "sources"]}
        if r2e is not None:
            commands["r2e --version"] = [str(r2e), "--version"]
        for command in commands.values():
            seconds(command, folder)  # warm the file cache (and check it runs) once
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(seconds(command, folder))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n### Start-up, median of {args.runs} runs, interleaved\n")
    print("| command | median s | fastest s | slowest s |\n|---|---:|---:|---:|")
    for name, values in times.items():
        print(f"| `{name}` | {medians[name]:.3f} | {min(values):.3f} | {max(values):.3f} |")
    if why:
        print(f"\nrss2email: {why}")
    peer = medians.get("r2e --version")
    baseline = f"`r2e --version` {peer:.2f} s" if peer is not None else f"rss2email skipped: {why}"
    rows = [Row(f"`{name}`, median of {args.runs}", f"{medians[name]:.2f} s", baseline, "≤ 0.4 s",
                medians[name] <= 0.4, "startup.py")
            for name in ("hub --version", "hub --help")]
    for name, what in (("hub check", "reads hub.toml"), ("hub sources", "also opens the store")):
        took = medians[name]
        rows.append(Row(f"a command's fixed start-up (`{name}`: {what}), median of {args.runs}",
                        f"{took:.2f} s" + (f" ({took / peer:.1f}× r2e)" if peer else ""), baseline,
                        "≤ 2× `r2e --version`", took <= 2 * peer if peer else None, "startup.py"))
    emit(rows)


if __name__ == "__main__":
    main()
