"""Database URLs shown to people: never with their password."""

from __future__ import annotations


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url:
        return url  # no user information, so no password (and no SQLAlchemy import to show it)
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"
