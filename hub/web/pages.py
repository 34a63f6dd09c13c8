"""The daemon's own HTTP pages: ``/healthz``, ``/metrics`` and the token-protected ``/dashboard``.

The webhook routes are mounted beside these in the same app, so one server in the daemon's
event loop answers everything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hub.cloudapi.templates import TemplateUse
from hub.pricing.card import RateCard, shipped_card
from hub.storage.store import Store
from hub.timekeeping.clock import Clock, SystemClock
from hub.web import csrf
from hub.web.actions import DashboardActions
from hub.web.board import gather
from hub.web.dashboard import is_authorised, render_dashboard
from hub.web.metrics import CONTENT_TYPE, Metrics

DASHBOARD_TOKEN_ENV = "HUB_DASHBOARD_TOKEN"


def ops_routes(store: Store, metrics: Metrics, tz: ZoneInfo,
               token: Callable[[], str | None] | None = None,
               card: RateCard | None = None, language: str = "en",
               clock: Clock | None = None, templates: Sequence[TemplateUse] = (),
               extra: Callable[[], str] | None = None) -> list[BaseRoute]:
    """Routes for health, metrics and the dashboard, reading the dashboard token from the env.

    The dashboard's labels are in ``language``; its buttons act at ``clock``'s time; ``templates``
    (the config's) let it name the routines a paused template holds; ``extra`` adds trusted HTML
    below its charts (the invitation).
    """
    read_token = token or (lambda: os.environ.get(DASHBOARD_TOKEN_ENV))
    actions = DashboardActions(store, clock or SystemClock(), language)

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
        expected = read_token()
        nonce = csrf.session_nonce(request.cookies.get(csrf.COOKIE), expected)
        cookie = None
        if nonce is None:
            provided = request.query_params.get("token")
            header = request.headers.get("authorization", "")
            if header.lower().startswith("bearer "):
                provided = header[7:].strip()
            if not is_authorised(provided, expected):
                return PlainTextResponse(
                    f"401: pass the dashboard token (env {DASHBOARD_TOKEN_ENV}) as ?token= or a "
                    "Bearer header", status_code=401, headers={"WWW-Authenticate": "Bearer"})
            cookie, nonce = csrf.new_session(str(expected))
        notice = actions.notice(request.query_params)
        page = await run_in_threadpool(_render, store, tz, card, language,
                                       csrf.csrf_token(str(expected), nonce), notice, templates,
                                       extra() if extra is not None else "")
        response = HTMLResponse(page, headers=SECURITY_HEADERS)
        if cookie is not None:
            response.set_cookie(csrf.COOKIE, cookie, path="/dashboard", httponly=True, samesite="strict",
                                secure=request.url.scheme == "https")
        return response

    async def act(request: Request) -> Response:
        expected = read_token()
        if not csrf.same_origin(request.headers.get("origin"), request.headers.get("host"),
                                request.headers.get("x-forwarded-host")):
            return PlainTextResponse("403: this form must be sent from the dashboard's own page "
                                     "(Origin does not match)", status_code=403)
        nonce = csrf.session_nonce(request.cookies.get(csrf.COOKIE), expected)
        if nonce is None or expected is None:
            return PlainTextResponse("403: open the dashboard with its token first", status_code=403)
        form = await _small_form(request)
        if form is None:
            return PlainTextResponse("413: form too large", status_code=413)
        if not csrf.csrf_valid(form.get("csrf"), expected, nonce):
            return PlainTextResponse("403: the form's CSRF token is missing or stale; reload the "
                                     "dashboard", status_code=403)
        done = await run_in_threadpool(actions.run, request.path_params["action"], form)
        if done is None:
            return PlainTextResponse("400: unknown action or missing field", status_code=400)
        return RedirectResponse("/dashboard?" + urlencode(done), status_code=303)

    return [Route("/healthz", healthz), Route("/metrics", metrics_page),
            Route("/dashboard", dashboard),
            Route("/dashboard/{action:path}", act, methods=["POST"])]


SECURITY_HEADERS = {
    # Nothing on the page may load from elsewhere, and no other site may frame its buttons.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer a browser sends ``Origin: null`` on a POST.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
FORM_LIMIT = 4096


async def _small_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form of at most :data:`FORM_LIMIT` bytes, read without trusting its length."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            return None
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _ping(store: Store) -> None:
    with store.read() as session:
        session.connection().execute(text("SELECT 1"))


def _render(store: Store, tz: ZoneInfo, card: RateCard | None = None, language: str = "en",
            csrf_value: str = "", notice: str = "", templates: Sequence[TemplateUse] = (),
            extra: str = "") -> str:
    with store.read() as session:
        board = gather(session, tz, card or shipped_card(), templates)
    return render_dashboard(board, language=language, csrf=csrf_value, notice=notice, extra=extra)


def make_app(store: Store, metrics: Metrics, tz: ZoneInfo,
             extra_routes: list[BaseRoute] | None = None, language: str = "en",
             clock: Clock | None = None) -> Starlette:
    """The daemon's ASGI app: the ops pages plus whatever routes the webhook contributes."""
    return Starlette(routes=[*ops_routes(store, metrics, tz, language=language, clock=clock),
                             *(extra_routes or [])])
