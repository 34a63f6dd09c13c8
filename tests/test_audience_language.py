"""Subscriber texts in the audience's language, from the gettext catalogues, overridable in hub.toml;
and a topic nobody offers answered, never stored as "all topics" in silence."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from hub.audience.texts import MESSAGES
from hub.config import AudienceConfig, load_config
from hub.errors import ConfigError
from hub.plugins import load
from tests.audience_kit import Hub, Switch
from tests.conftest import REPO

LOCALE = REPO / "hub" / "locale"


def catalogue(language: str) -> dict[str, str]:
    """msgid → msgstr, read straight from the shipped .po file (not through the hub's code)."""
    with (LOCALE / language / "LC_MESSAGES" / "hub.po").open("rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id}


def said(language: str, name: str) -> str:
    """What the catalogue of ``language`` says for the subscriber text ``name``."""
    return catalogue(language)[MESSAGES[name]]


def audience_from(tmp_path: Path, audience_toml: str) -> AudienceConfig:
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\nsink = "console"\n[sinks.console]\n\n' + audience_toml, encoding="utf-8")
    return load_config(path, load()[1]).audience


@pytest.fixture
def make_hub(tmp_path: Path, loopback: Switch) -> Iterator[Callable[[str], Hub]]:
    """A webhook over its own store whose [audience] is read from a hub.toml with this text."""
    made: list[Hub] = []

    def start(audience_toml: str) -> Hub:
        hub = Hub(tmp_path / f"hub{len(made)}.db", loopback, audience=audience_from(tmp_path, audience_toml))
        made.append(hub)
        return hub

    yield start
    for hub in made:
        hub.client.close()
        hub.store.dispose()


# ---- the language of the answers -------------------------------------------------------------

def test_an_english_audience_gets_english_texts_from_the_catalogue(make_hub) -> None:
    hub = make_hub('[audience]\nlanguage = "en"\n')
    hub.say("HELP")
    hub.say("JOIN")
    help_text, welcome = hub.replies()
    assert help_text == said("en", "help")
    assert welcome.startswith(said("en", "welcome")) and "STOP" in welcome
    hub.say("STOP")
    goodbye = hub.deliveries()[-1].body
    assert goodbye["text"].startswith(said("en", "goodbye"))
    titles = [b["reply"]["title"] for b in goodbye["interactive"]["action"]["buttons"]]
    assert titles == ["Weekly digest", "Pause 30 days"]


def test_a_spanish_audience_gets_spanish_texts_whatever_language_the_keyword_was(make_hub) -> None:
    hub = make_hub("[audience]\n")  # es is the default
    hub.say("HELP")  # English keywords keep working on a Spanish hub…
    hub.say("ALTA")
    hub.say("why")
    help_text, welcome, why = hub.replies()
    assert help_text == said("es", "help") and "ALTA" in help_text
    assert welcome == said("es", "welcome")
    assert why.startswith(said("es", "why_nothing_yet")) and "Te suscribiste el 2 de marzo de 2026" in why


def test_an_english_hub_still_understands_alta_and_baja(make_hub) -> None:
    hub = make_hub('[audience]\nlanguage = "en"\n')
    hub.say("Alta")
    assert hub.person().status == "active"
    assert hub.replies()[-1].startswith(said("en", "welcome"))
    hub.say("baja")
    assert hub.person().status == "unsubscribed"


def test_a_text_written_in_hub_toml_wins_over_the_catalogue(make_hub) -> None:
    hub = make_hub('[audience]\nlanguage = "en"\n\n[audience.texts]\n'
                   'welcome = "Welcome to the Town Hall news. Reply STOP any time."\n'
                   'pause_button = "Quiet for {days} days"\n')
    hub.say("JOIN")
    assert hub.replies() == ["Welcome to the Town Hall news. Reply STOP any time."]
    hub.say("STOP")
    titles = [b["reply"]["title"] for b in hub.deliveries()[-1].body["interactive"]["action"]["buttons"]]
    assert titles == ["Weekly digest", "Quiet for 30 days"]  # the rest still from the catalogue


def test_the_older_top_level_welcome_is_still_honoured(make_hub) -> None:
    hub = make_hub('[audience]\nwelcome = "Bienvenida del ayuntamiento."\n')
    hub.say("ALTA")
    assert hub.replies() == ["Bienvenida del ayuntamiento."]


@pytest.mark.parametrize(("texts", "problem"), [
    ('welcom = "Hi"', "audience.texts: unknown text 'welcom'"),
    ('paused_done = "Back on {day}"', "unknown placeholder {day} (expected {date})"),
    ('footer = "Bye {"', "text 'footer'"),
])
def test_a_wrong_text_override_is_reported_by_its_path(tmp_path: Path, texts: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        audience_from(tmp_path, f"[audience.texts]\n{texts}\n")
    assert problem in str(caught.value)


# ---- the catalogues ---------------------------------------------------------------------------

def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_marked_text_has_a_translation_in_both_catalogues_with_the_same_placeholders() -> None:
    marked = {message for _, _, message, _, _ in extract_from_dir(
        str(REPO / "hub"), method_map=[("**.py", "python")], keywords={"N_": None, "_": None})}
    assert set(MESSAGES.values()) <= marked
    for language in ("es", "en"):
        entries = catalogue(language)
        with (LOCALE / language / "LC_MESSAGES" / "hub.po").open("rb") as po:
            fuzzy = [m.id for m in read_po(po) if m.id and m.fuzzy]
        assert not fuzzy, f"{language}: fuzzy entries {fuzzy}"
        assert sorted(marked - set(entries)) == [], f"{language}: texts with no entry"
        assert sorted(set(entries) - marked) == [], f"{language}: entries no code uses"
        untranslated = [m for m, s in entries.items() if not s.strip()]
        assert untranslated == [], f"{language}: untranslated {untranslated}"
        for msgid, msgstr in entries.items():
            assert _placeholders(msgstr) == _placeholders(msgid), (language, msgid, msgstr)


def test_no_text_is_marked_inside_an_f_string_where_extraction_cannot_see_it() -> None:
    """``f"{_('sent')}"`` would be translated by nobody: babel's extractor skips f-strings."""
    import tokenize

    for path in sorted((REPO / "hub").rglob("*.py")):
        with path.open("rb") as source:
            for token in tokenize.tokenize(source.readline):
                if token.type == tokenize.STRING and token.string[:2].lower() in ('f"', "f'", 'rf', 'fr'):
                    assert not re.search(r"\b_\(|\bN_\(", token.string), (
                        f"{path.relative_to(REPO)}:{token.start[0]}: a marked text inside an f-string")


def test_every_subscriber_text_is_documented_with_its_placeholders() -> None:
    page = (REPO / "docs" / "audience.md").read_text(encoding="utf-8")
    for name, text in MESSAGES.items():
        row = re.search(rf"^\| `{name}` \|.*$", page, re.MULTILINE)
        assert row, f"docs/audience.md lacks a row for {name}"
        for placeholder in _placeholders(text):
            assert f"{{{placeholder}}}" in row.group(0), (name, placeholder)


def test_button_and_list_texts_fit_whatsapps_limits_in_both_languages() -> None:
    limits = {"weekly_button": 20, "topics_button": 20, "all_topics": 24, "topics_section": 24,
              "topic_chosen": 72, "topic_tap": 72, "all_topics_chosen": 72, "all_topics_tap": 72}
    for language in ("es", "en"):
        for name, limit in limits.items():
            assert len(said(language, name)) <= limit, (language, name)
        assert len(said(language, "pause_button").format(days=365)) <= 20


# ---- topics nobody offers ---------------------------------------------------------------------

def test_alta_with_a_topic_when_none_are_configured_says_so(make_hub) -> None:
    hub = make_hub("[audience]\n")
    hub.say("ALTA deportes")
    person = hub.person()
    assert person.status == "active" and person.topics == []
    [welcome] = hub.replies()
    assert said("es", "topics_none_configured") in welcome


def test_alta_with_an_unknown_topic_lists_the_topics_there_are(make_hub) -> None:
    hub = make_hub('[audience]\ntopics = { deportes = "Deportes", cultura = "Cultura" }\n')
    hub.say("ALTA natación")
    assert hub.person().status == "active" and hub.person().topics == []
    [welcome] = hub.replies()
    assert "No tenemos el tema «natación». Temas disponibles: Deportes, Cultura." in welcome
    hub.say("ALTA ajedrez")  # already subscribed: still answered
    assert "Temas disponibles: Deportes, Cultura." in hub.replies()[-1]
    hub.say("TEMAS ajedrez")
    listing = hub.deliveries()[-1].body
    assert listing["interactive"]["type"] == "list"
    assert listing["interactive"]["body"]["text"].startswith("No tenemos el tema «ajedrez».")


@pytest.mark.parametrize("message", ["quiero el alta", "ALTA por favor", "Alta, gracias", "join please"])
def test_polite_words_after_alta_are_not_taken_for_a_topic(make_hub, message: str) -> None:
    hub = make_hub('[audience]\ntopics = { deportes = "Deportes" }\n')
    hub.say(message)
    [welcome] = hub.replies()
    assert hub.person().status == "active" and "No tenemos el tema" not in welcome


def test_a_known_and_an_unknown_topic_keep_the_known_one_and_answer_the_other(make_hub) -> None:
    hub = make_hub('[audience]\ntopics = { deportes = "Deportes", cultura = "Cultura" }\n')
    hub.say("ALTA deportes y natación, por favor")
    assert hub.person().topics == ["deportes"]
    [welcome] = hub.replies()
    assert "No tenemos el tema «natación». Temas disponibles: Deportes, Cultura." in welcome
    assert "Tus temas: Deportes." in welcome
    hub.say("ALTA cultura ajedrez")  # already subscribed: the topics change, the unknown is answered
    assert hub.person().topics == ["cultura"]
    assert hub.replies()[-1].startswith("No tenemos el tema «ajedrez».")
    hub.say("TEMAS Deportes, Petanca")
    assert hub.person().topics == ["deportes"]
    assert hub.replies()[-1].startswith("No tenemos el tema «Petanca».")


def test_an_unknown_topic_in_english(make_hub) -> None:
    hub = make_hub('[audience]\nlanguage = "en"\ntopics = { sport = "Sport", culture = "Culture" }\n')
    hub.say("JOIN chess")
    assert "We have no topic called “chess”. Available topics: Sport, Culture." in hub.replies()[0]


def test_the_starter_offers_the_topics_its_sample_feed_carries(tmp_path: Path) -> None:
    from hub.matching import fold

    starter = (REPO / "hub" / "starter.toml").read_text(encoding="utf-8")
    (tmp_path / "hub.toml").write_text(starter, encoding="utf-8")
    topics = load_config(tmp_path / "hub.toml", load()[1]).audience.topics
    categories = {fold(c) for c in re.findall(r"<category>([^<]+)</category>",
                                               (REPO / "hub" / "samples" / "feed.xml").read_text("utf-8"))}
    assert topics and {fold(tag) for tag in topics} <= categories


# ---- the admin's side: [hub] language ---------------------------------------------------------

def test_hub_stats_and_the_dashboard_follow_the_hubs_language(hub_cli, project: Path) -> None:
    from zoneinfo import ZoneInfo

    from hub.storage.store import Store
    from hub.web.board import gather
    from hub.web.dashboard import render_dashboard
    from tests.backend import db_url

    (project / "hub.toml").write_text('[hub]\nlanguage = "es"\nsink = "console"\n[sinks.console]\n',
                                      encoding="utf-8")
    result = hub_cli("stats")
    assert result.exit_code == 0, result.output
    assert "Por ejecución de rutina" in result.output and "Altas y bajas por tema" in result.output
    assert "Per routine run" not in result.output and "planif." in result.output
    store = Store(db_url(project / "hub.db"))
    try:
        with store.read() as session:
            board = gather(session, ZoneInfo("Europe/Madrid"), None)
    finally:
        store.dispose()
    spanish = render_dashboard(board, language="es")
    assert "<html lang='es'>" in spanish and "Mensajes enviados y leídos por día" in spanish
    assert "Messages sent and read per day" in render_dashboard(board)  # en by default
