"""``hub poll --once`` against a real loopback HTTP server: new items once, nothing the second time."""

from __future__ import annotations

from importlib import resources

from hub.loopback import Document
from tests.backend import open_db
from tests.conftest import write_config


def _config(feed_url: str) -> str:
    return (
        '[hub]\ndatabase_url = "sqlite:///data/hub.db"\n\n'
        f'[[sources]]\ntype = "rss"\nname = "villanueva"\nurl = "{feed_url}"\nallow_private = true\n'
        'tags = ["noticias"]\n\n[[filters]]\ntype = "dedup"\nbackfill = 5\n'
        'backfill_within = "36500 days"\n\n[sinks.console]\n'
    )


def _sample() -> bytes:
    return resources.files("hub").joinpath("samples/feed.xml").read_bytes()


def test_poll_once_stores_items_then_nothing_new(hub_cli, project, feed_server) -> None:
    (project / "data").mkdir()
    feed_server.documents["/feed.xml"] = Document(_sample())
    write_config(hub_cli.config, _config(feed_server.url("/feed.xml")))

    first = hub_cli("poll", "--once")
    assert first.exit_code == 0, first.output
    assert "5 new item(s) stored" in first.output

    db = open_db(project / "data" / "hub.db")
    rows = db.execute("SELECT guid, title, canonical_url, tags FROM items ORDER BY guid").fetchall()
    assert len(rows) == 5
    guid, title, canonical, tags = rows[-1]
    assert guid == "villanueva-noticia-1041"
    assert title == "Abre el plazo de inscripción en las escuelas deportivas municipales"
    assert canonical == "https://villanueva.example.org/noticias/escuelas-deportivas-2026/"
    assert "noticias" in tags and "Deportes" in tags

    second = hub_cli("poll", "--once", "--force")
    assert second.exit_code == 0, second.output
    assert "0 new item(s) stored" in second.output
    assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 5
    # The second request was conditional and the server said 304.
    assert feed_server.requests[-1][1].get("If-None-Match") == Document(_sample()).etag


def test_changed_feed_with_same_guids_stores_nothing(hub_cli, project, feed_server) -> None:
    feed_server.documents["/feed.xml"] = Document(_sample())
    write_config(hub_cli.config, _config(feed_server.url("/feed.xml")).replace("data/", ""))
    hub_cli("poll", "--once")
    feed_server.documents["/feed.xml"] = Document(_sample().replace(b"Nuevo punto", b"Nuevo  punto"))
    result = hub_cli("poll", "--once", "--force")
    assert "0 fetched" not in result.output and "5 already stored" in result.output


def test_poll_respects_interval_unless_forced(hub_cli, project, feed_server) -> None:
    feed_server.documents["/feed.xml"] = Document(_sample())
    write_config(hub_cli.config, _config(feed_server.url("/feed.xml")).replace("data/", ""))
    hub_cli("poll", "--once")
    result = hub_cli("poll", "--once")
    assert "not due yet" in result.output
    assert len(feed_server.requests) == 1


def test_unreachable_feed_fails_with_reason_and_exit_1(hub_cli, project, feed_server) -> None:
    write_config(hub_cli.config, _config(feed_server.url("/missing.xml")).replace("data/", ""))
    result = hub_cli("poll", "--once")
    assert result.exit_code == 1
    assert "villanueva: FAILED" in result.output and "HTTP 404" in result.output


def test_garbage_is_a_readable_source_failure(hub_cli, project, feed_server) -> None:
    feed_server.documents["/feed.xml"] = Document(b"<html><body>Not a feed</body></html>",
                                                  content_type="text/html")
    write_config(hub_cli.config, _config(feed_server.url("/feed.xml")).replace("data/", ""))
    result = hub_cli("poll", "--once")
    assert result.exit_code == 1
    assert "not a readable feed" in result.output
    db = open_db(project / "hub.db")
    assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 0


def test_plain_hub_poll_polls_once_and_items_list_shows_what_came(hub_cli, project, feed_server) -> None:
    import json

    feed_server.documents["/feed.xml"] = Document(_sample())
    write_config(hub_cli.config, _config(feed_server.url("/feed.xml")).replace("data/", "")
                 .replace("backfill = 5", "backfill = 2"))
    first = hub_cli("poll")
    assert first.exit_code == 0, first.output
    assert "2 new item(s) stored" in first.output
    listing = hub_cli("items", "list", "--limit", "3")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert len([line for line in lines if line.startswith("#")]) == 3
    assert "villanueva" in lines[0] and "seen — " in listing.output  # the backfill's reason shows
    assert lines[-1].startswith("(times in Europe/Madrid)")
    items = json.loads(hub_cli("items", "list", "--json").output)
    assert sorted(i["status"] for i in items).count("ready") == 2 and len(items) == 5
    assert all(i["reason"] for i in items if i["status"] == "seen")
    seen = json.loads(hub_cli("items", "list", "--json", "--status", "seen").output)
    assert {i["status"] for i in seen} == {"seen"} and len(seen) == 3
