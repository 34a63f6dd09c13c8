"""Neutralise XML entity attacks before a document reaches feedparser.

feedparser 6.0.x hands a document to expat first; when expat refuses an entity expansion
("billion laughs", or its amplification guard for "quadratic blowup") feedparser falls back to
its lenient parser, which re-declares the "safe" entities from the DOCTYPE and expands them
without limit: a 100 KB feed can become a 200-million-character title. Feeds never need their
own entities, so every ``<!DOCTYPE … [internal subset]>`` and ``<!ENTITY …>`` declaration is cut
out before parsing; with no declaration left, nothing can expand.
"""

from __future__ import annotations

import re

from hub.errors import SourceError

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_SUBSET_END = re.compile(rb"\]\s*>")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DANGER = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def defuse_xml(body: bytes) -> tuple[bytes, bool]:
    """``body`` without DOCTYPE declarations (internal subsets included), and whether it changed.

    Any ``<!ENTITY`` left outside a DOCTYPE (only a crafted document has one) is turned into
    inert text. Runs in linear time: every search starts where the previous cut ended.
    Raises ``SourceError`` for an internal subset that never ends.
    """
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        if _DANGER.search(body.replace(b"\x00", b"")):
            raise SourceError("a UTF-16 document that declares a DOCTYPE or entities; refused")
        return body, False
    if _DANGER.search(body) is None:
        return body, False
    parts: list[bytes] = []
    pos = 0
    while (match := _DOCTYPE.search(body, pos)) is not None:
        parts.append(body[pos:match.start()])
        close = body.find(b">", match.end())
        subset = body.find(b"[", match.end(), close if close != -1 else len(body))
        if subset != -1:
            end = _SUBSET_END.search(body, subset)
            if end is None:
                raise SourceError("the document's DOCTYPE internal subset never ends; refused")
            pos = end.end()
        elif close == -1:
            raise SourceError("the document's DOCTYPE never ends; refused")
        else:
            pos = close + 1
    parts.append(body[pos:])
    cleaned = _ENTITY.sub(b"&lt;!ENTITY", b"".join(parts))
    return cleaned, True
