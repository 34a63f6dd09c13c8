"""Feeds as the real web writes them, each situation of issue 13 built on purpose, polled over
loopback with a fake clock, and checked by what is stored and by what `hub items why` says."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from hub.app import App
from hub.intake.pipeline import PollReport, poll_once
from hub.loopback import Document, LoopbackServer
from hub.timekeeping.clock import FakeClock
from tests.backend import open_db
from tests.conftest import HubRunner, write_config

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)


def rss(items: list[str], channel: str = "") -> Document:
    """A feed of raw ``<item>`` bodies."""
    body = "".join(f"<item>{item}</item>" for item in items)
    return Document(('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
                     'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>'
                     f"<link>https://town.example.org/</link>{channel}{body}</channel></rss>"
                     ).encode())


def item(title: str, *, guid: str | None = None, link: str = "https://town.example.org/news/",
         minutes: int = -60, extra: str = "", date: str | None = None) -> str:
    """One ``<item>``: published ``minutes`` after NOW (so, by default, an hour ago)."""
    when = date if date is not None else format_datetime(NOW + timedelta(minutes=minutes))
    return ((f'<guid isPermaLink="false">{guid}</guid>' if guid else "")
            + f"<title>{title}</title><link>{link}</link><description>Sobre {title}.</description>"
            + (f"<pubDate>{when}</pubDate>" if when else "") + extra)


def config(server: LoopbackServer, *paths: str, filters: str = "", extra: str = "") -> str:
    sources = "".join(
        f'[[sources]]\ntype = "rss"\nname = "{Path(p).stem}"\nurl = "{server.url(p)}"\n'
        f'allow_private = true\n{extra}\n' for p in paths)
    return f'[hub]\ndatabase_url = "sqlite:///hub.db"\n\n{sources}{filters}'


DEDUP = '[[filters]]\ntype = "dedup"\nbackfill = 100\n'


def poll(project: Path, clock: FakeClock | None = None, force: bool = True) -> PollReport:
    app = App(project / "hub.toml")
    return asyncio.run(poll_once(app.config, app.store, app.registry, clock=clock or FakeClock(NOW),
                                 force=force))


def rows(project: Path, source: str | None = None) -> list[dict[str, Any]]:
    db = open_db(project / "hub.db")
    query = "SELECT * FROM items" + (" WHERE source = ?" if source else "") + " ORDER BY id"
    return [dict(r) for r in db.execute(query, (source,) if source else ())]


def why(project: Path, item_id: int) -> str:
    result = HubRunner(project / "hub.toml")("items", "why", str(item_id))
    assert result.exit_code == 0, result.output
    return result.output


# --- dedup: a duplicate is the same story, not a coincidence of one field ----------------------

def test_items_sharing_a_link_are_distinct_stories(project, feed_server) -> None:
    """A podcast gives every episode its home page as <link>: each episode is its own story."""
    episodes = [item(f"Episodio {n}: {topic}", guid=f"ep-{n}", minutes=-n)
                for n, topic in enumerate(["la feria", "el pleno", "las obras", "el mercado"])]
    feed_server.documents["/podcast.xml"] = rss(episodes)
    write_config(project / "hub.toml", config(feed_server, "/podcast.xml", filters=DEDUP))
    poll(project)
    stored = rows(project)
    assert [r["status"] for r in stored] == ["ready"] * 4
    assert "dedup: new story" in why(project, stored[1]["id"])

    # The next poll brings one more episode, same link: sent too, not "a duplicate".
    feed_server.documents["/podcast.xml"] = rss(
        [item("Episodio 4: la biblioteca", guid="ep-4", minutes=5), *episodes])
    poll(project, FakeClock(NOW + timedelta(minutes=10)))
    newest = rows(project)[-1]
    assert (newest["guid"], newest["status"]) == ("ep-4", "ready")
    assert "dedup: new story" in why(project, newest["id"])


def test_items_without_guid_sharing_a_link_are_kept_apart(project, feed_server) -> None:
    """No guid, one shared link: the link alone would make them one id, hiding all but one."""
    feed_server.documents["/forum.xml"] = rss(
        [item("Corte de agua el lunes"), item("Fiestas: programa"), item("Bando de limpieza")])
    write_config(project / "hub.toml", config(feed_server, "/forum.xml", filters=DEDUP))
    poll(project)
    stored = rows(project)
    assert len(stored) == 3 and len({r["guid"] for r in stored}) == 3
    assert all(r["guid"].startswith("https://town.example.org/news/#") for r in stored)


def test_a_shared_link_with_the_same_title_is_still_one_story(project, feed_server) -> None:
    feed_server.documents["/a.xml"] = rss([item("Obras en la plaza", guid="a-1",
                                                link="https://town.example.org/obras")])
    feed_server.documents["/b.xml"] = rss([item("Obras en la plaza", guid="b-9",
                                                link="https://town.example.org/obras?utm_source=x")])
    write_config(project / "hub.toml", config(feed_server, "/a.xml", "/b.xml",
                                              filters=DEDUP + 'same_title_within = "none"\n'))
    poll(project)
    first, second = rows(project)
    assert second["status"] == "dropped"
    assert second["reason"] == f"dedup: duplicate of item #{first['id']} from a (same link and title)"
    assert "same link and title" in why(project, second["id"])


def test_the_same_guid_in_two_sources_is_two_stories(project, feed_server) -> None:
    """Two JSON Feeds (or sheets) numbering their items 1, 2, …: a guid is unique in its source."""
    feed_server.documents["/club.xml"] = rss([item("Torneo de ajedrez", guid="1",
                                                   link="https://club.example.org/torneo")])
    feed_server.documents["/ampa.xml"] = rss([item("Reunión de familias", guid="1",
                                                   link="https://ampa.example.org/reunion")])
    write_config(project / "hub.toml", config(feed_server, "/club.xml", "/ampa.xml", filters=DEDUP))
    poll(project)
    stored = rows(project)
    assert [(r["source"], r["guid"], r["status"]) for r in stored] == [
        ("club", "1", "ready"), ("ampa", "1", "ready")]
    assert "dedup: new story" in why(project, stored[1]["id"])


def test_cyrillic_and_chinese_titles_differing_in_words_are_different(project, feed_server) -> None:
    titles = ["В Москве открыли 3 новые станции", "В Казани закрыли 3 старые школы",
              "北京发布新的交通规定", "上海发布新的交通规定"]
    feed_server.documents["/world.xml"] = rss(
        [item(t, guid=f"w{n}", link=f"https://world.example.org/{n}") for n, t in enumerate(titles)])
    write_config(project / "hub.toml", config(feed_server, "/world.xml", filters=DEDUP))
    poll(project)
    stored = rows(project)
    assert [r["status"] for r in stored] == ["ready"] * 4
    assert len({r["fingerprint"] for r in stored}) == 4
    assert all("new story" in why(project, r["id"]) for r in stored)


def test_a_cyrillic_edit_is_seen_as_an_edit(project, feed_server) -> None:
    feed_server.documents["/news.xml"] = rss([item("Мэрия объявила конкурс", guid="m1")])
    write_config(project / "hub.toml", config(feed_server, "/news.xml", filters=DEDUP))
    poll(project)
    feed_server.documents["/news.xml"] = rss([item("Мэрия отменила конкурс", guid="m1")])
    poll(project, FakeClock(NOW + timedelta(minutes=10)))
    (row,) = rows(project)
    assert (row["title"], row["revision"]) == ("Мэрия отменила конкурс", 1)
    assert "edited (revision 1)" in why(project, row["id"])


def test_first_poll_backfills_only_fresh_items(project, feed_server) -> None:
    old = [item(f"Noticia de 2018 número {n}", guid=f"old-{n}", link=f"https://x.example.org/{n}",
                date=f"Mon, 0{n + 1} Jan 2018 10:00:00 GMT") for n in range(3)]
    fresh = item("Hoy: mercado medieval", guid="new", link="https://x.example.org/hoy", minutes=-120)
    feed_server.documents["/late.xml"] = rss([*old, fresh])
    write_config(project / "hub.toml", config(
        feed_server, "/late.xml", filters='[[filters]]\ntype = "dedup"\nbackfill = 2\n'))
    poll(project)
    status = {r["guid"]: r for r in rows(project)}
    assert status["new"]["status"] == "ready"
    assert {status[f"old-{n}"]["status"] for n in range(3)} == {"seen"}
    told = why(project, status["old-0"]["id"])
    assert "backfill = 2, and only items of the last 3 day(s) are backfilled" in told


def test_backfill_freshness_follows_the_relevance_max_age(project, feed_server) -> None:
    week_old = item("Hace cinco días", guid="d5", link="https://x.example.org/d5", minutes=-5 * 1440)
    feed_server.documents["/late.xml"] = rss([week_old])
    write_config(project / "hub.toml", config(
        feed_server, "/late.xml", filters='[[filters]]\ntype = "dedup"\nbackfill = 2\n'
        '[[filters]]\ntype = "relevance"\nmax_age = "7 days"\n'))
    poll(project)
    assert rows(project)[0]["status"] == "ready"


# --- the right image ------------------------------------------------------------------------

MEDIA = ('<media:content url="https://cdn.example.org/fotos/feria-140.jpg" medium="image" '
         'width="140" height="79"/>'
         '<media:content url="https://cdn.example.org/fotos/feria-460.jpg" medium="image" '
         'width="460" height="259"/>'
         '<media:content url="https://cdn.example.org/fotos/feria-300.jpg" medium="image" '
         'width="300" height="169"/>')
ICON = '<description>&lt;img src="/icons/rss.gif" width="16" height="16"&gt; Sobre la feria.</description>'


def test_the_largest_declared_size_wins_and_icons_never_do(project, feed_server) -> None:
    feed_server.documents["/img.xml"] = rss([
        item("Feria con tres tamaños", guid="sizes", link="https://x.example.org/1", extra=MEDIA),
        f'<guid isPermaLink="false">icon-only</guid><title>Solo un icono</title><link>https://x.example.org/2</link>{ICON}',
        item("Imagen en GIF y WebP", guid="formats", link="https://x.example.org/3",
             extra='<media:content url="https://cdn.example.org/a.gif" medium="image" width="800"/>'
                   '<enclosure url="https://cdn.example.org/b.webp" type="image/webp" length="900"/>'),
        item("Foto demasiado grande", guid="huge", link="https://x.example.org/4",
             extra='<enclosure url="https://cdn.example.org/raw.jpg" type="image/jpeg" '
                   'length="9000000"/>'),
        item("Un píxel y una foto", guid="pixel", link="https://x.example.org/5",
             extra='<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">'
                   '&lt;img src="https://t.example.org/p.jpg" width="1" height="1"&gt;'
                   '&lt;img src="/fotos/plaza.png" width="640"&gt;</content:encoded>'),
    ])
    write_config(project / "hub.toml", config(feed_server, "/img.xml"))
    poll(project)
    image = {r["guid"]: r["image_url"] for r in rows(project)}
    assert image["sizes"] == "https://cdn.example.org/fotos/feria-460.jpg"
    assert image["icon-only"] is None and image["formats"] is None and image["huge"] is None
    assert image["pixel"] == "https://x.example.org/fotos/plaza.png"  # resolved against the link
    told = why(project, next(r["id"] for r in rows(project) if r["guid"] == "icon-only"))
    assert "image: none (sent as text with a link preview)" in told


# --- dates that are not dates ---------------------------------------------------------------

def sources_listing(project: Path) -> str:
    result = HubRunner(project / "hub.toml")("sources")
    assert result.exit_code == 0, result.output
    return result.output


def test_non_rfc_dates_are_read_and_untrustworthy_ones_replaced(project, feed_server) -> None:
    feed_server.documents["/slash.xml"] = rss([
        item("Pleno de marzo", guid="s1", link="https://x.example.org/s1", date="2026/3/19 14:33:00"),
        item("Bando de fiestas", guid="s2", link="https://x.example.org/s2", date="2026/3/18 9:05:00"),
        item("Día europeo", guid="s3", link="https://x.example.org/s3", date="18/03/2026 10:00"),
    ])
    feed_server.documents["/same.xml"] = rss([
        item(f"Aviso {n}", guid=f"a{n}", link=f"https://x.example.org/a{n}",
             date="Mon, 01 Jan 2018 00:00:00 GMT") for n in range(4)])
    feed_server.documents["/future.xml"] = rss([
        item("Desde el futuro", guid="f1", link="https://x.example.org/f1",
             date="Fri, 01 Jan 2100 10:00:00 GMT"),
        item("Sin fecha", guid="f2", link="https://x.example.org/f2", date=""),
        item("Normal", guid="f3", link="https://x.example.org/f3")])
    write_config(project / "hub.toml", config(feed_server, "/slash.xml", "/same.xml", "/future.xml"))
    poll(project)
    when = {r["guid"]: r["published_at"][:16] for r in rows(project)}
    assert (when["s1"], when["s2"], when["s3"]) == ("2026-03-19 14:33", "2026-03-18 09:05",
                                                    "2026-03-18 10:00")
    fetched = f"{NOW:%Y-%m-%d %H:%M}"
    assert {when[f"a{n}"] for n in range(4)} == {fetched}, "one instant for all: a template's date"
    assert (when["f1"], when["f2"]) == (fetched, fetched) and when["f3"] != fetched
    listing = sources_listing(project)
    assert "warning:      same: all 4 items carry the same date (2018-01-01 00:00 UTC)" in listing
    assert "future: 1 item(s) dated in the future (up to 2100-01-01 10:00 UTC)" in listing
    assert "future: 1 item(s) without a readable date" in listing
    assert "warning" not in listing.split("same [rss]")[0], "slash's dates were all fine"
    f1 = next(r for r in rows(project) if r["guid"] == "f1")
    madrid = NOW.astimezone(ZoneInfo("Europe/Madrid"))  # `hub items why` shows the hub's zone
    assert f"published: {madrid:%Y-%m-%d %H:%M} CET" in why(project, f1["id"])


# --- links: no trackers to subscribers ------------------------------------------------------

def test_tracking_parameters_are_not_sent(project, feed_server) -> None:
    feed_server.documents["/t.xml"] = rss([item(
        "Mercado", guid="t1",
        link="https://x.example.org/mercado?id=7&amp;utm_source=rss&amp;xtor=RSS-3208&amp;fbclid=Ab1#fotos")])
    write_config(project / "hub.toml", config(feed_server, "/t.xml"))
    poll(project)
    (row,) = rows(project)
    assert row["url"] == "https://x.example.org/mercado?id=7#fotos"
    assert row["canonical_url"] == "https://x.example.org/mercado?id=7"
    assert "link: https://x.example.org/mercado?id=7#fotos" in why(project, row["id"])


# --- private addresses ----------------------------------------------------------------------

def test_a_source_at_127_0_0_1_is_refused_without_allow_private(project, feed_server) -> None:
    feed_server.documents["/intranet.xml"] = rss([item("Secreto", guid="x")])
    write_config(project / "hub.toml", config(feed_server, "/intranet.xml").replace(
        "allow_private = true\n", ""))
    report = poll(project)
    assert report.sources[0].error is not None
    assert "refused: 127.0.0.1 is a private or local address" in report.sources[0].error
    assert "allow_private = true" in report.sources[0].error
    assert feed_server.requests == [], "refused before connecting"
    assert rows(project) == []
    assert "refused: 127.0.0.1" in sources_listing(project)


def _public_dns(monkeypatch, names: dict[str, str]) -> None:
    """Host names answer as ``names`` says, with no DNS query leaving the machine."""
    import ipaddress

    import hub.netguard

    real = hub.netguard.resolve

    async def resolve(host: str, port: int) -> list:
        if host in names:
            return [ipaddress.ip_address(names[host])]
        return await real(host, port)

    monkeypatch.setattr(hub.netguard, "resolve", resolve)


def _mock_client(answers: dict[str, httpx.Response], seen: list[str]) -> httpx.AsyncClient:
    """A client whose transport answers from ``answers``: no socket is opened at all."""
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return answers.get(str(request.url), httpx.Response(404))
    return httpx.AsyncClient(transport=httpx.MockTransport(handle), follow_redirects=False)


def test_a_redirect_to_the_metadata_service_is_refused_before_connecting(project, monkeypatch) -> None:
    _public_dns(monkeypatch, {"news.town.example": "93.184.216.34"})
    seen: list[str] = []
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    client = _mock_client({"http://news.town.example/feed.xml": httpx.Response(
        302, headers={"Location": metadata})}, seen)
    write_config(project / "hub.toml", '[hub]\ndatabase_url = "sqlite:///hub.db"\n[[sources]]\n'
                 'type = "rss"\nname = "town"\nurl = "http://news.town.example/feed.xml"\n')
    app = App(project / "hub.toml")
    report = asyncio.run(poll_once(app.config, app.store, app.registry, clock=FakeClock(NOW),
                                   client=client))
    assert seen == ["http://news.town.example/feed.xml"], "169.254.169.254 never asked"
    assert "refused: 169.254.169.254 is a private or local address" in (report.sources[0].error or "")


def test_a_host_name_resolving_to_loopback_is_private_too(project, monkeypatch) -> None:
    _public_dns(monkeypatch, {"intranet.town.example": "127.0.0.1"})
    seen: list[str] = []
    write_config(project / "hub.toml", '[hub]\ndatabase_url = "sqlite:///hub.db"\n[[sources]]\n'
                 'type = "rss"\nname = "town"\nurl = "http://intranet.town.example/feed.xml"\n')
    app = App(project / "hub.toml")
    report = asyncio.run(poll_once(app.config, app.store, app.registry, clock=FakeClock(NOW),
                                   client=_mock_client({}, seen)))
    assert seen == [] and "refused: intranet.town.example is a private" in (report.sources[0].error or "")


# --- the server's pace: Cache-Control, Expires, <ttl>, Retry-After ----------------------------

def _next_poll(project: Path, name: str) -> datetime:
    db = open_db(project / "hub.db")
    value = db.execute("SELECT next_poll_at FROM sources WHERE name = ?", (name,)).fetchone()[0]
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def test_cache_control_and_ttl_slow_the_polls_and_say_so(project, feed_server) -> None:
    feed_server.documents["/cached.xml"] = Document(
        rss([item("Uno", guid="c1")]).body, headers={"Cache-Control": "public, max-age=3600"})
    feed_server.documents["/ttl.xml"] = rss([item("Dos", guid="t1")], channel="<ttl>120</ttl>")
    feed_server.documents["/short.xml"] = Document(
        rss([item("Tres", guid="s1")]).body, headers={"Cache-Control": "max-age=60"})
    write_config(project / "hub.toml", config(feed_server, "/cached.xml", "/ttl.xml", "/short.xml"))
    clock = FakeClock(NOW)
    poll(project, clock, force=False)
    assert _next_poll(project, "cached") == NOW + timedelta(hours=1)
    assert _next_poll(project, "ttl") == NOW + timedelta(hours=2)
    assert _next_poll(project, "short") == NOW + timedelta(minutes=10), "never slower than asked"
    listing = sources_listing(project)
    assert "every:        10 minutes, but polled every 60 minutes at most, as the server asks" in listing
    assert "polled every 2 hours at most" in listing

    clock.advance(minutes=30)  # `every` has passed, the server's hour has not
    asked = len(feed_server.requests)
    report = poll(project, clock, force=False)
    assert {s.name for s in report.sources if not s.skipped} == {"short"}
    assert [t for t, _ in feed_server.requests[asked:]] == ["/short.xml"]


def test_expires_is_honoured_against_the_servers_date(project, feed_server) -> None:
    feed_server.documents["/exp.xml"] = Document(rss([item("Uno", guid="e1")]).body, headers={
        "Date": "Fri, 20 Mar 2026 09:00:00 GMT", "Expires": "Fri, 20 Mar 2026 09:45:00 GMT"})
    write_config(project / "hub.toml", config(feed_server, "/exp.xml"))
    poll(project)
    assert _next_poll(project, "exp") == NOW + timedelta(minutes=45)


def test_retry_after_on_429_and_503_is_honoured(project, feed_server) -> None:
    feed_server.documents["/busy.xml"] = Document(b"busy", status=503, headers={"Retry-After": "5400"})
    feed_server.documents["/slow.xml"] = Document(b"slow", status=429, headers={  # a date: the
        "Retry-After": "Fri, 20 Mar 2026 12:00:00 GMT", "Date": "Fri, 20 Mar 2026 09:00:00 GMT"})
    write_config(project / "hub.toml", config(feed_server, "/busy.xml", "/slow.xml"))
    poll(project)
    assert _next_poll(project, "busy") == NOW + timedelta(minutes=90)
    assert _next_poll(project, "slow") == NOW + timedelta(hours=3)  # server's own Date the base
