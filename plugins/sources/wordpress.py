"""The ``wordpress`` source: posts from the WordPress REST API (``/wp/v2/posts``).

The API root is discovered once from the site (its ``Link: <…>; rel="https://api.w.org/"``
header, else ``/wp-json/``) and remembered. Each poll asks only for posts published after the
newest one seen, walks the pages (``X-WP-TotalPages``), and uses ``_embed`` so category and tag
names and the featured image arrive in the same answer.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from pydantic import Field, field_validator

import hub
from hub.config import secret_from_env
from hub.contracts import FetchContext, FetchResult, Source
from hub.errors import SourceError
from hub.intake.fetch import FetchError
from hub.matching import unique_tags
from hub.news import NewsItem
from hub.text import (
    absolute_url,
    canonical_url,
    first_image,
    html_to_plain,
    html_to_whatsapp,
    html_to_whatsapp_line,
    sendable_image,
    strip_tracking,
    truncate,
)

from .common import WebSourceOptions

API_REL = "https://api.w.org/"
MAX_TITLE = 500
MAX_TEXT = 20_000
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([^";,]+)"?')


class WordPressOptions(WebSourceOptions):
    """``[[sources]] type = "wordpress"``."""

    url: str = Field(min_length=1, description="the site's address, e.g. https://example.org")
    api_root: str | None = Field(None, description="the REST API root, when discovery cannot find it")
    categories_as_tags: bool = Field(True, description="category and tag names become item tags")
    per_page: int = Field(20, ge=1, le=100, description="posts per request (WordPress allows 100)")
    max_pages: int = Field(5, ge=1, le=50, description="pages read per poll at most")
    user: str | None = Field(None, description="user name for an application password")
    password_env: str | None = Field(
        None, description="environment variable holding the application password")
    timeout: float = Field(20.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("expected the site's http(s) address, e.g. https://example.org")
        return value


class WordPressSource(Source):
    """Reads the newest posts of one WordPress site."""

    Options = WordPressOptions
    options: WordPressOptions

    async def fetch(self, ctx: FetchContext) -> FetchResult:
        auth = self._auth()
        root = ctx.state.cursor.get("api_root") or self.options.api_root or await self._discover(ctx)
        ctx.state.cursor["api_root"] = root
        after = ctx.state.cursor.get("after")
        items: list[NewsItem] = []
        newest = after
        for page in range(1, self.options.max_pages + 1):
            # First poll: the newest posts. Later: oldest first after the last seen, so a burst
            # larger than max_pages × per_page is read over several polls, none skipped.
            url = posts_url(root, {"_embed": "1", "per_page": str(self.options.per_page),
                                   "orderby": "date", "order": "asc" if after else "desc",
                                   "page": str(page), **({"after": _margin(after)} if after else {})})
            fetched = await ctx.get(url, conditional=page == 1, auth=auth,
                                    timeout=self.options.timeout)
            if fetched.not_modified:
                return FetchResult([], not_modified=True)
            posts = _json_list(fetched.body, url)
            page_items, page_newest = await ctx.offload(
                posts_to_items, posts, self.name, list(self.options.tags),
                self.options.categories_as_tags, ctx.clock.now())
            items.extend(page_items)
            if page_newest and (newest is None or page_newest > newest):
                newest = page_newest
            total = fetched.headers.get("X-WP-TotalPages", "1")
            if not posts or page >= (int(total) if total.isdigit() else 1):
                break
        if newest:
            ctx.state.cursor["after"] = newest
        return FetchResult(items)

    def _auth(self) -> httpx.BasicAuth | None:
        if not self.options.password_env:
            return None
        if not self.options.user:
            raise SourceError(f"{self.name}: password_env is set but user is not",
                              hint="add user = \"the WordPress user name\" to this source")
        secret = secret_from_env(self.options.password_env, purpose=f"{self.name}'s application password")
        return httpx.BasicAuth(self.options.user, secret)

    async def _discover(self, ctx: FetchContext) -> str:
        """The API root from the site's ``Link`` header, else ``<site>/wp-json/``."""
        site = self.options.url
        try:
            fetched = await ctx.get(site, conditional=False, timeout=self.options.timeout)
        except FetchError as exc:
            if exc.status is None:
                raise
            fetched = None
        if fetched is not None:
            for target, rel in _LINK.findall(fetched.headers.get("Link", "")):
                if rel.strip() == API_REL:
                    return urljoin(fetched.url, str(target))
            match = re.search(rb'<link[^>]+rel=["\']https://api\.w\.org/["\'][^>]*>', fetched.body[:200_000])
            href = match and re.search(rb'href=["\']([^"\']+)', match.group(0))
            if href:
                api: bytes = href.group(1)
                return urljoin(fetched.url, api.decode("utf-8", "replace"))
        return site.rstrip("/") + "/wp-json/"


def posts_url(root: str, params: dict[str, str]) -> str:
    """``<root>wp/v2/posts?…``, or ``?rest_route=/wp/v2/posts&…`` for sites without pretty links."""
    parts = urlsplit(root)
    query = dict(parse_qsl(parts.query))
    if "rest_route" in query:
        query["rest_route"] = query["rest_route"].rstrip("/") + "/wp/v2/posts"
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode({**query, **params}), ""))
    base = root if root.endswith("/") else root + "/"
    return urljoin(base, "wp/v2/posts") + "?" + urlencode(params)


def _json_list(body: bytes, url: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{url}: the API did not answer JSON: {exc}") from None
    if isinstance(data, dict) and "code" in data:
        raise SourceError(f"{url}: WordPress said {data.get('code')}: {data.get('message')}")
    if not isinstance(data, list):
        raise SourceError(f"{url}: expected a list of posts, got {type(data).__name__}")
    return [p for p in data if isinstance(p, dict)]


def posts_to_items(posts: list[dict[str, Any]], name: str, tags: list[str], categories_as_tags: bool,
                   now: datetime) -> tuple[list[NewsItem], str | None]:
    """Items from ``/wp/v2/posts?_embed`` objects, and the newest ``date_gmt`` among them."""
    items: list[NewsItem] = []
    newest: str | None = None
    for post in posts:
        item = _post_item(post, name, tags, categories_as_tags, now)
        if item is None:
            continue
        items.append(item)
        stamp = str(post.get("date_gmt") or "")
        if stamp and (newest is None or stamp > newest):
            newest = stamp
    return items, newest


def _rendered(post: dict[str, Any], key: str) -> str:
    value = post.get(key)
    if isinstance(value, dict):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def _post_item(post: dict[str, Any], name: str, tags: list[str], categories_as_tags: bool,
               now: datetime) -> NewsItem | None:
    link = strip_tracking(absolute_url(str(post.get("link") or "")) or "")
    if post.get("id") is None and not link:
        return None
    embedded: dict[str, Any] = found if isinstance(found := post.get("_embedded"), dict) else {}
    terms = [t for group in embedded.get("wp:term") or [] if isinstance(group, list)
             for t in group if isinstance(t, dict)]
    names = [html_to_plain(str(t.get("name") or "")) for t in terms
             if t.get("taxonomy") in ("category", "post_tag")] if categories_as_tags else []
    content = _rendered(post, "content")
    excerpt = _rendered(post, "excerpt")
    author = None
    authors = embedded.get("author") or []
    if authors and isinstance(authors[0], dict) and authors[0].get("name"):
        author = str(authors[0]["name"])
    guid = _rendered(post, "guid") or link or f"wp:{post.get('id')}"
    all_tags = unique_tags(t for t in [*tags, *names] if t)
    return NewsItem(
        source=name,
        guid=guid[:1000],
        url=link,
        canonical_url=canonical_url(link),
        title=truncate(html_to_plain(_rendered(post, "title")), MAX_TITLE),
        summary=truncate(html_to_whatsapp_line(excerpt or content), MAX_TEXT),
        text=truncate(html_to_whatsapp(content or excerpt), MAX_TEXT),
        image_url=_featured_image(embedded) or first_image(content, link),
        author=author,
        tags=all_tags,
        published_at=_gmt(post.get("date_gmt")) or now,
    )


def _featured_image(embedded: dict[str, Any]) -> str | None:
    for media in embedded.get("wp:featuredmedia") or []:
        if not isinstance(media, dict):
            continue
        sizes = (media.get("media_details") or {}).get("sizes") or {}
        for size in ("large", "medium_large", "full"):
            chosen = sizes.get(size) or {}
            found = sendable_image(absolute_url(str(chosen.get("source_url") or "")),
                                   mime=chosen.get("mime_type"), size=chosen.get("filesize"))
            if found:
                return found
        found = sendable_image(absolute_url(str(media.get("source_url") or "")),
                               mime=media.get("mime_type"))
        if found:
            return found
    return None


def _gmt(value: Any) -> datetime | None:
    """WordPress's ``date_gmt`` (naive, UTC) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _margin(stamp: str) -> str:
    """``after`` a day before the newest post seen: WordPress may compare it with the site's
    local time, so a margin avoids missing posts; the repeats are recognised by their guid."""
    try:
        return (datetime.fromisoformat(stamp) - timedelta(days=1)).isoformat()
    except ValueError:
        return stamp


@hub.hookimpl
def register_sources(register: Any) -> None:
    register("wordpress", WordPressSource)
