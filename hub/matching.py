"""Word and tag matching as an editor expects: whole words, any case, with or without accents.

"educación" matches "EDUCACION", "Educación" and "educacion", but not "educacional". The
letter ñ is kept apart from n ("año" is not "ano"): in Spanish it is a letter, not an accent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_N_TILDE = "\uf8ff"  # a private-use stand-in that survives the accent stripping
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Lowercase, accents removed (ñ kept), punctuation as single spaces, trimmed."""
    text = text.casefold().replace("ñ", _N_TILDE).replace("n\u0303", _N_TILDE)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _NOT_WORD.sub(" ", text).strip()
    return text.replace(_N_TILDE, "ñ")


class Phrases:
    """A set of keywords and phrases, matched on whole words against folded text."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.originals: dict[str, str] = {}
        for phrase in phrases:
            folded = fold(phrase)
            if folded:
                self.originals.setdefault(folded, phrase)

    def __bool__(self) -> bool:
        return bool(self.originals)

    def first_match(self, folded_text: str) -> str | None:
        """The first phrase (as written in hub.toml) found in ``folded_text``, or None."""
        padded = f" {folded_text} "
        for folded, original in self.originals.items():
            if f" {folded} " in padded:
                return original
        return None


def fold_tags(tags: Iterable[str]) -> set[str]:
    """Tags compared the same way as keywords: "Cultura" == "cultura" == "CULTURA"."""
    return {f for f in (fold(t) for t in tags) if f}


def unique_tags(tags: Iterable[str]) -> list[str]:
    """``tags`` in order, each kept in the first spelling seen: "Cultura" then "cultura" is one tag."""
    first: dict[str, str] = {}
    for tag in tags:
        first.setdefault(tag.casefold(), tag)
    return list(first.values())
