"""The gsheets source: an editorial calendar read as CSV (by gid) or through values.get."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from hub.app import App
from hub.intake.pipeline import poll_once
from hub.loopback import Document
from hub.timekeeping.clock import FakeClock
from tests.backend import open_db
from tests.conftest import write_config
from whatsapp_news_hub_plugins.sources.gsheets import csv_url

SHEET = "/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUv/edit#gid=123"
CSV_PATH = "/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUv/export?format=csv&gid=123"
NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)  # 10:00 in Madrid

CALENDAR = (
    "Título,Enlace,Texto,Imagen,Etiquetas,Publicar,ESTADO\n"
    "Feria del libro,https://villanueva.example.org/feria?utm_source=sheet,"
    "\"<b>Del 4 al 10</b> de mayo, en la plaza 📚\",https://villanueva.example.org/feria.jpg,"
    "\"Cultura, Agenda\",04/05/2026 09:30,Listo\n"
    "Corte de agua,,\"Mañana de 8:00 a 12:00\nCalle Mayor\",,Avisos,2026-05-04 08:00,listo\n"
    "Concierto,https://villanueva.example.org/concierto,Sábado,,Cultura,05/05/2026 20:00,Listo\n"
    "Borrador,https://villanueva.example.org/borrador,Aún no,,,01/05/2026 09:00,borrador\n"
    ",https://villanueva.example.org/sin-titulo,Falta el título,,,01/05/2026 09:00,Listo\n"
    ",,,,,,\n"
)


def _config(server, extra: str = "") -> str:
    return ('[hub]\ndatabase_url = "sqlite:///hub.db"\n[[sources]]\ntype = "gsheets"\nname = "agenda"\n'
            f'sheet = "{server.url(SHEET)}"\nallow_private = true\n{extra}')


def _poll(project, clock=None):
    app = App(project / "hub.toml")
    return asyncio.run(poll_once(app.config, app.store, app.registry, clock=clock or FakeClock(NOW),
                                 force=True))


def _items(project) -> dict[str, dict]:
    db = open_db(project / "hub.db")
    rows = {r["title"]: dict(r) for r in db.execute("SELECT * FROM items")}
    for row in rows.values():
        row["tags"] = json.loads(row["tags"])
    return rows


def test_ready_rows_whose_time_has_come_become_items(project, feed_server) -> None:
    feed_server.documents[CSV_PATH] = Document(CALENDAR.encode(), content_type="text/csv")
    write_config(project / "hub.toml", _config(feed_server))
    report = _poll(project)
    result = report.sources[0]
    assert result.error is None, result.error
    rows = _items(project)
    assert sorted(rows) == ["Corte de agua", "Feria del libro"]
    feria = rows["Feria del libro"]
    assert feria["url"] == "https://villanueva.example.org/feria"  # utm_source is not sent
    assert feria["canonical_url"] == "https://villanueva.example.org/feria"
    assert feria["text"] == "*Del 4 al 10* de mayo, en la plaza 📚"
    assert feria["image_url"] == "https://villanueva.example.org/feria.jpg"
    assert feria["tags"] == ["Cultura", "Agenda"]
    assert feria["published_at"][:19] == "2026-05-04 07:30:00"  # 09:30 Madrid (CEST)
    assert rows["Corte de agua"]["text"] == "Mañana de 8:00 a 12:00\nCalle Mayor"
    assert result.warnings == ["agenda: row 6 skipped: no title"]


def test_a_row_appears_once_its_time_passes_and_a_typo_fix_does_not_resend(project, feed_server) -> None:
    feed_server.documents[CSV_PATH] = Document(CALENDAR.encode(), content_type="text/csv")
    write_config(project / "hub.toml", _config(feed_server))
    _poll(project)
    later = FakeClock(datetime(2026, 5, 5, 19, 0, tzinfo=UTC))
    fixed = CALENDAR.replace("Del 4 al 10", "Del 4 al 11").replace("Corte de agua,", "Corte de agua ,")
    feed_server.documents[CSV_PATH] = Document(fixed.encode(), content_type="text/csv")
    report = _poll(project, later)
    assert report.sources[0].stored == 1  # only the concert
    assert sorted(_items(project)) == ["Concierto", "Corte de agua", "Feria del libro"]


def test_column_mapping_and_ready_values_come_from_hub_toml(project, feed_server) -> None:
    sheet = "Titular,Cuándo,Situación,Id\nPleno municipal,2026-05-01 10:00,OK PUBLICAR,pleno-1\n"
    feed_server.documents[CSV_PATH] = Document(sheet.encode(), content_type="text/csv")
    write_config(project / "hub.toml", _config(feed_server, (
        'columns = { title = "titular", publish_at = "cuando", status = "situacion", id = "ID" }\n'
        'ready = ["ok publicar"]\n')))
    report = _poll(project)
    assert report.sources[0].error is None
    [row] = _items(project).values()
    assert row["guid"] == "id:pleno-1" and row["title"] == "Pleno municipal"


def test_missing_title_column_is_a_readable_failure(project, feed_server) -> None:
    feed_server.documents[CSV_PATH] = Document(b"Nombre,Fecha\nx,y\n", content_type="text/csv")
    write_config(project / "hub.toml", _config(feed_server))
    error = _poll(project).sources[0].error
    assert "the header row has no column for title" in error and "Nombre, Fecha" in error


def test_private_sheet_login_page_is_explained(project, feed_server) -> None:
    login = b"<!DOCTYPE html><html>Sign in</html>"
    feed_server.documents[CSV_PATH] = Document(login, content_type="text/html")
    write_config(project / "hub.toml", _config(feed_server))
    assert "got a web page, not CSV" in _poll(project).sources[0].error


def test_values_get_with_an_api_key_from_the_environment(project, feed_server, monkeypatch) -> None:
    monkeypatch.setenv("SHEETS_KEY", "AIza-secret")
    body = {"range": "'Hoja 1'!A1:Z", "majorDimension": "ROWS",
            "values": [["Título", "Publicar", "Estado"], ["Mercado medieval", 46143.5, "Listo"],
                       ["Sin fecha", "", "listo"]]}
    path = "/v4/spreadsheets/1AbCdEfGhIjKlMnOpQrStUv/values/%27Hoja%201%27%21A1%3AZ"
    feed_server.documents[path] = Document(json.dumps(body).encode(), content_type="application/json")
    write_config(project / "hub.toml", _config(feed_server, (
        f'api_key_env = "SHEETS_KEY"\napi_base = "{feed_server.base_url}"\nrange = "\'Hoja 1\'!A1:Z"\n')))
    report = _poll(project)
    assert report.sources[0].error is None, report.sources[0].error
    rows = _items(project)
    # serial 46143.5 = 2026-05-01 12:00 in Madrid
    assert rows["Mercado medieval"]["published_at"][:16] == "2026-05-01 10:00"
    assert "Sin fecha" in rows
    path_sent, headers = feed_server.requests[-1]
    assert headers["X-goog-api-key"] == "AIza-secret" and "AIza" not in path_sent


def test_an_empty_range_gives_no_items(shared, project, feed_server, monkeypatch) -> None:
    monkeypatch.setenv("SHEETS_KEY", "k")
    body = (shared / "fixtures" / "gsheets" / "values-get_body_empty-range_no-values-key.json").read_bytes()
    feed_server.documents["/v4/spreadsheets/1AbCdEfGhIjKlMnOpQrStUv/values/A1%3AZ"] = Document(
        body, content_type="application/json")
    write_config(project / "hub.toml", _config(feed_server, (
        f'api_key_env = "SHEETS_KEY"\napi_base = "{feed_server.base_url}"\n')))
    report = _poll(project)
    assert report.sources[0].error is None and report.stored == 0


@pytest.mark.parametrize(("pasted", "expected"), [
    ("https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUv/edit#gid=0",
     "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUv/export?format=csv&gid=0"),
    ("https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUv/edit?usp=sharing",
     "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUv/export?format=csv&gid=0"),
    ("https://docs.google.com/spreadsheets/d/e/2PACX-1vQabc/pubhtml?gid=7&single=true",
     "https://docs.google.com/spreadsheets/d/e/2PACX-1vQabc/pub?output=csv&gid=7&single=true"),
    ("https://docs.google.com/spreadsheets/d/e/2PACX-1vQabc/pub?output=csv",
     "https://docs.google.com/spreadsheets/d/e/2PACX-1vQabc/pub?output=csv"),
])
def test_the_csv_address_is_derived_from_what_the_admin_pastes(pasted: str, expected: str) -> None:
    assert csv_url(pasted) == expected


@pytest.mark.parametrize(("cell", "expected"), [
    ("2026-05-04 09:30", "2026-05-04T07:30:00+00:00"),
    ("2026-05-04T09:30:00Z", "2026-05-04T09:30:00+00:00"),
    ("04/05/2026 09:30", "2026-05-04T07:30:00+00:00"),
    ("4/5/2026", "2026-05-03T22:00:00+00:00"),
    ("Date(2026,4,4,9,30,0)", "2026-05-04T07:30:00+00:00"),
    ("46146.5", "2026-05-04T10:00:00+00:00"),
    ("mañana", None),
])
def test_publish_at_formats(cell: str, expected: str | None) -> None:
    from zoneinfo import ZoneInfo

    from whatsapp_news_hub_plugins.sources.gsheets import parse_when

    when = parse_when(cell, ZoneInfo("Europe/Madrid"))
    assert (when.isoformat() if when else None) == expected
