"""UTM tags on the links sent: off by default, and never clobbering what a link already has."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from hub.delivery.utm import tagged
from tests.test_routines import RecordingSink, _toml
from tests.test_routines import world as world  # noqa: F401 - the World fixture, shared

MADRID = ZoneInfo("Europe/Madrid")
TAGS = dict(source="whatsapp", medium="mañanas", campaign="7")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://example.org/a", "https://example.org/a?utm_source=whatsapp&utm_medium=ma%C3%B1anas&utm_campaign=7"),
    ("https://example.org/a?id=3&b=%20x#comentarios",
     "https://example.org/a?id=3&b=%20x&utm_source=whatsapp&utm_medium=ma%C3%B1anas&utm_campaign=7"
     "#comentarios"),
    ("https://example.org/a?utm_source=newsletter&utm_campaign=otoño",
     "https://example.org/a?utm_source=newsletter&utm_campaign=otoño&utm_medium=ma%C3%B1anas"),
    ("https://example.org/a?", "https://example.org/a?utm_source=whatsapp&utm_medium=ma%C3%B1anas&utm_campaign=7"),
    ("mailto:redaccion@example.org", "mailto:redaccion@example.org"),
    ("/relative/path", "/relative/path"),
])
def test_tags_are_added_after_the_links_own_query_and_before_its_fragment(url: str, expected: str) -> None:
    assert tagged(url, **TAGS) == expected


def _madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID).astimezone(UTC)


@pytest.mark.parametrize("utm", [True, False])
def test_a_routine_tags_its_links_only_when_asked(world, utm: bool) -> None:
    toml = _toml(routines='[[routines]]\nname = "mañanas"\nevery = "1 day"\nat = "09:30"\nmode = "each"\n')
    if utm:
        toml = toml.replace("[hub]\n", "[hub]\nutm = true\n", 1)
    w = world(toml, _madrid(2026, 10, 12, 8, 0))
    w.people(1)
    w.routines.tick()
    w.item("Pleno municipal")
    w.clock.set(_madrid(2026, 10, 12, 9, 30))
    [report] = w.routines.tick()
    assert w.send() == 1
    [sent] = RecordingSink.sent
    link = sent.message.items[0]["url"]
    query = parse_qs(urlsplit(link).query)
    if utm:
        assert query == {"utm_source": ["whatsapp"], "utm_medium": ["mañanas"],
                         "utm_campaign": [str(report.run_id)]}
    else:
        assert query == {}
    assert link in sent.message.text  # the text a person reads carries the same link


def test_utm_is_off_in_the_starter(tmp_path: Path) -> None:
    from hub.config import load_config
    from hub.plugins import load
    from tests.conftest import REPO

    (tmp_path / "hub.toml").write_text((REPO / "hub" / "starter.toml").read_text("utf-8"), "utf-8")
    assert load_config(tmp_path / "hub.toml", load()[1]).hub.utm is False
