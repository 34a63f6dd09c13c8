"""Poll 500 feeds served with a 200 ms delay, and compare with the baselines, in one run.

    .venv/bin/python benchmarks/poll.py [--feeds 500] [--delay 0.2]

Each feed is a real WordPress RSS feed from ../shared/fixtures (its links made unique per feed),
served with ETags by a loopback server in a child process. The server listens on several ports
so the hub's per-host limit (4 at a time, per scheme/host/port) allows every feed at once, as it
would with 500 different sites. Printed, all measured in this run:

  (a) sequential fetch-and-parse, one feed after the other, the way rss2email does it
  (b) feedparser alone, parsing the 500 bodies from memory (its default settings)
  (c) the hub's cold poll: fetch, parse, normalise, filter and store every item
  (d) the hub's warm poll: every feed answers 304

(c) and (d) run with the filters a real config lists (dedup, relevance, guard) unless
``--filter`` names others (repeatable; ``--filter none``). ``--skip-sequential`` leaves (a) out.

Targets: (c) ≤ 1.25 × (b) + 1 s; (d) < 2 s and ≥ 50 × faster than (a). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import feedparser  # noqa: E402
import httpx  # noqa: E402

from benchmarks.table import Row, emit  # noqa: E402
from hub.app import App  # noqa: E402
from hub.intake.pipeline import poll_once  # noqa: E402
from hub.loopback import Document, LoopbackServer  # noqa: E402

FIXTURE = REPO.parent / "shared" / "fixtures" / "feeds" / "wordpress_natashatherobot.rss.xml"
PER_PORT = 4  # the hub's default per-host limit
REAL_FILTERS = ("dedup", "relevance", "guard")  # what starter.toml and real configs list


def feed_bodies(count: int) -> list[bytes]:
    base = FIXTURE.read_bytes()
    return [base.replace(b"www.natashatherobot.com", f"site{i}.natashatherobot.com".encode())
            for i in range(count)]


def serve(count: int, delay: float, ports_out: mp.Queue, stop: mp.Event, stats_out: mp.Queue) -> None:
    """Child process: serve every feed until told to stop, then report the peak connections."""
    bodies = feed_bodies(count)
    ports = (count + PER_PORT - 1) // PER_PORT
    with LoopbackServer(delay=delay, ports=ports) as server:
        for i, body in enumerate(bodies):
            server.documents[f"/feed/{i}.xml"] = Document(body)
        ports_out.put(server.ports)
        stop.wait(900)
        stats_out.put((len(server.requests), server.peak_connections, server.peak_in_flight))


def feed_urls(ports: list[int], count: int) -> list[str]:
    return [f"http://127.0.0.1:{ports[i // PER_PORT]}/feed/{i}.xml" for i in range(count)]


def sequential(urls: list[str]) -> float:
    """(a): one client, one feed at a time, fetch then parse, like rss2email's loop."""
    started = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        for url in urls:
            response = client.get(url)
            parsed = feedparser.parse(response.content, response_headers={"content-location": url})
            assert parsed.entries
    return time.perf_counter() - started


def feedparser_alone(bodies: list[bytes]) -> float:
    """(b): feedparser, default settings, every body from memory."""
    started = time.perf_counter()
    for body in bodies:
        assert feedparser.parse(body).entries
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU used by this process."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def write_config(folder: Path, urls: list[str], filters: list[str] | None = None) -> Path:
    lines = ['[hub]\ndatabase_url = "sqlite:///hub.db"\n']
    for i, url in enumerate(urls):
        lines.append(f'[[sources]]\ntype = "rss"\nname = "feed{i}"\nurl = "{url}"\nallow_private = true\n')
    for name in filters or []:
        lines.append(f'[[filters]]\ntype = "{name}"\n')
    path = folder / "hub.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def hub_poll(app: App, workers: int | None) -> tuple[float, object]:
    started = time.perf_counter()
    report = asyncio.run(poll_once(app.config, app.store, app.registry, force=True, workers=workers))
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--filter", action="append", default=None,
                        help="a filter type for (c) and (d), repeatable; default: the filters a real "
                             f"config uses ({', '.join(REAL_FILTERS)}); --filter none for none")
    parser.add_argument("--skip-sequential", action="store_true",
                        help="skip (a) (over two minutes); (d)'s ratio to (a) is then not printed")
    parser.add_argument("--workers", type=int, default=None,
                        help="parsing processes (default: the hub's own choice, one per core)")
    args = parser.parse_args()
    filters = [f for f in (args.filter or REAL_FILTERS) if f != "none"]
    if not FIXTURE.exists():
        sys.exit(f"{FIXTURE} is absent: this benchmark needs the shared fixtures")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))

    ctx = mp.get_context("fork")
    ports_q, stats_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(args.feeds, args.delay, ports_q, stop, stats_q), daemon=True)
    server.start()
    try:
        ports = ports_q.get(timeout=60)
        urls = feed_urls(ports, args.feeds)
        bodies = feed_bodies(args.feeds)
        size = len(bodies[0])
        print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        print(f"{args.feeds} feeds of {size / 1024:.0f} KB ({FIXTURE.name}), {args.delay * 1000:.0f} ms "
              f"server delay, {len(ports)} loopback ports, {os.cpu_count()} CPU(s)")

        a = None if args.skip_sequential else sequential(urls)
        print(f"(a) sequential fetch+parse (rss2email style): {a:8.2f} s" if a is not None else
              "(a) sequential fetch+parse (rss2email style):  skipped")
        cpu = cpu_seconds()
        b = feedparser_alone(bodies)
        print(f"(b) feedparser alone, bodies from memory:     {b:8.2f} s   cpu {cpu_seconds() - cpu:.1f} s")

        with tempfile.TemporaryDirectory() as folder:
            app = App(write_config(Path(folder), urls, filters))
            app.store  # noqa: B018 - create the tables outside the timing
            c, cold = hub_poll(app, args.workers)
            stored = sum(s.stored + s.dropped + s.seen for s in cold.sources)
            errors = [s.error for s in cold.sources if s.error]
            print(f"(c) hub cold poll (fetch, parse, store):      {c:8.2f} s   "
                  f"filters: {', '.join(filters) or 'none'}; "
                  f"{stored} items stored, {len(errors)} errors")
            d, warm = hub_poll(app, args.workers)
            unchanged = sum(s.not_modified for s in warm.sources)
            print(f"(d) hub warm poll (all 304):                  {d:8.2f} s   {unchanged} not modified")
            if errors:
                print("    first error:", errors[0])
            app.store.dispose()
    finally:
        stop.set()
        requests, peak_conn, peak_flight = stats_q.get(timeout=30)
        server.join(10)

    print("load average at end:   {:.2f} {:.2f} {:.2f} (other work on this machine moves the figures)"
          .format(*os.getloadavg()))
    print(f"server: {requests} requests, peak {peak_conn} open connections, "
          f"peak {peak_flight} requests in flight")
    target_c = 1.25 * b + 1
    print(f"target (c) <= 1.25*(b)+1 s = {target_c:.2f} s: {'MET' if c <= target_c else 'MISSED'} "
          f"((c)/(b) = {c / b:.2f})")
    ratio = (f"(a)/(d) = {a / d:.0f}x (target >= 50x: {'MET' if a / d >= 50 else 'MISSED'})"
             if a is not None else "(a) skipped")
    print(f"target (d) < 2 s: {'MET' if d < 2 else 'MISSED'}; {ratio}")
    emit([Row(f"cold poll of {args.feeds} feeds ({args.delay * 1000:.0f} ms server delay), filters: "
              f"{', '.join(filters) or 'none'}", f"{c:.2f} s", f"feedparser alone on the bodies: {b:.2f} s",
              "≤ 1.25 × baseline + 1 s", c <= target_c, "poll.py"),
          Row("warm poll, all 304", f"{d:.2f} s",
              f"sequential fetch+parse (rss2email style): {a:.1f} s" if a is not None else "skipped",
              "< 2 s, ≥ 50× faster", d < 2 and (a is None or a / d >= 50), "poll.py")])


if __name__ == "__main__":
    main()
