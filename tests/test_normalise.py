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
    ("straße", "stra e"),  # no ASCII form: a separator, as before
    ("   ", ""),
    ("", ""),
])
def test_normalise(text: str, expected: str) -> None:
    assert _normalise(text) == expected
