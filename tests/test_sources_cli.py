"""``hub sources``: what an admin sees about each source, and `reset` after fixing one."""

from __future__ import annotations

from importlib import resources

from hub.loopback import Document
from tests.conftest import write_config


def _config(server) -> str:
    return ('[hub]\ndatabase_url = "sqlite:///hub.db"\ntimezone = "Europe/Madrid"\n'
            f'[[sources]]\ntype = "rss"\nname = "blog"\nurl = "{server.url("/feed.xml")}"\n'
            'allow_private = true\n'
            f'[[sources]]\ntype = "rss"\nname = "broken"\nurl = "{server.url("/nothing.xml")}"\n'
            'allow_private = true\n'
            f'[[sources]]\ntype = "rss"\nname = "later"\nurl = "{server.url("/x.xml")}"\nenabled = false\n')


def test_sources_lists_state_success_error_items_and_next_poll(hub_cli, feed_server) -> None:
    feed_server.documents["/feed.xml"] = Document(
        resources.files("hub").joinpath("samples/feed.xml").read_bytes())
    write_config(hub_cli.config, _config(feed_server))
    before = hub_cli("sources")
    assert before.exit_code == 0, before.output
    assert "blog [rss] NEW" in before.output and "next poll:    now" in before.output

    hub_cli("poll", "--once")
    shown = _sections(hub_cli("sources").output)
    assert shown["blog"].startswith("blog [rss] OK")
    assert "items:        5" in shown["blog"] and "last error:   none" in shown["blog"]
    assert "(HTTP 200)" in shown["blog"] and ("CET" in shown["blog"] or "CEST" in shown["blog"])
    assert shown["broken"].startswith("broken [rss] RETRYING")
    assert "HTTP 404" in shown["broken"] and "1 in a row" in shown["broken"]
    assert "last success: never" in shown["broken"]
    assert shown["later"].startswith("later [rss] DISABLED") and "never (disabled)" in shown["later"]

    reset = hub_cli("sources", "reset", "broken")
    assert reset.exit_code == 0 and "failures forgotten" in reset.output
    assert "last error:   HTTP" not in _sections(hub_cli("sources", "list").output)["blog"]
    assert hub_cli("sources", "reset", "nope").exit_code == 1


def _sections(output: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    for line in output.splitlines():
        if not line.startswith(" "):
            name = line.split(" ", 1)[0]
            sections[name] = line
        else:
            sections[name] += "\n" + line
    return sections
