"""Every feed, WordPress and Sheets fixture in ../shared/fixtures, polled over loopback: each item
has a title, an absolute http(s) link, a date within the document's own range (or the fetch
time, when the document gives none it can be trusted with) and a JPEG/PNG image or none."""

from __future__ import annotations

import asyncio
import calendar
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest

from hub.app import App
from hub.intake.pipeline import poll_once
from hub.loopback import Document, LoopbackServer
from hub.timekeeping.clock import FakeClock
from tests.backend import open_db
from tests.conftest import write_config

NOW = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
FIXTURES = Path(os.environ.get("HUB_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared")) / "fixtures"
SLACK = timedelta(days=1)


def _names(folder: str) -> list[str]:
    where = FIXTURES / folder
    return sorted(p.name for p in where.iterdir() if p.is_file()) if where.is_dir() else ["(absent)"]


def _poll(project: Path, source: str) -> list[dict[str, Any]]:
    write_config(project / "hub.toml", '[hub]\ndatabase_url = "sqlite:///hub.db"\n' + source)
    app = App(project / "hub.toml")
    report = asyncio.run(poll_once(app.config, app.store, app.registry, clock=FakeClock(NOW), force=True))
    assert report.sources[0].error is None, report.sources[0].error
    return [dict(r) for r in open_db(project / "hub.db").execute("SELECT * FROM items")]


def _when(value: Any) -> datetime:
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _check(rows: list[dict[str, Any]], low: datetime | None, high: datetime | None,
           link_required: bool = True) -> None:
    assert rows, "the fixture yields items"
    for row in rows:
        assert row["title"].strip(), row
        link = urlsplit(row["url"])
        if link_required or row["url"]:
            assert link.scheme in ("http", "https") and link.netloc, row["url"]
        when = _when(row["published_at"])
        inside = low is not None and high is not None and low - SLACK <= when <= high + SLACK
        assert inside or when == NOW, (row["title"], when, low, high)
        image = row["image_url"]
        if image:
            path = urlsplit(image).path.lower()
            assert not path.endswith((".gif", ".webp", ".svg", ".ico", ".avif", ".bmp")), image


def _feed_range(body: bytes) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest date the document itself states (feedparser's reading)."""
    if body.lstrip()[:1] == b"{":
        stamps = [datetime.fromisoformat(v.replace("Z", "+00:00")) for item in json.loads(body)["items"]
                  for k in ("date_published", "date_modified") if isinstance(v := item.get(k), str)]
    else:
        parsed = feedparser.parse(body)
        stamps = [datetime.fromtimestamp(calendar.timegm(e[k]), UTC) for e in parsed.entries
                  for k in ("published_parsed", "updated_parsed") if dict.get(e, k)]
        # A date feedparser cannot read (another language's month names) still states its year.
        years = [int(y) for e in parsed.entries for k in ("published", "updated")
                 if not dict.get(e, k + "_parsed")
                 for y in re.findall(r"\b(?:19|20)\d\d\b", dict.get(e, k) or "")]
        stamps += [datetime(y, 1, 1, tzinfo=UTC) for y in years]
        stamps += [datetime(y, 12, 31, 23, 59, tzinfo=UTC) for y in years]
    stamps = [s if s.tzinfo else s.replace(tzinfo=UTC) for s in stamps]
    return (min(stamps), max(stamps)) if stamps else (None, None)


@pytest.mark.parametrize("name", _names("feeds"))
def test_every_feed_fixture(shared, project, feed_server: LoopbackServer, name: str) -> None:
    body = (shared / "fixtures" / "feeds" / name).read_bytes()
    kind = "application/feed+json" if name.endswith(".json") else "application/xml"
    feed_server.documents[f"/{name}"] = Document(body, content_type=kind)
    rows = _poll(project, f'[[sources]]\ntype = "rss"\nname = "f"\nurl = "{feed_server.url("/" + name)}"\n'
                          'allow_private = true\n')
    _check(rows, *_feed_range(body))


@pytest.mark.parametrize("name", _names("wordpress"))
def test_every_wordpress_fixture(shared, project, feed_server: LoopbackServer, name: str) -> None:
    if not name.startswith("wp-v2-posts"):
        pytest.skip(f"{name} is not a /wp/v2/posts answer: it holds no posts to poll")
    body = (shared / "fixtures" / "wordpress" / name).read_bytes()
    feed_server.documents["/"] = Document(b"<html></html>", content_type="text/html", headers={
        "Link": f'<{feed_server.url("/wp-json/")}>; rel="https://api.w.org/"'})
    feed_server.resolver = lambda target, _h: Document(body, content_type="application/json") \
        if target.startswith("/wp-json/wp/v2/posts") else None
    rows = _poll(project, f'[[sources]]\ntype = "wordpress"\nname = "w"\nurl = "{feed_server.url("/")}"\n'
                          'allow_private = true\nmax_pages = 1\n')
    stamps = [_when(p["date_gmt"]) for p in json.loads(body) if p.get("date_gmt")]
    _check(rows, min(stamps), max(stamps))


def _sheet_answer(name: str, raw: bytes) -> tuple[bytes, str] | None:
    """The values.get body or CSV export a fixture holds, with its Content-Type; None if neither."""
    if name.startswith("values-get_body_"):
        return raw, "application/json"
    if name.startswith("gspread-cassette_"):
        answers = [i["response"] for i in json.loads(raw)["interactions"]
                   if i["request"]["method"] == "GET" and ("/values/" in i["request"]["uri"]
                                                           or "/export?" in i["request"]["uri"])]
        filled = [a for a in answers if '"values"' in a["body"]["string"] or "text/csv" in
                  str(a["headers"].get("Content-Type"))]
        if filled:
            answer = filled[-1]
            return answer["body"]["string"].encode(), str(answer["headers"]["Content-Type"][0])
    return None


@pytest.mark.parametrize("name", _names("gsheets"))
def test_every_sheets_fixture(shared, project, feed_server: LoopbackServer, name: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_SWEEP_SHEETS_KEY", "key")
    answer = _sheet_answer(name, (shared / "fixtures" / "gsheets" / name).read_bytes())
    if answer is None:
        pytest.skip(f"{name}: a gviz answer, not a format the gsheets source reads (CSV, values.get)")
    body, kind = answer
    csv = "csv" in kind
    rows_in = [r.split(",") for r in body.decode().splitlines()] if csv else \
        json.loads(body).get("values") or []
    title = str(rows_in[0][0]) if rows_in else "title"
    rows = _poll(project, _sheet_source(feed_server, csv, title, body, kind))
    if len(rows_in) < 2:
        assert rows == [], "a header row alone (or nothing) is no item"
        return
    _check(rows, None, None, link_required=False)  # no date column: the fetch time; no URL column


def _sheet_source(server: LoopbackServer, csv: bool, title: str, body: bytes, kind: str) -> str:
    server.resolver = lambda _target, _h: Document(body, content_type=kind)
    common = (f'[[sources]]\ntype = "gsheets"\nname = "s"\nallow_private = true\n'
              f'columns = {{ title = {json.dumps(title, ensure_ascii=False)} }}\n')
    if csv:
        return common + f'sheet = "{server.url("/sheet.csv?format=csv")}"\n'
    return common + (f'sheet = "https://docs.google.com/spreadsheets/d/1abcdefghijkl/edit"\n'
                     f'api_key_env = "HUB_SWEEP_SHEETS_KEY"\napi_base = "{server.base_url}"\n')
