"""``hub run``: one asyncio loop that polls, ticks the routines, dispatches and serves HTTP.

Roles split the work across processes: ``scheduler`` polls sources and plans routine runs,
``worker`` sends the outbox, ``all`` does both; every role serves the webhook, ``/healthz``,
``/metrics`` and ``/dashboard``. The first SIGTERM or SIGINT stops taking new work, lets the
requests in flight finish (for at most ``grace`` seconds), releases the claims not yet sent,
commits and exits 0; a second signal exits at once — every write is a committed transaction,
so the store is never left half-written, and a claim cut off mid-request is settled from its
status webhook like any claim in doubt.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import schedule
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from hub.app import App
from hub.cloudapi.templates import uses_from_config
from hub.contracts import Sink
from hub.delivery import template_status
from hub.delivery.caps import Caps
from hub.delivery.paid_gate import paid_gate_for
from hub.delivery.send import dispatch_due
from hub.delivery.timed_sink import TimedSink
from hub.errors import ConfigError
from hub.intake.pipeline import PollReport, poll_once
from hub.leader import Leadership
from hub.routines import Routines, attach
from hub.storage.store import safe_url
from hub.timekeeping.clock import Clock, SystemClock
from hub.web.invite_section import invite_section
from hub.web.metrics import Metrics
from hub.web.pages import ops_routes

log = logging.getLogger("hub.run")

ROLES = ("all", "scheduler", "worker")


@dataclass
class DaemonOptions:
    """How ``hub run`` was asked to run."""

    role: str = "all"
    host: str | None = None
    port: int | None = None
    poll_every: float = 15.0  # seconds between two looks at which sources are due
    routine_every: int = 30  # seconds between two routine ticks (the `schedule` job)
    dispatch_idle: float = 1.0  # seconds to wait when nothing was due
    grace: float = 8.0  # seconds in-flight sends get after the first signal
    json_logs: bool = False  # the start screen too becomes one JSON log line


class Daemon:
    """Everything ``hub run`` does, in one event loop."""

    def __init__(self, app: App, options: DaemonOptions, clock: Clock | None = None) -> None:
        if options.role not in ROLES:
            raise ConfigError(f"unknown role {options.role!r}", hint=f"one of: {', '.join(ROLES)}")
        self.app, self.options = app, options
        self.clock = clock or SystemClock()
        self.config, self.store = app.config, app.store
        self.metrics = Metrics(self.store)
        self.leader = Leadership(self.store.engine, self.config.database_url)
        self.stop = asyncio.Event()
        self.server: uvicorn.Server | None = None
        self.signals = 0

    @property
    def schedules(self) -> bool:
        return self.options.role in ("all", "scheduler")

    @property
    def sends(self) -> bool:
        return self.options.role in ("all", "worker")

    def summary(self, url: str) -> str:
        """The one screen printed at start."""
        cfg = self.config
        lines = [f"WhatsApp News Hub — hub run (role {self.options.role})",
                 f"  config:   {cfg.path}", f"  database: {safe_url(cfg.database_url)}"]
        for s in cfg.enabled_sources():
            lines.append(f"  source:   {s.options.name} [{s.type}] every {s.options.every}")
        if self.schedules:
            for r in Routines(cfg, self.store, self.clock).status():
                when = (r.next_run_at.astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M %Z")
                        if r.next_run_at else "—")
                lines.append(f"  routine:  {r.config.name}: every {r.config.every}, next run {when}")
        sink = cfg.delivering_sink()
        role_note = "" if self.sends else " (not sending: scheduler role)"
        lines.append(f"  sink:     {sink.type if sink else 'none'}{role_note}")
        lines.append(f"  webhook:  {url}{cfg.webhook.path}" if self._webhook else
                     f"  webhook:  off ({self._webhook_off})")
        lines.append(f"  health:   {url}/healthz   metrics: {url}/metrics   dashboard: {url}/dashboard")
        return "\n".join(lines)

    def _web_app(self) -> Starlette:
        routes: list[Any] = list(ops_routes(self.store, self.metrics, self.config.tz,
                                            card=self.config.rate_card(),
                                            language=self.config.hub.language, clock=self.clock,
                                            templates=uses_from_config(self.config),
                                            extra=lambda: invite_section(self.config.audience,
                                                                         self.config.hub.language)))
        self._webhook, self._webhook_off = None, ""
        try:
            from hub.web.webhook_app import webhook_app

            self._webhook = webhook_app(self.app, send=False)  # the dispatch loop sends replies
        except ConfigError as exc:
            sink = self.config.delivering_sink()
            if sink is not None and sink.type == "whatsapp":
                raise  # statuses and opt-outs arrive there: running without it would be blind
            self._webhook_off = exc.message
        if self._webhook is not None:
            routes.append(Mount("/", app=self._webhook))
        app = Starlette(routes=routes)
        app.add_middleware(_CountRequests, metrics=self.metrics, path=self.config.webhook.path)
        return app

    async def run(self) -> int:
        """Run until a signal; returns the exit code."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        web = self._web_app()
        host = self.options.host or self.config.webhook.host
        port = self.options.port if self.options.port is not None else self.config.webhook.port
        self.server = _EmbeddedServer(uvicorn.Config(
            web, host=host, port=port, log_level="warning", access_log=False, lifespan="on",
            log_config=None))  # its lines go through hub.logs, masked and formatted like ours
        serving = asyncio.create_task(self.server.serve(), name="web")
        while not self.server.started:
            if serving.done():
                serving.result()  # raises the bind error
                return 1
            await asyncio.sleep(0.02)
        _freeze_start_up()
        bound = self.server.servers[0].sockets[0].getsockname()
        summary = self.summary(f"http://{bound[0]}:{bound[1]}")
        if self.options.json_logs:
            log.info("%s", summary)
        else:
            print(summary, flush=True)

        tasks: list[asyncio.Task[None]] = []
        if self.schedules:
            tasks.append(asyncio.create_task(self._every(self.options.poll_every, self._poll), name="poll"))
            tasks.append(asyncio.create_task(self._routines(), name="routines"))
            tasks.append(asyncio.create_task(self._every(template_status.CHECK_EVERY, self._templates),
                                             name="templates"))
        if self.sends:
            tasks.append(asyncio.create_task(self._dispatch(), name="dispatch"))
        await self.stop.wait()

        log.info("stopping: no new work; in-flight sends get %.0f s", self.options.grace)
        dispatching = [t for t in tasks if t.get_name() == "dispatch"]
        others = [t for t in tasks if t.get_name() != "dispatch"]
        for task in others:
            task.cancel()
        if dispatching:
            done, _ = await asyncio.wait(dispatching, timeout=self.options.grace)
            for task in dispatching:
                if task not in done:
                    task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, timeout=5)
        self.leader.release()
        self.store.dispose()
        log.info("stopped cleanly")
        return 0

    def _on_signal(self, sig: signal.Signals) -> None:
        self.signals += 1
        if self.signals > 1:
            log.error("second %s: exiting now (committed work is safe; claims in flight settle "
                      "from their status webhooks)", sig.name)
            os._exit(130)
        log.warning("%s received: finishing in-flight work, then exiting", sig.name)
        self.stop.set()

    async def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while not self.stop.is_set():
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed round must not stop the daemon
                log.exception("%s failed; trying again in %.0f s", job.__name__, seconds)
            await self._pause(seconds)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def _leading(self) -> bool:
        """Only the process holding the scheduler lock polls and plans (see :mod:`hub.leader`)."""
        return await asyncio.to_thread(self.leader.held)

    async def _poll(self) -> None:
        if not await self._leading():
            return
        # On its own loop in a worker thread: parsing and storing a big feed (seconds of CPU) must
        # never hold up the loop that answers the webhook (a BAJA is honoured there).
        # Parsing goes to another process even for one due source (``pool_from=1``).
        report = await asyncio.to_thread(_without_full_collections, poll_once(
            self.config, self.store, self.app.registry, clock=self.clock, pool_from=1))
        for s in report.sources:
            if s.skipped:
                continue
            self.metrics.items_polled.labels(source=s.name).inc(s.fetched)
            self.metrics.items_stored.labels(source=s.name).inc(s.stored)
            if s.error:
                log.warning("source %s failed: %s", s.name, s.error)
            elif s.stored:
                log.info("source %s: %d new item(s) stored", s.name, s.stored)

    async def _templates(self) -> None:
        """At start and every few hours: the account's templates against hub.toml (alerts, holds)."""
        if not await self._leading():
            return
        problems = await asyncio.to_thread(template_status.check_account, self.config, self.store,
                                           self.clock.now())
        for line in problems:
            log.error("template check: %s", line)

    async def _routines(self) -> None:
        routines = Routines(self.config, self.store, self.clock, sink=self.app.reaching_sink())
        scheduler = schedule.Scheduler()
        attach(scheduler, routines, seconds=self.options.routine_every)

        def tick() -> None:
            for run in routines.tick():
                planned = run.stats.planned if run.stats else 0
                log.info("routine %s: run %s (%s) planned %d deliveries for %d item(s)%s", run.routine,
                         run.run_id, run.status, planned, len(run.item_ids),
                         f"; {run.note}" if run.note else "")

        async def due() -> None:
            if await self._leading():
                await asyncio.to_thread(scheduler.run_pending)

        if await self._leading():
            await asyncio.to_thread(tick)  # at start: a run missed while down happens within grace
        await self._every(1.0, due)

    async def _dispatch(self) -> None:
        sink: Sink = TimedSink(self.app.sink(), self.metrics.send_latency)
        caps = Caps.from_config(self.config)
        while not self.stop.is_set():
            try:
                with self.store.read() as session:  # the template's category may change: read each round
                    gate = paid_gate_for(self.config, session)
                report = await dispatch_due(self.store, sink, self.clock, caps=caps, stop=self.stop,
                                            paid_gate=gate)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch failed; trying again shortly")
                await self._pause(5)
                continue
            for code, count in report.codes.items():
                self.metrics.api_errors.labels(code=code).inc(count)
            if report.sent or report.failed or report.retrying:
                log.info("batch: %d sent, %d failed, %d retrying, %d waiting%s", report.sent,
                         report.failed, report.retrying, report.waiting,
                         f" (sending {report.blocked})" if report.blocked else "")
            if report.blocked:
                await self._pause(30)
            elif not (report.sent or report.failed or report.retrying):
                await self._pause(self.options.dispatch_idle)


def _freeze_start_up() -> None:
    """Keep what start-up built (modules, the app, the store) out of every later full collection.

    A full pass walks every tracked object while holding the interpreter; with start-up's 126,000
    objects it took 66–290 ms here (at start, and after a poll once collection resumes), and each
    pass delays the webhook's answers by that much. Frozen, the same pass walks only what came
    later: 4–9 ms measured after polling a 10 MB feed.
    """
    gc.collect()
    gc.freeze()


def _without_full_collections(poll: Coroutine[Any, Any, PollReport]) -> PollReport:
    """Run a poll on its own loop with the cyclic garbage collector paused.

    A big feed allocates millions of objects; each full collection then walks them all while
    holding the interpreter (0.1–0.3 s, twice per 10 MB feed), and the webhook waits. Reference
    counting still frees them as they go; the collector resumes when the poll ends.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return asyncio.run(poll)
    finally:
        if paused:
            gc.enable()


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our loop: the daemon, not uvicorn, owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _CountRequests:
    """ASGI middleware counting webhook requests by outcome (the HTTP status class)."""

    def __init__(self, app: Any, metrics: Metrics, path: str) -> None:
        self.app, self.metrics, self.path = app, metrics, path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            self.metrics.webhook_requests.labels(outcome=f"{status['code'] // 100}xx").inc()
