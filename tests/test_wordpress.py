"""The wordpress source against real /wp/v2/posts?_embed answers served over loopback."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from hub.app import App
from hub.intake.pipeline import poll_once
from hub.loopback import Document
from hub.timekeeping.clock import FakeClock
from tests.backend import open_db
from tests.conftest import write_config


def _serve(shared, server, *, link_header: bool = True) -> None:
    folder = shared / "fixtures" / "wordpress"
    pages = {
        "1": (folder / "wp-v2-posts_embed_category7_demo-worona.json").read_bytes(),
        "2": (folder / "wp-v2-posts_embed_category7_page2_demo-worona.json").read_bytes(),
    }
    headers = {"Link": f'<{server.url("/wp-json/")}>; rel="https://api.w.org/"'} if link_header else {}
    server.documents["/"] = Document(b"<html>home</html>", content_type="text/html", headers=headers)

    def resolve(target: str, _headers: dict) -> Document | None:
        parts = urlsplit(target)
        if parts.path != "/wp-json/wp/v2/posts":
            return None
        query = parse_qs(parts.query)
        body = b"[]" if "after" in query else pages[query["page"][0]]
        return Document(body, content_type="application/json",
                        headers={"X-WP-TotalPages": "1" if "after" in query else "2", "X-WP-Total": "10"})

    server.resolver = resolve


def _poll(project, server, extra: str = ""):
    write_config(project / "hub.toml", (
        '[hub]\ndatabase_url = "sqlite:///hub.db"\n[[sources]]\ntype = "wordpress"\nname = "web"\n'
        f'url = "{server.url("/")}"\nallow_private = true\n{extra}'))
    app = App(project / "hub.toml")
    clock = FakeClock(datetime(2026, 4, 1, tzinfo=UTC))
    return asyncio.run(poll_once(app.config, app.store, app.registry, clock=clock, force=True))


def _items(project) -> dict[str, dict]:
    db = open_db(project / "hub.db")
    rows = {r["guid"]: dict(r) for r in db.execute("SELECT * FROM items")}
    for row in rows.values():
        row["tags"] = json.loads(row["tags"])
    return rows


def test_discovers_the_api_walks_pages_and_maps_posts(shared, project, feed_server) -> None:
    _serve(shared, feed_server)
    report = _poll(project, feed_server)
    assert report.sources[0].error is None, report.sources[0].error
    rows = _items(project)
    assert len(rows) == 10
    item = rows["https://demo.worona.org/?p=57"]
    assert item["title"] == "Shinjuku Gyoen National Garden"
    assert item["url"] == "https://demo.worona.org/shinjuku-gyoen-national-garden/"
    assert item["published_at"][:19] == "2016-10-25 18:25:24"
    assert item["tags"] == ["Nature", "Photography", "Japan", "National Garden", "Tokyo"]  # not "Posts"
    assert item["image_url"].startswith("https://demo.worona.org/wp-content/uploads/2016/11/japan")
    assert item["author"] == "Reyes Martinez"
    assert item["summary"].startswith("Shinjuku Gyoen National Garden (新宿御苑 Shinjuku Gyoen) is a")
    titles = {r["title"] for r in rows.values()}
    assert "Switzerland’s Mountains" in titles and "The Land of Fire & Ice" in titles

    paths = [p for p, _ in feed_server.requests]
    assert paths[0] == "/" and sum("/wp-json/wp/v2/posts" in p for p in paths) == 2
    assert "_embed=1" in paths[1] and "page=2" in paths[2]


def test_next_poll_asks_only_for_newer_posts(shared, project, feed_server) -> None:
    _serve(shared, feed_server)
    _poll(project, feed_server)
    report = _poll(project, feed_server)
    assert report.sources[0].error is None and report.stored == 0
    last = feed_server.requests[-1][0]
    assert parse_qs(urlsplit(last).query)["after"] == ["2016-10-24T18:25:24"]
    assert [p for p, _ in feed_server.requests].count("/") == 1  # the API root was remembered


def test_falls_back_to_wp_json_and_can_leave_tags_out(shared, project, feed_server) -> None:
    _serve(shared, feed_server, link_header=False)
    _poll(project, feed_server, "categories_as_tags = false\ntags = [\"web\"]\n")
    rows = _items(project)
    assert len(rows) == 10 and all(r["tags"] == ["web"] for r in rows.values())


def test_application_password_comes_from_the_environment(shared, project, feed_server, monkeypatch) -> None:
    _serve(shared, feed_server)
    monkeypatch.setenv("WP_APP_PASSWORD", "abcd efgh ijkl")
    report = _poll(project, feed_server, 'user = "editor"\npassword_env = "WP_APP_PASSWORD"\n')
    assert report.sources[0].error is None
    sent = feed_server.requests[-1][1]["Authorization"]
    assert base64.b64decode(sent.split()[1]).decode() == "editor:abcd efgh ijkl"


def test_missing_password_variable_is_a_clear_error(shared, project, feed_server, monkeypatch) -> None:
    _serve(shared, feed_server)
    monkeypatch.delenv("WP_APP_PASSWORD", raising=False)
    report = _poll(project, feed_server, 'user = "editor"\npassword_env = "WP_APP_PASSWORD"\n')
    assert "environment variable WP_APP_PASSWORD is not set" in report.sources[0].error
    assert _items(project) == {}


def test_wordpress_error_answer_is_a_source_failure(shared, project, feed_server) -> None:
    feed_server.documents["/"] = Document(b"<html></html>", content_type="text/html")
    feed_server.resolver = lambda target, headers: Document(
        b'{"code":"rest_forbidden","message":"Sorry, you are not allowed to do that."}',
        content_type="application/json", status=401)
    report = _poll(project, feed_server)
    assert "HTTP 401" in report.sources[0].error


def test_posts_url_for_pretty_and_plain_permalinks() -> None:
    from whatsapp_news_hub_plugins.sources.wordpress import posts_url

    assert posts_url("https://example.org/wp-json/", {"page": "2"}) == \
        "https://example.org/wp-json/wp/v2/posts?page=2"
    assert posts_url("https://example.org/?rest_route=/", {"page": "2"}) == \
        "https://example.org/?rest_route=%2Fwp%2Fv2%2Fposts&page=2"


def test_later_polls_read_oldest_first_so_a_burst_is_not_skipped(shared, project, feed_server) -> None:
    _serve(shared, feed_server)
    _poll(project, feed_server)
    _poll(project, feed_server)
    first, later = feed_server.requests[1][0], feed_server.requests[-1][0]
    assert parse_qs(urlsplit(first).query)["order"] == ["desc"]
    assert parse_qs(urlsplit(later).query)["order"] == ["asc"]
