"""The ``rss`` source: RSS 0.9x/1.0/2.0, Atom and JSON Feed, fetched with httpx, parsed by feedparser.

feedparser gets bytes we fetched ourselves, because it has no timeout or size limit of its own.
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx
from pydantic import Field

import hub
from hub.contracts import FetchContext, FetchResult, Source, SourceOptions
from hub.errors import SourceError
from hub.news import NewsItem
from hub.text import canonical_url, html_to_plain, html_to_whatsapp, truncate

MAX_TITLE = 500
MAX_TEXT = 20_000


class RssOptions(SourceOptions):
    """``[[sources]] type = "rss"``."""

    url: str = Field(min_length=1, description="the feed's URL, or a file path next to hub.toml")
    timeout: float = Field(20.0, gt=0, le=300, description="seconds for the whole request")


class RssSource(Source):
    """Reads one feed; items carry the feed's categories plus the source's own tags."""

    Options = RssOptions
    options: RssOptions

    async def fetch(self, ctx: FetchContext) -> FetchResult:
        url = ctx.state.url or self.options.url
        if "://" not in url:
            body = _read_local(ctx.base_dir / url)
            return FetchResult(self.parse(body, base_url=Path(url).as_posix(), ctx=ctx,
                                          content_type="application/xml"))
        headers = {}
        if ctx.state.etag:
            headers["If-None-Match"] = ctx.state.etag
        if ctx.state.last_modified:
            headers["If-Modified-Since"] = ctx.state.last_modified
        try:
            response = await ctx.client.get(url, headers=headers, timeout=self.options.timeout)
        except httpx.HTTPError as exc:
            raise SourceError(f"{url}: {type(exc).__name__}: {exc or 'no answer'}") from None
        if response.status_code == 304:
            return FetchResult([], not_modified=True)
        if response.status_code >= 400:
            raise SourceError(f"{url}: HTTP {response.status_code}")
        ctx.state.etag = response.headers.get("ETag")
        ctx.state.last_modified = response.headers.get("Last-Modified")
        return FetchResult(self.parse(response.content, base_url=str(response.url), ctx=ctx,
                                      content_type=response.headers.get("Content-Type")))

    def parse(self, body: bytes, *, base_url: str, ctx: FetchContext,
              content_type: str | None = None) -> list[NewsItem]:
        headers = {"content-location": base_url, "content-type": content_type or "application/xml"}
        parsed = feedparser.parse(body, response_headers=headers)
        if not parsed.entries:
            reason = parsed.get("bozo_exception") or "the document holds no entries"
            raise SourceError(f"{base_url}: not a readable feed: {reason}")
        if parsed.bozo:
            ctx.warnings.append(f"{self.name}: feed is malformed but readable "
                                f"({parsed.bozo_exception})")
        return [self._item(entry) for entry in parsed.entries]

    def _item(self, entry: Any) -> NewsItem:
        link = entry.get("link") or ""
        title = truncate(html_to_plain(entry.get("title") or ""), MAX_TITLE)
        content = ""
        if entry.get("content"):
            content = entry.content[0].get("value") or ""
        summary_html = entry.get("summary") or ""
        text = truncate(html_to_whatsapp(content or summary_html), MAX_TEXT)
        summary = truncate(html_to_plain(summary_html or content), MAX_TEXT)
        guid = entry.get("id") or link or _hash(title + summary)
        tags = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
        return NewsItem(
            source=self.name,
            guid=guid[:1000],
            url=link,
            canonical_url=canonical_url(link),
            title=title,
            summary=summary,
            text=text,
            author=entry.get("author"),
            tags=[*self.options.tags, *tags],
            published_at=_time(entry),
        )


def _read_local(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the feed file: {exc.strerror}") from None


def _time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
    return None


def _hash(text: str) -> str:
    return "sha1:" + hashlib.sha1(text.encode()).hexdigest()


@hub.hookimpl
def register_sources(register: Any) -> None:
    register("rss", RssSource)
