"""The normalised text behind title fingerprints and edit hashes (dedup depends on it)."""

from __future__ import annotations

import pytest

from hub.intake.pipeline import _normalise


@pytest.mark.parametrize(("text", "expected"), [
    ("Canción de OTOÑO", "cancion de otono"),
    ("¡Hola!  —  año 2026…", "hola ano 2026"),
    ("e\u0301xito", "exito"),  # a combining accent goes, it does not split the word
    ("Fútbol ⚽ hoy", "futbol hoy"),
    ("ﬁesta Ⅻ ①", "fiesta xii 1"),  # compatibility forms fold to letters and digits
    ("straße", "strasse"),  # casefolded, not cut
    ("Йошкар-Ола: 25 лет", "йошкар ола 25 лет"),  # Cyrillic kept, й not folded to и
    ("Ελλάδα ΣΉΜΕΡΑ", "ελλάδα σήμερα"),  # Greek kept, its accents too
    ("北京：新闻 2026", "北京 新闻 2026"),  # CJK kept, full-width punctuation a separator
    ("مرحبا بالعالم!", "مرحبا بالعالم"),
    ("हिन्दी समाचार", "हिन्दी समाचार"),  # combining vowel signs stay inside the word
    ("Ｆｕｌｌ　ｗｉｄｔｈ", "full width"),
    ("   ", ""),
    ("", ""),
])
def test_normalise(text: str, expected: str) -> None:
    assert _normalise(text) == expected


@pytest.mark.parametrize(("one", "other"), [
    ("В Москве открыли 3 новые станции метро", "В Казани закрыли 3 старые библиотеки"),
    ("北京发布新的交通规定", "上海发布新的交通规定"),
])
def test_titles_in_any_script_differing_in_words_differ(one: str, other: str) -> None:
    assert _normalise(one) != _normalise(other)
    assert _normalise(one).strip()
