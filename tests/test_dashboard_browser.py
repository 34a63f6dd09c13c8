"""The dashboard as a person sees it: headless Chromium, real uvicorn on loopback."""

from __future__ import annotations

import shutil
from zoneinfo import ZoneInfo

import httpx
import pytest

from hub.storage.store import Store
from hub.web.asgi_server import serve_in_thread
from hub.web.metrics import Metrics
from hub.web.pages import make_app
from tests.backend import db_url
from tests.test_stats import _scenario

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def dashboard_server(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_DASHBOARD_TOKEN", "tok-123")
    _scenario(tmp_path / "hub.db")
    store = Store(db_url(tmp_path / 'hub.db'))
    with serve_in_thread(make_app(store, Metrics(store), ZoneInfo("Europe/Madrid"))) as url:
        yield url


def test_dashboard_refuses_missing_or_wrong_token(dashboard_server) -> None:
    assert httpx.get(dashboard_server + "/dashboard").status_code == 401
    assert httpx.get(dashboard_server + "/dashboard?token=nope").status_code == 401
    bearer = httpx.get(dashboard_server + "/dashboard",
                       headers={"Authorization": "Bearer tok-123"})
    assert bearer.status_code == 200 and "<svg" in bearer.text
    assert httpx.get(dashboard_server + "/healthz").json()["status"] == "ok"


def test_dashboard_charts_render_with_data_in_chromium(dashboard_server, tmp_path) -> None:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            response = page.goto(dashboard_server + "/dashboard?token=tok-123")
            assert response is not None and response.status == 200
            charts = page.locator("svg.chart")
            assert charts.count() == 4
            for i in range(4):
                chart = charts.nth(i)
                assert chart.locator(".point").count() > 0, chart.get_attribute("data-chart")
                box = chart.bounding_box()
                assert box is not None and box["width"] > 200 and box["height"] > 80
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            denied = browser.new_page().goto(dashboard_server + "/dashboard")
            assert denied is not None and denied.status == 401
        finally:
            browser.close()
