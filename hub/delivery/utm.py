"""UTM tags on the links a routine sends, so the newsroom's analytics can count WhatsApp's visits.

Off by default (``[hub] utm = true`` turns it on). Each story link gets ``utm_source`` (the
``[hub] utm_source``, "whatsapp"), ``utm_medium`` (the routine) and ``utm_campaign`` (the run's
number); the link's own query is kept byte for byte, a tag it already carries is left as it is,
and the fragment stays last.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def tagged(url: str, *, source: str, medium: str | None = None, campaign: str | None = None) -> str:
    """``url`` with the UTM tags it lacks added; links that are not http(s) are returned unchanged."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return url
    present = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = [(key, value) for key, value in (("utm_source", source), ("utm_medium", medium),
                                             ("utm_campaign", campaign))
             if value and key not in present]
    if not extra:
        return url
    query = parts.query + ("&" if parts.query and not parts.query.endswith("&") else "") + urlencode(extra)
    return urlunsplit(parts._replace(query=query))
