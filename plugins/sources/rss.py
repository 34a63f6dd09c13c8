"""The ``rss`` source: RSS 0.9x/1.0/2.0 and Atom through feedparser, and JSON Feed.

The document is fetched by :mod:`hub.intake.fetch` (feedparser has no timeout or size cap of its own),
stripped of DOCTYPE/ENTITY declarations (:mod:`hub.intake.xmlsafe`), then parsed. Parsing is a plain
module-level function, :func:`parse_feed`, so a poll can run it in a process pool.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
from pydantic import Field

import hub
from hub.contracts import FetchContext, FetchResult, Source
from hub.errors import SourceError
from hub.intake.xmlsafe import defuse_xml
from hub.news import NewsItem
from hub.text import (
    MIN_IMAGE_SIDE,
    absolute_url,
    canonical_url,
    first_image,
    html_to_plain,
    html_to_whatsapp_line,
    sendable_image,
    strip_tracking,
    truncate,
    whatsapp_and_image,
)

from .common import WebSourceOptions
from .dates import looks_year_first, parse_loose_date, vet_dates
from .jsonfeed import looks_like_json_feed, parse_json_feed

MAX_TITLE = 500
MAX_TEXT = 20_000
MAX_RAW = 200_000  # characters of one field's markup handed to the HTML normaliser
MAX_TAGS = 30
MAX_TAG = 80
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


class RssOptions(WebSourceOptions):
    """``[[sources]] type = "rss"``."""

    url: str = Field(min_length=1, description="the feed's URL, or a file path next to hub.toml")
    timeout: float = Field(20.0, gt=0, le=300, description="seconds for the whole request")
    max_bytes: int = Field(10 * 1024 * 1024, gt=0, description="largest (decoded) body accepted")
    full_text: bool = Field(True, description="use content:encoded for the text when present")


class RssSource(Source):
    """Reads one feed; items carry the feed's categories plus the source's own tags."""

    Options = RssOptions
    options: RssOptions

    async def fetch(self, ctx: FetchContext) -> FetchResult:
        url = ctx.state.url or self.options.url
        now = ctx.clock.now()
        if "://" not in url:
            body = _read_local(ctx.base_dir / url)
            items, warnings, _ttl = parse_feed(body, Path(url).as_posix(), "application/xml",
                                               self._settings(), now)
            ctx.warnings.extend(warnings)
            return FetchResult(items)
        fetched = await ctx.get(url, timeout=self.options.timeout, max_bytes=self.options.max_bytes)
        if fetched.not_modified:
            return FetchResult([], not_modified=True)
        items, warnings, ttl = await ctx.offload(parse_feed, fetched.body, fetched.url,
                                                 fetched.content_type, self._settings(), now)
        ctx.warnings.extend(warnings)
        if ttl and ctx.fetcher is not None:
            ctx.fetcher.ask_to_wait(ttl * 60.0)  # RSS <ttl>: minutes the feed may be cached
        return FetchResult(items)

    def _settings(self) -> dict[str, Any]:
        return {"name": self.name, "tags": list(self.options.tags),
                "full_text": self.options.full_text}

    def parse(self, body: bytes, *, base_url: str, ctx: FetchContext,
              content_type: str | None = None) -> list[NewsItem]:
        """Parse a document in this process (kept for callers of the foundation's API)."""
        items, warnings, _ttl = parse_feed(body, base_url, content_type or "", self._settings(),
                                           ctx.clock.now())
        ctx.warnings.extend(warnings)
        return items


def parse_feed(body: bytes, base_url: str, content_type: str, settings: dict[str, Any],
               now: datetime) -> tuple[list[NewsItem], list[str], int | None]:
    """Items, warnings and the feed's ``<ttl>`` (minutes) from one document; ``SourceError``
    when it yields nothing usable."""
    name = settings["name"]
    warnings: list[str] = []
    if looks_like_json_feed(body, content_type):
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise SourceError(f"{base_url}: not a readable JSON Feed: {exc}") from None
        entries = _distinct_ids(parse_json_feed(document, base_url))
        return [_item(e, settings, now) for e in _vetted(entries, now, name, warnings)], warnings, None
    safe, changed = defuse_xml(body)
    if changed:
        warnings.append(f"{name}: the feed's DOCTYPE/ENTITY declarations were removed before parsing")
    headers = {"content-location": base_url, "content-type": content_type or "application/xml"}
    parsed = feedparser.parse(safe, response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=False)
    if not parsed.entries:
        if parsed.get("version") and not parsed.bozo:
            return [], warnings, _ttl(parsed)  # a well-formed feed with no posts yet
        reason = parsed.get("bozo_exception") or "the document holds no entries"
        raise SourceError(f"{base_url}: not a readable feed: {reason}")
    if parsed.bozo:
        warnings.append(f"{name}: feed is malformed but readable ({parsed.bozo_exception})")
    entries = _distinct_ids([_from_feedparser(e, base_url) for e in parsed.entries])
    items = [_item(e, settings, now) for e in _vetted(entries, now, name, warnings)]
    return items, warnings, _ttl(parsed)


def _ttl(parsed: Any) -> int | None:
    """The channel's ``<ttl>`` in minutes, when it is a sane number (at most a week)."""
    value = str((parsed.get("feed") or {}).get("ttl") or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= 7 * 24 * 60 else None


def _vetted(entries: list[dict[str, Any]], now: datetime, name: str,
            warnings: list[str]) -> list[dict[str, Any]]:
    """Entries whose untrustworthy dates are dropped (the fetch time stands in), with a warning."""
    times, said = vet_dates([e["time"] for e in entries], now, name)
    warnings.extend(said)
    for entry, when in zip(entries, times, strict=True):
        entry["time"] = when
    return entries


def _distinct_ids(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries without an id are known by their link, unless several share it (a podcast's home
    page, a forum): those are known by link and title, or each would hide the others."""
    shared: dict[str, int] = {}
    for entry in entries:
        if not entry["id"] and entry["link"]:
            shared[entry["link"]] = shared.get(entry["link"], 0) + 1
    for entry in entries:
        if not entry["id"] and shared.get(entry["link"], 0) > 1:
            entry["id"] = entry["link"] + "#" + _hash(entry["title"] + "\n" + entry["summary"])
    return entries


def _from_feedparser(entry: Any, base_url: str) -> dict[str, Any]:
    """The fields we use, from feedparser's entry, links resolved and markup still raw."""
    base = _entry_base(entry, base_url)
    link = entry.get("feedburner_origlink") or entry.get("link") or ""
    content = ""
    for part in entry.get("content") or []:
        if "html" in (part.get("type") or "html"):
            content = part.get("value") or ""
            break
        content = content or part.get("value") or ""
    title_type = (entry.get("title_detail") or {}).get("type", "text/plain")
    return {
        "id": entry.get("id") or "",
        "link": absolute_url(link, base) or "",
        "title": entry.get("title") or "",
        "title_is_html": "html" in title_type,
        "summary": entry.get("summary") or "",
        "content": content,
        "author": entry.get("author") or None,
        "tags": [t.get("term") or t.get("label") or "" for t in entry.get("tags") or []],
        "time": _entry_time(entry),
        "image": _feed_image(entry, base),
        "base": base,
    }


def _entry_base(entry: Any, base_url: str) -> str:
    """xml:base of the entry's content/summary, else the feed's URL."""
    for key in ("content", "summary_detail", "title_detail"):
        value = entry.get(key)
        detail = value[0] if isinstance(value, list) and value else value
        base = (detail or {}).get("base") if isinstance(detail, dict) else None
        if base:
            return absolute_url(base, base_url) or base_url
    return base_url


def _feed_image(entry: Any, base: str) -> str | None:
    """The story's picture, sendable as a WhatsApp image: the largest JPEG/PNG of media:content,
    else of media:thumbnail, else an image enclosure, else an item ``<image>``."""
    contents = [m for m in entry.get("media_content") or []
                if "image" in (m.get("medium") or m.get("type") or "").lower()
                or (not (m.get("medium") or m.get("type"))
                    and (m.get("url") or "").lower().split("?")[0].endswith(IMAGE_EXTENSIONS))]
    for group in (contents, entry.get("media_thumbnail") or []):
        found = _largest(group, base)
        if found:
            return found
    for link in entry.get("enclosures") or []:
        kind = (link.get("type") or "").lower()
        if kind.startswith("image/"):
            found = sendable_image(absolute_url(link.get("href") or link.get("url") or "", base),
                                   mime=kind, size=link.get("length"))
            if found:
                return found
    image = entry.get("image")
    if isinstance(image, dict) and image.get("href"):
        return sendable_image(absolute_url(image["href"], base))
    if entry.get("href") and str(entry.get("href")).lower().split("?")[0].endswith(IMAGE_EXTENSIONS):
        return sendable_image(absolute_url(entry["href"], base))  # a non-standard <image> in an <item>
    return None


def _largest(media: list[Any], base: str) -> str | None:
    """The widest sendable one of several declared sizes (a 140 px thumb loses to 460 px)."""
    best: tuple[int, str] | None = None
    for node in media:
        mime = node.get("type") if "/" in (node.get("type") or "") else None
        url = sendable_image(absolute_url(node.get("url") or "", base), mime=mime,
                             size=node.get("filesize") or node.get("fileSize"))
        if not url:
            continue
        width = _pixels(node.get("width")) or _pixels(node.get("height"))
        if width is not None and width < MIN_IMAGE_SIDE:
            continue
        if best is None or (width or 0) > best[0]:  # the widest; among equals, the first
            best = (width or 0, url)
    return best[1] if best else None


def _pixels(value: Any) -> int | None:
    text = str(value or "").strip().removesuffix("px")
    return int(text) if text.isdigit() else None


def _item(entry: dict[str, Any], settings: dict[str, Any], now: datetime) -> NewsItem:
    """One normalised item from the neutral entry dict both parsers produce."""
    raw_title = entry["title"][:MAX_RAW]
    title = html_to_plain(raw_title) if entry.get("title_is_html", True) else " ".join(raw_title.split())
    title = truncate(title, MAX_TITLE)
    summary_html = entry["summary"][:MAX_RAW]
    content_html = entry["content"][:MAX_RAW] if settings.get("full_text", True) else ""
    link = strip_tracking(_unwrap_redirect(entry["link"]))
    body_html = content_html or summary_html
    text, inline_image = whatsapp_and_image(body_html, link or entry.get("base", ""))
    text = truncate(text, MAX_TEXT)
    summary = truncate(html_to_whatsapp_line(summary_html or content_html), MAX_TEXT)
    image = entry.get("image") or inline_image
    if image is None and body_html is not summary_html and summary_html:
        image = first_image(summary_html, link or entry.get("base", ""))
    guid = entry["id"] or link or _hash(title + "\n" + summary)
    author = entry.get("author")
    return NewsItem(
        source=settings["name"],
        guid=guid[:1000],
        url=link,
        canonical_url=canonical_url(link),
        title=title,
        summary=summary,
        text=text,
        image_url=image,
        author=truncate(" ".join(str(author).split()), 200) if author else None,
        tags=_tags([*settings.get("tags", []), *entry.get("tags", [])]),
        published_at=entry.get("time") or now,
    )


def _tags(raw: list[str]) -> list[str]:
    """Clean, unique (case-insensitively), in order, bounded in number and length."""
    seen: set[str] = set()
    tags: list[str] = []
    for value in raw:
        tag = " ".join(html_to_plain(str(value)).split())[:MAX_TAG]
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tags[:MAX_TAGS]


def _unwrap_redirect(link: str) -> str:
    """Google Alerts-style ``https://www.google.com/url?…&url=<real>`` → the real article URL."""
    parts = urlsplit(link)
    if parts.hostname and parts.hostname.endswith("google.com") and parts.path == "/url":
        target = parse_qs(parts.query).get("url") or parse_qs(parts.query).get("q")
        if target and absolute_url(target[0]):
            return target[0]
    return link


def _entry_time(entry: Any) -> datetime | None:
    """feedparser's date, unless the raw text is one it misreads (``2020/1/10``) or cannot
    read at all (``10/01/2020``): those are parsed here."""
    for key in ("published", "updated", "created"):
        raw = dict.get(entry, key)
        if isinstance(raw, str) and raw.strip():
            if looks_year_first(raw) or not dict.get(entry, key + "_parsed"):
                return parse_loose_date(raw)
            break
    return _struct_time(entry)


def _struct_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, key)  # plain lookup: no feedparser fallback, no deprecation warning
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _read_local(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the feed file: {exc.strerror}") from None


def _hash(text: str) -> str:
    return "sha1:" + hashlib.sha1(text.encode()).hexdigest()


@hub.hookimpl
def register_sources(register: Any) -> None:
    register("rss", RssSource)
