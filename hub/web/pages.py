"""The daemon's own HTTP pages: ``/healthz``, ``/metrics`` and the token-protected ``/dashboard``.

The webhook routes are mounted beside these in the same app, so one server in the daemon's
event loop answers everything.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from hub.pricing.card import RateCard, shipped_card
from hub.pricing.spent import spent
from hub.stats import build_report
from hub.storage.store import Store
from hub.web.dashboard import is_authorised, render_dashboard
from hub.web.metrics import CONTENT_TYPE, Metrics

DASHBOARD_TOKEN_ENV = "HUB_DASHBOARD_TOKEN"


def ops_routes(store: Store, metrics: Metrics, tz: ZoneInfo,
               token: Callable[[], str | None] | None = None,
               card: RateCard | None = None, language: str = "en",
               extra: Callable[[], str] | None = None) -> list[BaseRoute]:
    """Routes for health, metrics and the dashboard, reading the dashboard token from the env.

    The dashboard's labels are in ``language``; ``extra`` adds trusted HTML below its charts."""
    read_token = token or (lambda: os.environ.get(DASHBOARD_TOKEN_ENV))

    async def healthz(_: Request) -> Response:
        try:
            await run_in_threadpool(_ping, store)
        except Exception as exc:  # noqa: BLE001 - any store failure means "not healthy"
            return JSONResponse({"status": "error", "store": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok", "store": "reachable"})

    async def metrics_page(_: Request) -> Response:
        body = await run_in_threadpool(metrics.render)
        return Response(body, media_type=CONTENT_TYPE)

    async def dashboard(request: Request) -> Response:
        provided = request.query_params.get("token")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            provided = header[7:].strip()
        if not is_authorised(provided, read_token()):
            return PlainTextResponse(
                f"401: pass the dashboard token (env {DASHBOARD_TOKEN_ENV}) as ?token= or a "
                "Bearer header", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        page = await run_in_threadpool(_render, store, tz, card, language,
                                       extra() if extra is not None else "")
        return HTMLResponse(page)

    return [Route("/healthz", healthz), Route("/metrics", metrics_page),
            Route("/dashboard", dashboard)]


def _ping(store: Store) -> None:
    with store.read() as session:
        session.connection().execute(text("SELECT 1"))


def _render(store: Store, tz: ZoneInfo, card: RateCard | None = None, language: str = "en",
            extra: str = "") -> str:
    from hub.delivery import account, brake

    with store.read() as session:
        alerts = [f"Routine {r.name} is paused by the brake: {r.paused_reason} "
                  f"(hub routines resume {r.name})" for r in brake.paused(session)]
        state = account.current(session)
        if state.state != "running":
            alerts.append(f"Sending is {state.state}: {state.reason} (hub status)")
        cost = spent(session, card or shipped_card(), tz)
        return render_dashboard(build_report(session, tz), alerts=alerts, cost=cost,
                                language=language, extra=extra)


def make_app(store: Store, metrics: Metrics, tz: ZoneInfo,
             extra_routes: list[BaseRoute] | None = None) -> Starlette:
    """The daemon's ASGI app: the ops pages plus whatever routes the webhook contributes."""
    return Starlette(routes=[*ops_routes(store, metrics, tz), *(extra_routes or [])])
