"""The ``webpage`` source: a "Noticias" page with no feed, read through CSS selectors.

Many town halls and associations publish news only as a list of cards on a web page. The admin
names the page and, as CSS selectors (soupsieve, through bs4's ``select``), what one news item is
and, inside it, its title, link, date, summary and image. The page is fetched like a feed
(conditional GET, bounded, public addresses only); each card becomes an item whose guid is its
resolved link, so the same card is the same item on every poll. A poll that finds no card is a
warning in ``hub sources`` — a redesigned page must not fall silent.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import soupsieve
from bs4 import BeautifulSoup, Tag
from pydantic import Field, field_validator

import hub
from hub.config import known_time_zone
from hub.contracts import FetchContext, FetchResult, Source
from hub.news import NewsItem
from hub.text import (
    absolute_url,
    canonical_url,
    html_to_plain,
    html_to_whatsapp,
    sendable_image,
    strip_tracking,
    truncate,
)

from .common import WebSourceOptions
from .dates import parse_loose_date, vet_dates

MAX_ITEMS = 200  # cards read from one page: a selector matching every <div> is a mistake
SELECTORS = ("item", "title", "link", "date", "summary", "image")


class WebpageOptions(WebSourceOptions):
    """``[[sources]] type = "webpage"``: the page and CSS selectors for its news cards."""

    url: str = Field(min_length=1, description="the page that lists the news")
    item: str = Field(min_length=1, description='CSS selector of one news card, e.g. "article.noticia"')
    title: str = Field("h1, h2, h3, h4", description="inside a card: its title")
    link: str = Field("a[href]", description="inside a card: the link to the full story")
    date: str | None = Field(None, description="inside a card: its date (a <time datetime> or "
                             "text such as 12 de marzo de 2026 or 12/03/2026)")
    summary: str | None = Field(None, description="inside a card: its summary")
    image: str | None = Field("img", description="inside a card: its picture")
    timezone: str = Field("Europe/Madrid", description="zone of dates written without one")
    timeout: float = Field(20.0, gt=0, le=300, description="seconds for the whole request")
    max_bytes: int = Field(5 * 1024 * 1024, gt=0, description="largest (decoded) page accepted")

    @field_validator(*SELECTORS)
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        """A selector that does not compile is a config error, reported by ``hub check``."""
        if value is not None:
            try:
                soupsieve.compile(value)
            except soupsieve.SelectorSyntaxError as exc:
                first = str(exc).splitlines()[0]
                raise ValueError(f"not a valid CSS selector: {first}") from None
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected the page's http(s) address")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_time_zone(value)


class WebpageSource(Source):
    """Reads the news cards of one web page."""

    Options = WebpageOptions
    options: WebpageOptions

    async def fetch(self, ctx: FetchContext) -> FetchResult:
        url = ctx.state.url or self.options.url
        fetched = await ctx.get(url, timeout=self.options.timeout, max_bytes=self.options.max_bytes)
        if fetched.not_modified:
            return FetchResult([], not_modified=True)
        items, warnings = await ctx.offload(parse_page, fetched.body, fetched.url,
                                            self.options.model_dump(), ctx.clock.now())
        ctx.warnings.extend(warnings)
        return FetchResult(items)


def parse_page(body: bytes, page_url: str, options: dict[str, Any],
               now: datetime) -> tuple[list[NewsItem], list[str]]:
    """Items and warnings from one page (a module-level function: it may run in a pool)."""
    name = options["name"]
    soup = BeautifulSoup(body, "lxml")
    base = page_url
    base_tag = soup.find("base", href=True)
    if isinstance(base_tag, Tag):
        base = absolute_url(str(base_tag["href"]), page_url) or page_url
    cards = soup.select(options["item"], limit=MAX_ITEMS)
    if not cards:
        return [], [f"{name}: the item selector {options['item']!r} matched nothing on {page_url}; "
                    "has the page changed?"]
    zone = ZoneInfo(options["timezone"])
    drafts = [_card(card, base, options, zone) for card in cards]
    drafts = [d for d in drafts if d["title"]]
    warnings: list[str] = []
    if len(drafts) < len(cards):
        warnings.append(f"{name}: {len(cards) - len(drafts)} card(s) without a title "
                        f"({options['title']!r} matched nothing in them) were skipped")
    if options.get("date"):
        times, said = vet_dates([d["time"] for d in drafts], now, name)
        warnings.extend(said)
    else:
        times = [None] * len(drafts)
    items = [_item(d, when, options, page_url, now) for d, when in zip(drafts, times, strict=True)]
    return items, warnings


def _card(card: Tag, base: str, options: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """The raw fields of one card, links resolved against the page."""
    title_node = _first(card, options["title"])
    link_node = _first(card, options["link"])
    if link_node is None and card.name == "a":
        link_node = card
    if link_node is not None and link_node.name != "a":
        link_node = link_node.find("a", href=True) if link_node.get("href") is None else link_node
    href = str(link_node.get("href") or "") if isinstance(link_node, Tag) else ""
    date_node = _first(card, options.get("date"))
    summary_node = _first(card, options.get("summary"))
    image_node = _first(card, options.get("image"))
    return {
        "title": html_to_plain(title_node.decode_contents()) if title_node is not None else "",
        "link": absolute_url(href, base) or "",
        "time": _when(date_node, zone),
        "summary": summary_node.decode_contents() if summary_node is not None else "",
        "image": _image(image_node, base),
    }


def _first(card: Tag, selector: str | None) -> Tag | None:
    if not selector:
        return None
    found = card.select_one(selector)
    return found if isinstance(found, Tag) else None


def _when(node: Tag | None, zone: ZoneInfo) -> datetime | None:
    """A ``<time datetime>``'s value, else the element's text, read as a date."""
    if node is None:
        return None
    stamp = node.get("datetime") or node.get("content")
    if isinstance(stamp, str) and (when := parse_loose_date(stamp, zone)):
        return when
    return parse_loose_date(" ".join(node.get_text(" ").split()), zone)


def _image(node: Tag | None, base: str) -> str | None:
    if node is None:
        return None
    img = node if node.name == "img" else node.find("img")
    if not isinstance(img, Tag):
        return None
    for side in ("width", "height"):
        size = str(img.get(side) or "").removesuffix("px")
        if size.isdigit() and int(size) < 100:
            return None  # an icon
    src = str(img.get("src") or img.get("data-src") or "")
    return sendable_image(absolute_url(src, base)) if src and not src.startswith("data:") else None


def _item(draft: dict[str, Any], when: datetime | None, options: dict[str, Any], page_url: str,
          now: datetime) -> NewsItem:
    link = strip_tracking(draft["link"])
    guid = ("url:" + canonical_url(link)) if link else \
        "title:" + hashlib.sha1(draft["title"].encode()).hexdigest()
    summary = truncate(html_to_plain(draft["summary"]), 20_000)
    text = truncate(html_to_whatsapp(draft["summary"]), 20_000)
    return NewsItem(
        source=options["name"],
        guid=guid[:1000],
        url=link or page_url,
        canonical_url=canonical_url(link or page_url),
        title=truncate(draft["title"], 500),
        summary=summary,
        text=text,
        image_url=draft["image"],
        tags=list(options.get("tags") or []),
        published_at=when or now,
    )


@hub.hookimpl
def register_sources(register: Any) -> None:
    register("webpage", WebpageSource)
