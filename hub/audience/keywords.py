"""How the hub reads what people write: keywords and topic names, whatever the case, accents or
punctuation, and the words after a keyword as the person typed them."""

from __future__ import annotations

import re
import unicodedata

SHORT = 4  # a keyword anywhere in a message this short counts
# Words around a keyword that name no topic ("quiero el ALTA, por favor", "JOIN please"): with
# only these after ALTA, nobody asked for a topic, so there is no unknown topic to answer.
FILLER = frozenset((
    "A", "AL", "DE", "DEL", "EL", "LA", "LAS", "LOS", "LO", "Y", "E", "O", "U", "ME", "MI", "EN", "CON",
    "PARA", "POR", "FAVOR", "QUIERO", "QUIERE", "DAR", "DARME", "HOLA", "BUENAS", "BUENOS", "DIAS",
    "TARDES", "NOCHES", "GRACIAS", "TEMA", "TEMAS", "YA", "SI", "OK", "VALE",
    "I", "WANT", "TO", "THE", "AND", "OR", "MY", "IN", "PLEASE", "PLS", "THANKS", "THANK", "YOU", "HI",
    "HELLO", "TOPIC", "TOPICS", "YES",
))


def words(text: str | None) -> list[str]:
    """Upper-case words without accents or punctuation: ``"¿Por qué?"`` → ``["POR", "QUE"]``."""
    if not text:
        return []
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).upper()
    return re.sub(r"[^A-Z0-9]+", " ", plain).split()


def _phrases(keywords: list[str]) -> list[list[str]]:
    return sorted((w for w in (words(k) for k in keywords) if w), key=len, reverse=True)


def match(said: list[str], keywords: list[str], short: int = SHORT) -> list[str] | None:
    """The words after a keyword when ``said`` starts with one (or holds one and is short)."""
    phrases = _phrases(keywords)
    for phrase in phrases:
        if said[:len(phrase)] == phrase:
            return said[len(phrase):]
    if len(said) <= short:
        for phrase in phrases:
            for start in range(1, len(said) - len(phrase) + 1):
                if said[start:start + len(phrase)] == phrase:
                    return said[:start] + said[start + len(phrase):]
    return None


def as_written(text: str | None, rest: list[str], picked: list[int]) -> str:
    """The words ``rest[i]`` for ``i`` in ``picked`` as the person wrote them in ``text`` (``rest``
    being its last words): "ALTA Natación!" → "Natación"; lower-cased folded words when the
    message cannot be lined up with them."""
    pairs = [(word, token.strip(".,;:!?¡¿«»\"'“”()")) for token in (text or "").split()
             for word in words(token)]
    tail = pairs[len(pairs) - len(rest):] if len(pairs) >= len(rest) else []
    if not rest or [word for word, _ in tail] != rest:
        return " ".join(rest[i] for i in picked).lower()
    shown: list[str] = []
    for i in picked:
        token = tail[i][1]
        if not shown or shown[-1] != token:
            shown.append(token)
    return " ".join(shown)


def stems(word: str) -> set[str]:
    """A word and its likely singulars, so "DEPORTE" names "deportes" and "EDUCACIONES"
    "educación" (Spanish plurals add -S or -ES; a stem keeps at least three letters)."""
    forms = {word}
    for ending in ("S", "ES"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            forms.add(word[:-len(ending)])
    return forms


def names(said: list[set[str]], phrase: list[set[str]]) -> bool:
    """Whether ``phrase`` occurs in ``said``, word by word, a shared stem counting as the same."""
    for start in range(len(said) - len(phrase) + 1):
        if all(said[start + i] & phrase[i] for i in range(len(phrase))):
            return True
    return False
