"""Signed status webhooks stored per second under wrk, beside an endpoint that stores nothing.

A 1,000 msg/s broadcast brings back about three statuses per message (sent, delivered, read):
the goal is ≥ 3,000 statuses/s stored durably (committed before the 200). The hub is the real
``hub serve`` in its own process, on a SQLite file; wrk (Debian's package ``wrk``) is the load
generator, in another process, each request a distinct signed status of a stored delivery.
Baseline, same run, same uvicorn settings, same requests: an endpoint that checks the signature
and parses the JSON (the hub's own parser) but stores nothing.

    .venv/bin/python benchmarks/webhook_load.py [--seconds 8] [--connections 64] [--postgresql [URL]]

With ``--postgresql`` the store is a private schema on the local PostgreSQL (or URL) instead.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlmodel import func, select  # noqa: E402

from benchmarks.pg_schema import DEFAULT_URL, private_schema  # noqa: E402
from benchmarks.table import Row, emit  # noqa: E402
from benchmarks.webhook import SECRET, baseline_app, seed, status_body  # noqa: E402
from hub.storage.store import Store  # noqa: E402
from hub.storage.tables import DeliveryRow, StatusEventRow  # noqa: E402
from hub.web.signature import sign  # noqa: E402

DELIVERIES = 40_000  # 120,000 distinct statuses: more than one run can post
LUA = """
local requests, next_one = {}, 0
function init(args)
  for line in io.lines(args[1]) do
    local signature, body = line:match("^(%S+) (.*)$")
    requests[#requests + 1] = wrk.format("POST", args[2], {
      ["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = signature}, body)
  end
end
function request()
  next_one = next_one % #requests + 1
  return requests[next_one]
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(command: list[str], port: int, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Start a server process and wait until its port answers; stop it afterwards."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise SystemExit(f"{command[0]} exited with {process.returncode}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        process.terminate()
        process.wait(timeout=20)


def wrk(url: str, requests_file: Path, script: Path, seconds: int, connections: int) -> dict[str, float]:
    """Run wrk with one thread; its requests/s, count, duration and non-2xx/socket errors."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url,
         "--", str(requests_file), "/webhook"], capture_output=True, text=True, check=True).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if not done:
        raise SystemExit(f"wrk said:\n{out}")
    duration = float(done.group(2)) / (1000 if done.group(3) == "ms" else 1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    return {"requests": int(done.group(1)), "seconds": duration,
            "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
            "p50_ms": _ms(p50), "p99_ms": _ms(p99)}


def _ms(match: re.Match[str] | None) -> float:
    if match is None:
        return float("nan")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


def write_requests(path: Path, deliveries: int) -> None:
    """sent, delivered, read for each delivery, one signed post per line."""
    with path.open("w") as out:
        for index in range(deliveries):
            for state in ("sent", "delivered", "read"):
                body = status_body(index, state)
                out.write(f"{sign(body, SECRET)} {body.decode()}\n")


def serve_baseline(port: int) -> None:
    import uvicorn

    uvicorn.run(baseline_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--postgresql", nargs="?", const=DEFAULT_URL, metavar="URL",
                        help="store on PostgreSQL (default: the local server's test database)")
    parser.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        return serve_baseline(args.serve_baseline)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    hub = Path(sys.executable).with_name("hub")
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-load-")))
        url = (stack.enter_context(private_schema(args.postgresql)) if args.postgresql
               else f"sqlite:///{folder / 'hub.db'}")
        port = free_port()
        (folder / "hub.toml").write_text(f'[hub]\ndatabase_url = "{url}"\n\n'
                                         f'[webhook]\nport = {port}\n', encoding="utf-8")
        store = Store(url)
        seed(store, datetime.now(UTC), deliveries=DELIVERIES, people=DELIVERIES // 5)
        store.dispose()
        requests_file, script = folder / "requests.txt", folder / "post.lua"
        write_requests(requests_file, DELIVERIES)
        script.write_text(LUA, encoding="utf-8")
        env = {**os.environ, "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_VERIFY_TOKEN": "bench"}
        base_port = free_port()
        baseline_command = [sys.executable, __file__, "--serve-baseline", str(base_port)]
        with running(baseline_command, base_port, folder, env) as endpoint:
            httpx.post(endpoint, content=b"{}")  # warm
            baseline = wrk(endpoint, requests_file, script, args.seconds, args.connections)
        serve = [str(hub), "--config", "hub.toml", "serve", "--no-send"]
        with running(serve, port, folder, env) as endpoint:
            hub_figures = wrk(endpoint, requests_file, script, args.seconds, args.connections)
        store = Store(url)
        with store.read() as session:
            stored = session.exec(select(func.count()).select_from(StatusEventRow)).one()
            states = dict(session.exec(select(DeliveryRow.status, func.count())
                                       .group_by(DeliveryRow.status)).all())
        store.dispose()
    stored_rate = stored / hub_figures["seconds"]
    base_rate = baseline["requests"] / baseline["seconds"]
    print(f"signed status webhooks, wrk -t1 -c{args.connections} -d{args.seconds}s, "
          f"{DELIVERIES:,} deliveries stored, {'PostgreSQL' if args.postgresql else 'SQLite file'}, "
          "server in its own process")
    print(f"baseline (signature + JSON, stores nothing): {base_rate:8,.0f} req/s   "
          f"p50 {baseline['p50_ms']:.1f} ms  p99 {baseline['p99_ms']:.1f} ms  "
          f"non-2xx {baseline['non2xx']:.0f}  socket errors {baseline['socket_errors']:.0f}")
    print(f"hub serve (stored, applied, committed):      "
          f"{hub_figures['requests'] / hub_figures['seconds']:8,.0f} req/s   "
          f"p50 {hub_figures['p50_ms']:.1f} ms  p99 {hub_figures['p99_ms']:.1f} ms  "
          f"non-2xx {hub_figures['non2xx']:.0f}  socket errors {hub_figures['socket_errors']:.0f}")
    print(f"status events stored: {stored:,} ({stored_rate:,.0f}/s, {stored_rate / base_rate:.0%} "
          f"of the baseline); deliveries by state: {states}")
    met = stored_rate >= 3000 and hub_figures["non2xx"] == 0
    print("goal (≥ 3,000 statuses/s stored, every post answered 2xx): " + ("met" if met else "NOT met"))
    backend = "PostgreSQL" if args.postgresql else "SQLite file"
    emit([Row(f"signed status webhooks stored/s under wrk -t1 -c{args.connections}, `hub serve`, {backend}, "
              "committed before each 200",
              f"{stored_rate:,.0f}/s ({hub_figures['non2xx']:.0f} non-2xx, "
              f"p99 {hub_figures['p99_ms']:.0f} ms)",
              f"signature + JSON, stores nothing: {base_rate:,.0f} req/s", "≥ 3,000/s", met,
              "webhook_load.py" + (" --postgresql" if args.postgresql else ""))])


if __name__ == "__main__":
    main()
