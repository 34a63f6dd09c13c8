"""The dashboard page: what waits for the editor, one row per run, charts with their values, in
the hub's language; /metrics parses as Prometheus text."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from hub.pricing.card import shipped_card
from hub.pricing.money import show
from hub.storage.store import Store
from hub.web.asgi_server import serve_in_thread
from hub.web.board import gather
from hub.web.dashboard import is_authorised, render_dashboard
from hub.web.labels import LABELS, labels_for
from hub.web.metrics import Metrics
from hub.web.pages import ops_routes
from tests.backend import db_url
from tests.dashboard_scenario import HELD_TITLES, editor_scenario
from tests.test_stats import _scenario


def _page(db_path, language: str = "en") -> str:
    store = Store(db_url(db_path))
    with store.read() as session:
        board = gather(session, ZoneInfo("Europe/Madrid"), shipped_card())
    store.dispose()
    return render_dashboard(board, language=language, csrf="c5rf")


def test_dashboard_has_points_in_every_chart(tmp_path) -> None:
    _scenario(tmp_path / "hub.db")
    page = _page(tmp_path / "hub.db")
    charts = re.findall(r"<svg class='chart' data-chart='([^']+)'.*?</svg>", page, re.S)
    assert charts == ["daily", "read-by-hour", "growth", "growth-by-topic"]
    for name in charts:
        block = re.search(rf"data-chart='{name}'.*?</svg>", page, re.S).group(0)
        assert "class='point'" in block, f"chart {name} has no data points"
        assert "class='value'" in block and "class='tick'" in block, f"chart {name}: values and axis"
    assert "http://" not in page and "https://" not in page, "the page must need no network"
    assert "sent <b>12</b>" in page
    # growth by topic: 4 chose cultura, 1 of them left; the 8 others take every topic.
    assert "data-label='cultura' data-value='4'" in page and "net: (all topics) +6 · cultura +3" in page


def test_dashboard_shows_what_needs_the_editor_first(tmp_path) -> None:
    editor_scenario(tmp_path / "hub.db").dispose()
    page = _page(tmp_path / "hub.db")
    assert page.index("id='attention'") < page.index("id='runs'") < page.index("<svg class=")
    for title in HELD_TITLES:
        assert title in page
    assert page.count("action='/dashboard/held/approve'") == 4  # each story, and all of the source
    assert page.count("action='/dashboard/held/drop'") == 4
    assert "tardes</b>" in page and "action='/dashboard/routines/resume'" in page
    assert page.count("name='csrf' value='c5rf'") == 9
    assert "Times in Europe/Madrid" in page


def test_each_run_is_a_row_with_its_stories_reach_and_cost(tmp_path) -> None:
    editor_scenario(tmp_path / "hub.db").dispose()
    page = _page(tmp_path / "hub.db")
    rows = re.findall(r"<tr data-run='(\d+)'>(.*?)</tr>", page, re.S)
    assert [r for r, _ in rows] == ["2", "1"], "newest first"
    cells = dict(re.findall(r"data-label='([^']+)'>(.*?)</td>", rows[1][1], re.S))
    # Run 1 (09:30 Madrid): 9 people reached, 9 delivered, 6 read, 2 left within 24 h;
    # 9 delivered marketing messages to Spain at the shipped card's rate.
    assert cells["when"] == "2026-03-02 09:30 CET"
    assert "El pleno aprueba el presupuesto" in cells["stories"]
    assert "Abre el mercado de abastos" in cells["stories"]
    assert "Fiestas" not in cells["stories"]
    assert (cells["reached"], cells["delivered"], cells["read"], cells["left"]) == ("9", "9", "6", "2")
    card = shipped_card()
    assert cells["cost"] == show(card.price("ES", "marketing").amount * 9, card.currency)


def test_dashboard_labels_follow_the_hub_language(tmp_path) -> None:
    editor_scenario(tmp_path / "hub.db").dispose()
    page = _page(tmp_path / "hub.db", language="es")
    assert "<html lang='es'>" in page
    for label in ("Horas en Europe/Madrid", "Retenidas por el control de anomalías", ">Aprobar<",
                  ">Descartar<", ">Reanudar<", "data-label='cuándo'", "Crecimiento de suscriptores por tema",
                  "enviados <b>12</b>", "(todos los temas)"):
        assert label in page, label
    for english in (">Approve<", ">Resume<", "Needs you", "data-label='when'"):
        assert english not in page, english


def test_every_label_the_dashboard_asks_for_is_marked_for_the_catalogues() -> None:
    """The page's labels come from the gettext catalogues: each one it asks for (``t(...)``, also
    inside f-strings, where the extractor does not look) is marked in ``hub.web.labels`` (so the
    catalogue test holds it to an entry in both languages), and each marked one is used."""
    import inspect

    from hub.web import actions, charts, dashboard

    source = "".join(inspect.getsource(m) for m in (dashboard, actions, charts))
    asked = set(re.findall(r'\bt\("([^"]+)"\)', source)) | set(re.findall(r"\bt\('([^']+)'\)", source))
    assert asked and asked - set(LABELS) == set(), "every label is marked"
    unused = [key for key in LABELS if f'"{key}"' not in source and f"'{key}'" not in source
              and key not in ("paused", "stopped", "(all topics)")]
    assert unused == []
    assert labels_for("es")("Needs you") == "Pendiente de ti"


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


def test_a_flood_of_held_stories_shows_the_first_ones_and_how_many_more(tmp_path, monkeypatch) -> None:
    from hub.web import board

    editor_scenario(tmp_path / "hub.db").dispose()
    monkeypatch.setattr(board, "HELD_SHOWN", 2)
    page = _page(tmp_path / "hub.db")
    assert "Held by the glitch guard (3)" in page and page.count("<li data-item=") == 2
    assert "… and 1 more: hub items held" in page


def test_a_routine_held_by_a_paused_template_is_named_without_a_button(tmp_path) -> None:
    """Meta lifts that hold (APPROVED again), not the editor: the page says so and offers no Resume."""
    from hub.cloudapi.templates import TemplateUse
    from hub.storage.tables import TemplateRow
    from tests.test_stats import T0

    store = editor_scenario(tmp_path / "hub.db")
    with store.write() as s:
        s.add(TemplateRow(name="news_update", language="es", status="PAUSED", updated_at=T0))
    uses = [TemplateUse(key="sinks.whatsapp.template", name="news_update", language="es", body_params=2,
                        routines=("mañanas",))]
    with store.read() as session:
        page = render_dashboard(gather(session, ZoneInfo("Europe/Madrid"), None, uses))
    store.dispose()
    held = re.search(r"<li data-routine='mañanas'>.*?</li>", page, re.S)
    assert held is not None and "held: template &#x27;news_update&#x27; (es) is PAUSED" in held.group(0)
    assert "<form" not in held.group(0) and "once Meta approves the template again" in held.group(0)
