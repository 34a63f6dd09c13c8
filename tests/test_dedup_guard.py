"""One story is sent once; a new source does not flood; a glitchy poll waits for an admin.

Real RSS over loopback HTTP, the real CLI, a real SQLite file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hub.loopback import Document
from tests.backend import open_db
from tests.conftest import write_config

# Fresh stories: the CLI polls with the wall clock, and backfill sends only what is recent.
BASE = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)


def _rss(items: list[tuple[str, str, str, int]]) -> Document:
    """items: (guid, title, link, minutes after BASE)."""
    entries = "".join(
        f"<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>{link}</link>"
        f"<description>Texto de {title}.</description>"
        f"<pubDate>{format_datetime(BASE + timedelta(minutes=minutes))}</pubDate></item>"
        for guid, title, link, minutes in items)
    return Document(f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                    f"<link>https://villa.example.org/</link>{entries}</channel></rss>".encode())


def _config(server, backfill: int = 0, extra: str = "") -> str:
    return (
        '[hub]\ndatabase_url = "sqlite:///hub.db"\n\n'
        f'[[sources]]\ntype = "rss"\nname = "blog"\nurl = "{server.url("/blog.xml")}"\n'
        'allow_private = true\n\n'
        f'[[sources]]\ntype = "rss"\nname = "web"\nurl = "{server.url("/web.xml")}"\nallow_private = true\n\n'
        f'[[filters]]\ntype = "dedup"\nbackfill = {backfill}\n{extra}\n'
        '[[filters]]\ntype = "guard"\nminimum = 5\n\n[sinks.console]\n'
    )


def _items(project) -> dict[str, tuple]:
    db = open_db(project / "hub.db")
    rows = db.execute("SELECT guid, status, reason, revision, title FROM items "
                      "ORDER BY source = 'blog'").fetchall()  # blog's wins a shared guid
    return {r[0]: r[1:] for r in rows}


BACKLOG = [("b1", "Obras en la plaza", "https://villa.example.org/obras/", 0),
           ("b2", "Concierto de otoño", "https://villa.example.org/concierto/", 10),
           ("b3", "Pleno de octubre", "https://villa.example.org/pleno/", 20)]


WEB_BACKLOG = [("w0", "Horario de verano", "https://villa.example.org/horario/", -600)]


def test_first_poll_is_seen_not_sent_unless_backfill(hub_cli, project, feed_server) -> None:
    feed_server.documents["/blog.xml"] = _rss(BACKLOG)
    feed_server.documents["/web.xml"] = _rss(WEB_BACKLOG)
    write_config(hub_cli.config, _config(feed_server, backfill=1))
    result = hub_cli("poll", "--once")
    assert "blog: 3 fetched, 1 new, 0 dropped, 0 already stored, 2 seen" in result.output
    items = _items(project)
    assert items["b3"][0] == "ready", "backfill = 1 sends the newest"
    assert items["b1"][0] == items["b2"][0] == "seen"
    assert "first poll" in items["b1"][1]


def test_same_story_from_feed_and_web_api_is_one_item(hub_cli, project, feed_server) -> None:
    feed_server.documents["/blog.xml"] = _rss(BACKLOG)
    feed_server.documents["/web.xml"] = _rss(WEB_BACKLOG)
    write_config(hub_cli.config, _config(feed_server))
    hub_cli("poll", "--once")
    feed_server.documents["/blog.xml"] = _rss(
        [*BACKLOG, ("b4", "Nueva biblioteca", "https://villa.example.org/biblioteca/", 60)])
    feed_server.documents["/web.xml"] = _rss([*WEB_BACKLOG,
        ("wp-4", "Nueva biblioteca", "https://VILLA.example.org/biblioteca/?utm_source=wp&amp;fbclid=x", 61),
        ("wp-5", "NUEVA BIBLIOTECA!", "https://villa.example.org/?p=5", 62),
        ("b4", "Nueva biblioteca", "https://elsewhere.example.org/b4", 63),
    ])
    result = hub_cli("poll", "--once", "--force")
    assert result.exit_code == 0, result.output
    items = _items(project)
    assert items["b4"][0] == "ready"
    assert items["wp-4"][0] == "dropped" and "(same link and title)" in items["wp-4"][1]
    assert items["wp-5"][0] == "dropped" and "(same title within 3 days)" in items["wp-5"][1]
    db = open_db(project / "hub.db")
    web_b4 = db.execute("SELECT status, reason FROM items WHERE source = 'web' AND guid = 'b4'"
                        ).fetchone()
    assert web_b4[0] == "dropped" and "(same title within 3 days)" in web_b4[1], \
        "a guid is unique within its source only: the title, not the guid, makes it one story"
    why = hub_cli("items", "why", str(db.execute("SELECT id FROM items WHERE guid = 'wp-5'").fetchone()[0]))
    assert "dedup: duplicate of item #" in why.output and "same title" in why.output


def test_edited_post_is_updated_but_not_resent(hub_cli, project, feed_server) -> None:
    feed_server.documents["/blog.xml"] = _rss(BACKLOG)
    feed_server.documents["/web.xml"] = _rss(WEB_BACKLOG)
    write_config(hub_cli.config, _config(feed_server, backfill=3))
    hub_cli("poll", "--once")
    db = open_db(project / "hub.db")
    db.execute("UPDATE items SET planned_at = fetched_at WHERE guid = 'b1'")  # as if a run sent it
    db.commit()
    edited = [("b1", "Obras en la plaza (actualizado)", BACKLOG[0][2], 0), *BACKLOG[1:]]
    feed_server.documents["/blog.xml"] = _rss(edited)
    result = hub_cli("poll", "--once", "--force")
    assert "0 new" in result.output and "3 already stored" in result.output
    status, _reason, revision, title = _items(project)["b1"]
    assert (status, revision, title) == ("ready", 1, "Obras en la plaza (actualizado)")
    planned = db.execute("SELECT planned_at IS NOT NULL FROM items WHERE guid = 'b1'").fetchone()[0]
    assert planned == 1, "not offered to routines again"


def test_edited_post_is_resent_when_configured(hub_cli, project, feed_server) -> None:
    feed_server.documents["/blog.xml"] = _rss(BACKLOG)
    feed_server.documents["/web.xml"] = _rss(WEB_BACKLOG)
    write_config(hub_cli.config, _config(feed_server, backfill=3, extra="resend_edited = true\n"))
    hub_cli("poll", "--once")
    db = open_db(project / "hub.db")
    db.execute("UPDATE items SET planned_at = fetched_at WHERE guid = 'b1'")
    db.commit()
    feed_server.documents["/blog.xml"] = _rss([("b1", "Obras: nuevo plazo", BACKLOG[0][2], 0),
                                               *BACKLOG[1:]])
    hub_cli("poll", "--once", "--force")
    planned = db.execute("SELECT planned_at, revision FROM items WHERE guid = 'b1'").fetchone()
    assert planned == (None, 1), "offered to the next run again, as revision 1"


def test_glitch_is_held_until_an_admin_decides(hub_cli, project, feed_server) -> None:
    feed_server.documents["/blog.xml"] = _rss(BACKLOG)
    feed_server.documents["/web.xml"] = _rss(WEB_BACKLOG)
    write_config(hub_cli.config, _config(feed_server))
    hub_cli("poll", "--once")
    rebuilt = [(f"new-{n}", f"Noticia re-publicada {n}", f"https://villa.example.org/r{n}/", n)
               for n in range(12)]
    feed_server.documents["/blog.xml"] = _rss(rebuilt)
    hub_cli("poll", "--once", "--force")
    held = hub_cli("items", "held")
    assert "blog: 12 held" in held.output and "this poll brought 12 new items" in held.output
    assert {s for s, *_ in _items(project).values()} >= {"held"}
    db = open_db(project / "hub.db")
    first_two = [str(r[0]) for r in db.execute(
        "SELECT id FROM items WHERE status = 'held' ORDER BY id LIMIT 2")]
    dropped = hub_cli("items", "drop", *first_two)
    assert "2 item(s) dropped" in dropped.output
    approved = hub_cli("items", "approve", "--source", "blog")
    assert "10 item(s) approved" in approved.output
    statuses = db.execute("SELECT status, count(*) FROM items WHERE guid LIKE 'new-%' GROUP BY status")
    assert dict(statuses.fetchall()) == {"dropped": 2, "ready": 10}
    assert "No items held." in hub_cli("items", "held").output
    assert hub_cli("items", "approve").exit_code == 2, "ids or --source are required"


def test_one_story_twice_in_one_poll_is_one_item_even_when_the_poll_is_held(
        hub_cli, project, feed_server) -> None:
    """A batch is written in bulk; a duplicate inside it still names the first row's id, and
    holding the poll reaches rows already written for that reason."""
    feed_server.documents["/blog.xml"] = _rss(BACKLOG)
    feed_server.documents["/web.xml"] = _rss(WEB_BACKLOG)
    write_config(hub_cli.config, _config(feed_server))
    hub_cli("poll", "--once")
    fresh = [(f"n{n}", f"Noticia {n}", f"https://villa.example.org/n{n}/", 30 + n) for n in range(8)]
    again = [("n0-copy", "NOTICIA 0", "https://villa.example.org/otra/", 50),
             ("n1-copy", "Otro titular", "https://villa.example.org/n1/?utm_source=x", 51),
             ("n9", "Noticia 9", "https://villa.example.org/n9/", 52)]
    feed_server.documents["/blog.xml"] = _rss([*BACKLOG, *fresh, *again])
    result = hub_cli("poll", "--once", "--force")
    assert "blog: 14 fetched, 10 new, 1 dropped, 3 already stored" in result.output, result.output
    db = open_db(project / "hub.db")
    ids = dict(db.execute("SELECT guid, id FROM items WHERE source = 'blog'").fetchall())
    items = _items(project)
    assert items["n0-copy"][:2] == ("dropped", f"dedup: duplicate of item #{ids['n0']} from blog "
                                               "(same title within 3 days)")
    assert items["n1-copy"][0] == "held", "a shared link with another guid and title is another story"
    assert {items[f"n{n}"][0] for n in (*range(8), 9)} == {"held"}, "10 new > minimum 5: all held"
    decisions = db.execute("SELECT decisions FROM items WHERE guid = 'n0'").fetchone()[0]
    assert "guard: this poll brought 10 new items" in decisions
