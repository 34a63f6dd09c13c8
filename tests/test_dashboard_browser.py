"""The dashboard as a person sees it: headless Chromium, real uvicorn on loopback, real clicks."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from hub.timekeeping.clock import FakeClock
from hub.web.asgi_server import serve_in_thread
from hub.web.metrics import Metrics
from hub.web.pages import make_app
from tests.backend import sqlite_only
from tests.dashboard_scenario import HELD_TITLES, editor_scenario, held_ids, item_status, paused

CHROMIUM = "/usr/bin/chromium"
NOW = datetime(2026, 3, 5, 7, 0, tzinfo=UTC)

# The page in a real browser; what its buttons change in the store is tested on both backends
# over HTTP (test_dashboard_actions.py), so the browser runs once, on SQLite.
pytestmark = sqlite_only("the browser half of the dashboard tests; the store half runs on both")


@pytest.fixture
def dashboard_server(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_DASHBOARD_TOKEN", "tok-123")
    store = editor_scenario(tmp_path / "hub.db")
    with serve_in_thread(make_app(store, Metrics(store), ZoneInfo("Europe/Madrid"),
                                  clock=FakeClock(NOW))) as url:
        yield url, store
    store.dispose()


@contextmanager
def chromium(viewport: dict[str, int]) -> Iterator[tuple[Any, list[str]]]:
    """A browser context whose every request is recorded; any leaving loopback is refused."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    outside: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            context = browser.new_context(viewport=viewport)
            context.route("**/*", guard)
            yield context, outside
        finally:
            browser.close()


def test_dashboard_refuses_missing_or_wrong_token(dashboard_server) -> None:
    url, _ = dashboard_server
    assert httpx.get(url + "/dashboard").status_code == 401
    assert httpx.get(url + "/dashboard?token=nope").status_code == 401
    bearer = httpx.get(url + "/dashboard", headers={"Authorization": "Bearer tok-123"})
    assert bearer.status_code == 200 and "<svg" in bearer.text
    assert httpx.get(url + "/healthz").json()["status"] == "ok"


def test_dashboard_charts_render_with_data_in_chromium(dashboard_server, tmp_path) -> None:
    url, _ = dashboard_server
    with chromium({"width": 1300, "height": 900}) as (context, outside):
        page = context.new_page()
        response = page.goto(url + "/dashboard?token=tok-123")
        assert response is not None and response.status == 200
        charts = page.locator("svg.chart")
        assert charts.count() == 4
        for i in range(4):
            chart = charts.nth(i)
            name = chart.get_attribute("data-chart")
            assert chart.locator(".point").count() > 0, name
            assert chart.locator("text.value").count() == chart.locator(".point").count(), name
            assert chart.locator("text.tick").count() >= 3, name
            box = chart.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 40
        assert page.locator("table.runs tbody tr").count() == 2
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        denied = context.new_page()
        context.clear_cookies()
        answer = denied.goto(url + "/dashboard")
        assert answer is not None and answer.status == 401
    assert outside == []


def test_dashboard_fits_a_390px_phone(dashboard_server) -> None:
    url, _ = dashboard_server
    with chromium({"width": 390, "height": 844}) as (context, outside):
        page = context.new_page()
        page.goto(url + "/dashboard?token=tok-123")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        for selector in ("svg.chart", "table.runs td", "button", "ul.held li"):
            boxes = [b for b in (page.locator(selector).nth(i).bounding_box()
                                 for i in range(page.locator(selector).count())) if b is not None]
            assert boxes, selector
            assert max(b["x"] + b["width"] for b in boxes) <= 390, selector
        # The run table turns into labelled cards: each figure is read beside its name.
        reached = page.locator("tr[data-run='1'] td[data-label='reached']")
        assert reached.inner_text() == "9" and reached.is_visible()
    assert outside == []


def test_buttons_approve_drop_and_resume_in_chromium(dashboard_server) -> None:
    url, store = dashboard_server
    ids = held_ids(store)
    approve_id, drop_id = ids[HELD_TITLES[0]], ids[HELD_TITLES[1]]
    with chromium({"width": 390, "height": 844}) as (context, outside):
        page = context.new_page()
        page.goto(url + "/dashboard?token=tok-123")

        with page.expect_navigation():
            page.locator(f"li[data-item='{approve_id}'] button", has_text="Approve").click()
        assert page.get_by_role("status").inner_text() == f"Done: story #{approve_id} approved"
        assert item_status(store, approve_id) == "ready"
        assert page.locator(f"li[data-item='{approve_id}']").count() == 0

        with page.expect_navigation():
            page.locator(f"li[data-item='{drop_id}'] button", has_text="Drop").click()
        assert item_status(store, drop_id) == "dropped"

        with page.expect_navigation():
            page.locator("li[data-routine='tardes'] button", has_text="Resume").click()
        assert not paused(store, "tardes")
        assert page.locator("li[data-routine='tardes']").count() == 0
        assert urlsplit(page.url).path == "/dashboard" and "token" not in page.url
    assert outside == []


def test_a_form_posted_from_another_page_is_refused_in_chromium(dashboard_server) -> None:
    """Even with the session's cookie and CSRF value, a form sent from elsewhere (Origin: null here)
    is a 403 and the story stays held."""
    url, store = dashboard_server
    story = held_ids(store)[HELD_TITLES[2]]
    with chromium({"width": 800, "height": 600}) as (context, outside):
        page = context.new_page()
        page.goto(url + "/dashboard?token=tok-123")
        csrf = page.locator("input[name='csrf']").first.get_attribute("value")
        elsewhere = context.new_page()
        elsewhere.set_content(f"<form method='post' action='{url}/dashboard/held/drop'>"
                              f"<input type='hidden' name='csrf' value='{csrf}'>"
                              f"<input type='hidden' name='id' value='{story}'><button>go</button></form>")
        with elsewhere.expect_navigation() as navigation:
            elsewhere.locator("button").click()
        assert navigation.value is not None and navigation.value.status == 403
        assert item_status(store, story) == "held"
    assert outside == []
