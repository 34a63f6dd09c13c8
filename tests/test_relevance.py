"""Relevance matching as an editor expects it: whole words and phrases, any case, any accents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.contracts import Drop, FilterContext, Keep
from hub.news import NewsItem
from hub.timekeeping.clock import FakeClock
from whatsapp_news_hub_plugins.filters.relevance import RelevanceFilter, RelevanceOptions

NOW = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)

# (include, exclude, title, summary, kept?)
MATCHING = [
    pytest.param(["educación"], [], "Plan de EDUCACION vial", "", True, id="accent-and-case-in-text"),
    pytest.param(["EDUCACION"], [], "Nueva ley de educación", "", True, id="accent-and-case-in-keyword"),
    pytest.param(["educación"], [], "Consejo educacional", "", False, id="whole-words-only"),
    pytest.param(["cultura"], [], "Agenda (cultura): teatro", "", True, id="punctuation-is-a-boundary"),
    pytest.param(["cultura"], [], "Agricultura ecológica", "", False, id="no-substring-match"),
    pytest.param(["pleno municipal"], [], "El Pleno  Municipal aprueba", "", True, id="phrase-any-spacing"),
    pytest.param(["pleno municipal"], [], "Pleno del consejo municipal", "", False, id="phrase-in-order"),
    pytest.param(["pleno municipal"], [], "Pleno", "Municipal", False, id="phrase-not-across-fields"),
    pytest.param(["año nuevo"], [], "Fiesta de AÑO NUEVO", "", True, id="enye-uppercase"),
    pytest.param(["año"], [], "El ano de la cuestión", "", False, id="enye-is-a-letter"),
    pytest.param(["cafe"], [], "Café-tertulia", "", True, id="hyphen-separates"),
    pytest.param(["ayuntamiento"], [], "Obras", "El Ayuntamiento informa", True, id="summary-searched"),
    pytest.param([], ["patrocinado"], "Contenido PATROCINADO", "", False, id="exclude-wins"),
    pytest.param(["cultura"], ["patrocinado"], "Cultura", "patrocinado por X", False,
                 id="exclude-beats-include"),
    pytest.param([], [], "Cualquier cosa", "", True, id="no-lists-keeps-all"),
    pytest.param(["c++"], [], "Curso de C++", "", True, id="symbols-fold-away"),
]


def _check(options: dict, item: NewsItem) -> Keep | Drop:
    flt = RelevanceFilter(RelevanceOptions.model_validate(options))
    return flt.check(item, FilterContext(session=None, clock=FakeClock(NOW)))  # type: ignore[arg-type]


@pytest.mark.parametrize(("include", "exclude", "title", "summary", "kept"), MATCHING)
def test_keyword_matching(include, exclude, title, summary, kept) -> None:
    item = NewsItem(source="diario", guid="1", title=title, summary=summary)
    verdict = _check({"include": include, "exclude": exclude}, item)
    assert isinstance(verdict, Keep) is kept, verdict


def test_decisions_say_why() -> None:
    item = NewsItem(source="diario", guid="1", title="Ayuda al comercio patrocinado")
    verdict = _check({"exclude": ["Patrocinado"]}, item)
    assert isinstance(verdict, Drop) and verdict.reason == "mentions excluded 'Patrocinado'"
    kept = _check({"include": ["comercio"]}, item)
    assert isinstance(kept, Keep) and kept.note == "matched 'comercio'"


def test_topics_aliases_priority_and_required_tag() -> None:
    options = {"topics": {"deportes": ["Deportes", "Fútbol"], "cultura": ["Agenda cultural"]},
               "priority_tags": ["Urgente"], "require_tag": "WhatsApp"}
    item = NewsItem(source="web", guid="1", title="Gol", tags=["FUTBOL", "urgente", "whatsapp"])
    verdict = _check(options, item)
    assert isinstance(verdict, Keep)
    assert "deportes" in verdict.item.tags and verdict.item.priority
    untagged = NewsItem(source="web", guid="2", title="Gol", tags=["futbol"])
    assert _check(options, untagged) == Drop("lacks the required tag 'WhatsApp'")


def test_max_age_and_per_source() -> None:
    old = NewsItem(source="diario", guid="1", title="Viejo", published_at=NOW - timedelta(days=3))
    assert isinstance(_check({"max_age": "2 days"}, old), Drop)
    assert isinstance(_check({"max_age": "2 days", "sources": ["web"]}, old), Keep)
    fresh = NewsItem(source="diario", guid="2", title="Nuevo", published_at=NOW - timedelta(hours=5))
    assert isinstance(_check({"max_age": "2 days"}, fresh), Keep)
