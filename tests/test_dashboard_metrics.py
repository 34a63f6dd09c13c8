"""The dashboard page carries every chart's data points; /metrics parses as Prometheus text."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from hub.stats import build_report
from hub.storage.store import Store
from hub.web.asgi_server import serve_in_thread
from hub.web.dashboard import is_authorised, render_dashboard
from hub.web.metrics import Metrics
from hub.web.pages import ops_routes
from tests.backend import db_url
from tests.test_stats import _scenario


def test_dashboard_has_points_in_every_chart(tmp_path) -> None:
    _scenario(tmp_path / "hub.db")
    store = Store(db_url(tmp_path / 'hub.db'))
    with store.read() as session:
        page = render_dashboard(build_report(session, ZoneInfo("Europe/Madrid")))
    charts = re.findall(r'<svg class="chart" data-chart="([^"]+)".*?</svg>', page, re.S)
    assert charts == ["daily", "read-by-hour", "growth", "unsubscribes"]
    for name in charts:
        block = re.search(rf'data-chart="{name}".*?</svg>', page, re.S).group(0)
        assert 'class="point"' in block, f"chart {name} has no data points"
    assert "http://" not in page and "https://" not in page, "the page must need no network"
    assert "sent <b>12</b>" in page


def test_dashboard_shows_alerts_first(tmp_path) -> None:
    _scenario(tmp_path / "hub.db")
    store = Store(db_url(tmp_path / 'hub.db'))
    with store.read() as session:
        page = render_dashboard(build_report(session, ZoneInfo("Europe/Madrid")),
                                alerts=["Routine diaria is paused by the brake: run #3 <b>"])
    assert page.index("role='alert'") < page.index("<svg class=")
    assert "run #3 &lt;b&gt;" in page


def test_dashboard_token_check() -> None:
    assert is_authorised("s3cret", "s3cret")
    assert not is_authorised("wrong", "s3cret")
    assert not is_authorised(None, "s3cret")
    assert not is_authorised("anything", None)


def test_metrics_parse_with_the_prometheus_parser(tmp_path) -> None:
    _scenario(tmp_path / "hub.db")
    metrics = Metrics(Store(db_url(tmp_path / 'hub.db')))
    metrics.api_errors.labels(code="131056").inc()
    metrics.webhook_requests.labels(outcome="stored").inc(3)
    metrics.send_latency.observe(0.12)
    families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
    deliveries = {s.labels["state"]: s.value for s in families["hub_deliveries"].samples}
    assert deliveries == {"read": 6, "delivered": 3, "failed": 1, "sent": 3, "skipped": 1}
    assert families["hub_api_errors"].samples[0].labels == {"code": "131056"}
    assert any(s.value == 3 for s in families["hub_webhook_requests"].samples)
    assert "hub_send_latency_seconds" in families


def test_a_non_ascii_dashboard_token_gets_401_not_500(tmp_path) -> None:
    store = Store(db_url(tmp_path / "hub.db"))
    app = Starlette(routes=ops_routes(store, Metrics(store), ZoneInfo("Europe/Madrid"),
                                      token=lambda: "s3cret"))
    with serve_in_thread(app) as base:
        for headers, query in (({"authorization": b"Bearer s3cr\xe9t"}, ""), ({}, "?token=s%C3%A9cret"),
                               ({}, "?token=%FF%FE"), ({"authorization": "Bearer s3cret"}, "")):
            response = httpx.get(base + "/dashboard" + query, headers=headers)
            expected = 200 if headers.get("authorization") == "Bearer s3cret" else 401
            assert response.status_code == expected, (headers, query)
    assert not is_authorised("sécret", "s3cret") and is_authorised("sécret", "sécret")
    store.dispose()
