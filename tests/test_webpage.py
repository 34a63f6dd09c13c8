"""The ``webpage`` source: news cards of a page without a feed, over loopback HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from hub.app import App
from hub.intake.pipeline import PollReport, poll_once
from hub.loopback import Document, LoopbackServer
from hub.timekeeping.clock import FakeClock
from tests.backend import open_db
from tests.conftest import REPO, HubRunner, write_config

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
CARDS = '''item = "article.tarjeta-noticia"
title = "h2.titulo"
link = "a.enlace"
date = "time"
summary = "p.entradilla"
'''
RELATIVE = '''item = "ul.noticias > li.noticia"
title = "h3"
link = "h3 a"
date = ".fecha"
summary = ".resumen"
timezone = "Europe/Madrid"
'''


def _page(name: str) -> Document:
    return Document((REPO / "tests" / "data" / name).read_bytes(), content_type="text/html; charset=utf-8")


def _config(server: LoopbackServer, path: str, selectors: str) -> str:
    return ('[hub]\ndatabase_url = "sqlite:///hub.db"\n[[sources]]\ntype = "webpage"\nname = "ayto"\n'
            f'url = "{server.url(path)}"\nallow_private = true\ntags = ["noticias"]\n{selectors}')


def _poll(project: Path) -> PollReport:
    app = App(project / "hub.toml")
    return asyncio.run(poll_once(app.config, app.store, app.registry, clock=FakeClock(NOW), force=True))


def _rows(project: Path) -> list[dict]:
    return [dict(r) for r in open_db(project / "hub.db").execute("SELECT * FROM items ORDER BY id")]


def test_news_cards_become_items_and_the_second_poll_is_conditional(project, feed_server) -> None:
    feed_server.documents["/noticias"] = _page("noticias_tarjetas.html")
    write_config(project / "hub.toml", _config(feed_server, "/noticias", CARDS))
    report = _poll(project)
    assert report.sources[0].error is None and report.stored == 3
    first, second, third = _rows(project)
    assert first["title"] == "Corte de agua en el Barrio Alto el martes por obras en la red"
    assert first["url"] == "https://www.villanueva.example.es/noticias/2026/03/corte-agua-barrio-alto"
    assert first["guid"] == "url:https://www.villanueva.example.es/noticias/2026/03/corte-agua-barrio-alto"
    assert first["published_at"][:16] == "2026-03-17 07:30"
    assert first["summary"].startswith("Entre las 9:00 y las 13:00 horas")
    assert first["image_url"] == "https://www.villanueva.example.es/media/noticias/corte-agua-800x450.jpg"
    assert second["image_url"] is None, "a 16 px PDF icon is not the story's picture"
    assert third["image_url"].endswith("/pleno.png") and "noticias" in third["tags"]

    again = _poll(project)
    assert again.sources[0].not_modified
    assert feed_server.requests[-1][1].get("If-None-Match") == _page("noticias_tarjetas.html").etag
    assert len(_rows(project)) == 3


def test_relative_links_and_dates_in_spanish_words(project, feed_server) -> None:
    feed_server.documents["/ribera/actualidad.html"] = _page("noticias_relativas.html")
    write_config(project / "hub.toml", _config(feed_server, "/ribera/actualidad.html", RELATIVE))
    assert _poll(project).stored == 3
    rows = {r["title"]: r for r in _rows(project)}
    asamblea = rows["Asamblea general ordinaria de socios"]
    assert asamblea["url"] == feed_server.url("/ribera/actualidad/asamblea-general-2026.html")
    assert asamblea["published_at"][:16] == "2026-03-11 23:00"  # midnight in Madrid, in UTC
    assert asamblea["summary"] == ("La asamblea será en el centro cívico a las 19:30. "
                                   "Se votarán las cuentas de 2025.")
    assert "a las *19:30*." in asamblea["text"]
    assert asamblea["image_url"] == feed_server.url("/imagenes/asamblea.jpg")
    rio = rows["Jornada de limpieza del río"]
    assert rio["published_at"][:10] == "2026-03-04" and rio["image_url"] is None  # WebP: not sendable
    fiestas = rows["Programa de las fiestas del barrio"]
    assert fiestas["url"] == feed_server.url("/ribera/actualidad/fiestas.html#programa")
    assert fiestas["guid"] == "url:" + feed_server.url("/ribera/actualidad/fiestas.html")
    assert fiestas["published_at"][:10] == "2026-02-27"


def test_a_selector_matching_nothing_is_a_warning_in_hub_sources(project, feed_server) -> None:
    feed_server.documents["/noticias"] = _page("noticias_tarjetas.html")
    write_config(project / "hub.toml", _config(feed_server, "/noticias", CARDS.replace(
        "article.tarjeta-noticia", "div.news-card")))
    report = _poll(project)
    assert report.sources[0].error is None and report.stored == 0
    listing = HubRunner(project / "hub.toml")("sources").output
    assert "warning:      ayto: the item selector 'div.news-card' matched nothing" in listing


def test_hub_check_rejects_a_broken_selector(project, feed_server) -> None:
    write_config(project / "hub.toml", _config(feed_server, "/noticias", CARDS.replace(
        'title = "h2.titulo"', 'title = "h2[class="')))
    result = HubRunner(project / "hub.toml")("check")
    assert result.exit_code != 0
    assert "sources[0].title" in result.output and "not a valid CSS selector" in result.output
