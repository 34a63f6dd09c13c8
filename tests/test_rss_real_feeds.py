"""Real-world feeds from ../shared/fixtures, served over loopback, checked field by field."""

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

NOW = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def _poll_fixture(shared, project, server, name: str, content_type: str = "application/xml"):
    body = (shared / "fixtures" / "feeds" / name).read_bytes()
    server.documents[f"/feeds/{name}"] = Document(body, content_type=content_type)
    write_config(project / "hub.toml", (
        '[hub]\ndatabase_url = "sqlite:///hub.db"\n[[sources]]\ntype = "rss"\nname = "feed"\n'
        f'url = "{server.url("/feeds/" + name)}"\nallow_private = true\ntags = ["noticias"]\n'))
    app = App(project / "hub.toml")
    report = asyncio.run(poll_once(app.config, app.store, app.registry, clock=FakeClock(NOW)))
    db = open_db(project / "hub.db")
    rows = {r["guid"]: dict(r) for r in db.execute("SELECT * FROM items")}
    for row in rows.values():
        row["tags"] = json.loads(row["tags"])
    return report.sources[0], rows


def _when(row) -> str:
    return row["published_at"][:19]


def test_wordpress_rss_full_content_author_categories_image(shared, project, feed_server) -> None:
    result, rows = _poll_fixture(shared, project, feed_server, "wordpress_natashatherobot.rss.xml")
    assert result.error is None and len(rows) == 10
    item = rows["https://www.natashatherobot.com/?p=6602"]
    assert item["title"] == "The Easiest Way to Get a URL for your Apple Wallet Passkit Pass"
    assert item["url"] == "https://www.natashatherobot.com/url-apple-wallet-passkit-pass/"
    assert _when(item) == "2017-07-07 11:06:10"
    assert item["author"] == "Natasha Murashev"
    assert item["tags"] == ["noticias", "iPhone", "event", "ios", "passkit", "passkit pass", "wallet"]
    assert item["image_url"] == ("https://www.natashatherobot.com/wp-content/uploads/"
                                 "Screen-Shot-2017-07-07-at-12.27.33-PM.png")
    assert item["text"].startswith("For try! Swift NYC, we are playing with the idea")
    assert len(item["text"]) > len(item["summary"])  # content:encoded, not the short description
    titles = [r["title"] for r in rows.values()]
    assert all("&#" not in t for t in titles)


def test_feedburner_media_images_original_links_and_bozo_warning(shared, project, feed_server) -> None:
    name = "wordpress_techcrunch_feedburner_media.rss.xml"
    result, rows = _poll_fixture(shared, project, feed_server, name)
    assert result.error is None and len(rows) == 20
    assert any("malformed but readable" in w for w in result.warnings)
    item = rows["http://techcrunch.com/?p=446154"]
    assert item["title"] == "Angie’s List Sets Price Range IPO At $11 To $13 Per Share; Valued At Over $600M"
    assert item["url"] == ("http://techcrunch.com/2011/11/02/"
                           "angies-list-prices-ipo-at-11-to-13-per-share-valued-at-over-600m/")
    assert item["image_url"] == "http://tctechcrunch2011.files.wordpress.com/2011/11/angies-list.jpeg?w=150"
    assert item["author"] == "Leena Rao" and "TC" in item["tags"]
    assert _when(item) == "2011-11-02 17:25:27"


def test_enclosure_image_and_tracking_parameters(shared, project, feed_server) -> None:
    _, rows = _poll_fixture(shared, project, feed_server, "lemonde_fr_enclosure_images.rss.xml")
    item = rows["http://www.lemonde.fr/tiny/5255095/"]
    assert item["title"] == "JO d’hiver 2018 : pas de médaille pour Martin Fourcade"
    assert item["url"].endswith("_5193626.html"), "xtor=RSS-3208 is not sent to subscribers"
    assert "xtor" not in item["canonical_url"] and item["canonical_url"].endswith("_5193626.html")
    assert item["image_url"].startswith("http://s1.lemde.fr/image/2018/02/11/644x322/5255112_3_a8dc")
    assert _when(item) == "2018-02-11 10:00:26"  # +0100 in the feed, UTC in the store


def test_relative_links_are_resolved_against_the_feed_url(shared, project, feed_server) -> None:
    _, rows = _poll_fixture(shared, project, feed_server, "github_releases_gulp_relative_links.atom.xml")
    item = rows["tag:github.com,2008:Repository/11167738/v3.9.0"]
    assert item["url"] == feed_server.url("/gulpjs/gulp/releases/tag/v3.9.0")
    assert item["title"] == "v3.9.0" and item["author"] == "contra"
    assert item["image_url"] is None, "a 30 px avatar is an icon, not the story's picture"
    assert _when(item) == "2015-06-01 21:49:41"  # only <updated>, +02:00


def test_xml_base_resolves_atom_links(shared, project, feed_server) -> None:
    _, rows = _poll_fixture(shared, project, feed_server, "wordpress_atom_onefoottsunami_xml_base.atom.xml")
    item = rows["http://onefoottsunami.com/?p=14861"]
    assert item["url"] == "http://onefoottsunami.com/2015/09/07/perverse-incentives-2/"
    assert item["title"] == "Perverse Incentives" and item["author"] == "Paul Kafasis"


def test_feed_without_guids_or_dates_gets_stable_ids_and_the_poll_time(shared, project, feed_server) -> None:
    _, rows = _poll_fixture(shared, project, feed_server, "rss090_rdf_heise_de.rdf.xml")
    assert len(rows) == 60
    item = next(r for r in rows.values() if r["title"] == "OLED-TVs: Vorsichtsmaßnahmen gegen Einbrennen")
    assert item["guid"] == item["url"] and item["url"].startswith("https://www.heise.de/newsticker/meldung/")
    assert "wt_mc" not in item["canonical_url"]
    assert _when(item) == "2026-04-01 08:00:00"


def test_declared_latin1_and_undeclared_latin1(shared, project, feed_server) -> None:
    _, rows = _poll_fixture(shared, project, feed_server, "golem_de_iso-8859-1.rss.xml")
    item = rows["https://www.golem.de/1810/137358-rss.html"]
    assert item["title"] == "Red Dead Redemption 2: Hinweise auf PC-Umsetzung in App von Rockstar Games"
    assert item["image_url"] == "https://www.golem.de/1810/137358-177541-177538_rc.jpg"
    assert "wünschen" in item["text"]


def test_undeclared_latin1_is_read_with_a_warning(shared, project, feed_server) -> None:
    result, rows = _poll_fixture(shared, project, feed_server, "uol_br_undeclared_latin1_no_prolog.rss.xml")
    assert result.error is None and len(rows) == 15
    assert any("windows-1252" in w for w in result.warnings)
    assert any("Bolsonaro" in r["title"] and "º" in r["title"] for r in rows.values())


def test_inline_image_of_the_description_is_used(shared, project, feed_server) -> None:
    _, rows = _poll_fixture(shared, project, feed_server, "aktuality_sk_no_guid.rss.xml")
    item = next(r for r in rows.values() if r["title"].startswith("Analytici Goldman Sachs"))
    assert item["image_url"].startswith("https://t.aimg.sk/magaziny/vUw5YHzvQKDCkNw6PtXtAg.320.jpg")
    assert _when(item) == "2021-01-17 18:27:00"


def test_youtube_thumbnail(shared, project, feed_server) -> None:
    _, rows = _poll_fixture(shared, project, feed_server, "youtube_channel_google.atom.xml")
    item = rows["yt:video:5shykyfmb28"]
    assert item["image_url"] == "https://i2.ytimg.com/vi/5shykyfmb28/hqdefault.jpg"
    assert item["url"] == "http://www.youtube.com/watch?v=5shykyfmb28"


def test_google_alerts_html_titles_and_redirect_links(shared, project, feed_server) -> None:
    _, rows = _poll_fixture(shared, project, feed_server, "google_alerts_html_titles_redirect_links.atom.xml")
    item = rows["tag:google.com,2013:googlealerts/feed:8974135267215335962"]
    assert item["url"].startswith("https://www.aglobalmarketresearch.com/report-offers-prediction")
    assert "<b>" not in item["title"] and item["title"].startswith("Report offers Prediction")


@pytest.mark.parametrize("content_type", ["application/feed+json", "application/json"])
def test_json_feed_1_1(shared, project, feed_server, content_type) -> None:
    _, rows = _poll_fixture(shared, project, feed_server, "jsonfeed_1.1_3960_de.json", content_type)
    item = rows["user/posts/2020-02-21-lecker-lecker/index.md"]
    assert item["title"] == "Lecker, lecker"
    assert item["url"] == "https://journal.3960.org/posts/2020-02-21-lecker-lecker/"
    assert item["author"] == "Frank Boës" and item["tags"] == ["noticias", "Lustiges"]
    assert _when(item) == "2020-02-21 17:08:06"


def test_json_feed_1_0(shared, project, feed_server) -> None:
    result, rows = _poll_fixture(shared, project, feed_server, "jsonfeed_1.0_inessential.json")
    assert result.error is None and len(rows) == 20
    item = next(iter(rows.values()))
    assert item["url"].startswith("http://inessential.com/2017/")
    assert item["author"] == "Brent Simmons" and item["text"]


@pytest.mark.parametrize("name", [
    "blogger_4fsodonline.atom.xml", "github_commits_miniflux_media_thumbnail.atom.xml",
    "jekyll_qemu_relative_links_xml_base.atom.xml", "jn_pt_iso-8859-1_no_guid.rss.xml",
    "fcutrecht_nl_malformed_prolog.rss.xml", "hackernews_no_guid_comments.rss.xml",
    "podcast_theomnishow_itunes.rss.xml", "suspilne_ua_default_namespace_no_guid.rss.xml",
])
def test_every_other_real_feed_yields_clean_items(shared, project, feed_server, name) -> None:
    result, rows = _poll_fixture(shared, project, feed_server, name)
    assert result.error is None and rows
    for row in rows.values():
        assert row["title"] and "\n" not in row["title"] and "<" not in row["title"]
        assert row["url"].startswith(("http://", "https://"))
        assert row["published_at"]


GOLDEN_TEXT = """Las piscinas municipales abren de *8:00 a 23:00*, también los festivos. 🏊

*Precios*

• Entrada general: ~4 €~ 3,50 €
• Menores de 14 años: _gratis_

Más información en el área de Deportes.
Teléfono: ```941 000 000```"""


def test_golden_spanish_item_exactly_as_subscribers_will_read_it(project, feed_server) -> None:
    from tests.conftest import REPO

    body = (REPO / "tests" / "data" / "ayuntamiento.rss.xml").read_bytes()
    feed_server.documents["/feed/"] = Document(body)
    write_config(project / "hub.toml", (
        '[hub]\ndatabase_url = "sqlite:///hub.db"\n[[sources]]\ntype = "rss"\nname = "ayto"\n'
        f'url = "{feed_server.url("/feed/")}"\nallow_private = true\ntags = ["noticias"]\n'))
    app = App(project / "hub.toml")
    after = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # a date later than now would not be trusted
    report = asyncio.run(poll_once(app.config, app.store, app.registry, clock=FakeClock(after)))
    assert report.sources[0].error is None and report.stored == 1
    db = open_db(project / "hub.db")
    item = dict(db.execute("SELECT * FROM items").fetchone())
    assert item["text"] == GOLDEN_TEXT
    assert item["title"] == "Piscinas municipales: horario de verano – ¡abrimos el 15 de junio!"
    assert item["summary"] == "Las piscinas abren de *8:00 a 23:00*, también festivos."  # <b> kept
    assert item["url"] == feed_server.url("/noticias/piscinas-verano/")  # utm_* not sent
    assert item["canonical_url"] == feed_server.url("/noticias/piscinas-verano/")
    assert item["image_url"] == feed_server.url("/fotos/piscina.jpg")
    assert item["author"] == "Concejalía de Deportes"
    assert json.loads(item["tags"]) == ["noticias", "Deportes", "Verano & ocio"]
    assert item["published_at"][:19] == "2026-06-01 07:30:00"
    assert item["guid"] == "villanueva-2041"
