"""JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1) read into the rss source's entry dicts.

feedparser 6.0.x does not read JSON Feed, so this small mapper does; the rss source normalises
its entries exactly as it normalises feedparser's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.errors import SourceError
from hub.text import absolute_url


def looks_like_json_feed(body: bytes, content_type: str) -> bool:
    """A JSON document (by Content-Type or by its first byte), not XML."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("application/feed+json", "application/json"):
        return True
    return body.lstrip()[:1] == b"{"


def parse_json_feed(document: Any, base_url: str) -> list[dict[str, Any]]:
    """Entry dicts from a decoded JSON Feed; ``SourceError`` when it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise SourceError(f"{base_url}: not a readable JSON Feed: no \"items\" list")
    version = str(document.get("version") or "")
    if "jsonfeed.org" not in version:
        raise SourceError(f"{base_url}: not a readable JSON Feed: version is {version!r}")
    base = absolute_url(str(document.get("home_page_url") or ""), base_url) or base_url
    feed_author = _author(document)
    return [_entry(item, base, feed_author) for item in document["items"] if isinstance(item, dict)]


def _entry(item: dict[str, Any], base: str, feed_author: str | None) -> dict[str, Any]:
    link = _text(item.get("url")) or _text(item.get("external_url"))
    image = _text(item.get("image")) or _text(item.get("banner_image"))
    content = _text(item.get("content_html"))
    plain = _text(item.get("content_text"))
    if not content and plain:
        content = _escape(plain).replace("\n", "<br>")
    return {
        "id": _text(item.get("id")),
        "link": absolute_url(link, base) or "",
        "title": _text(item.get("title")),
        "title_is_html": False,
        "summary": _escape(_text(item.get("summary"))),
        "content": content,
        "author": _author(item) or feed_author,
        "tags": [_text(t) for t in item.get("tags") or [] if isinstance(t, str)],
        "time": _date(item.get("date_published")) or _date(item.get("date_modified")),
        "image": absolute_url(image, base) if image else None,
        "base": absolute_url(link, base) or base,
    }


def _author(node: dict[str, Any]) -> str | None:
    authors = node.get("authors")
    if isinstance(authors, list):
        names = [_text(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
        if names:
            return ", ".join(names)
    author = node.get("author")
    if isinstance(author, dict) and author.get("name"):
        return _text(author["name"])
    return None


def _date(value: Any) -> datetime | None:
    """RFC 3339 in, aware UTC out; anything unreadable is simply no date."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
