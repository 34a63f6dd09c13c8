"""The ``gsheets`` source: a Google Sheet used as an editorial calendar.

The admin pastes the sheet's ordinary address. A sheet shared by link or published to the web is
read as CSV (``…/export?format=csv&gid=N`` or ``…/pub?output=csv``); with ``api_key_env`` it is
read through the Sheets API v4 ``values.get`` (the key travels in the ``X-goog-api-key`` header,
never in a URL that could reach a log).

The first row holds the headers, matched case- and accent-insensitively to the columns in
``columns``. A row becomes an item when its status says it is ready and its ``publish_at`` has
passed. Its id comes from the id column, else from its URL, else from its title, so fixing a
typo in the text does not send it again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

import hub
from hub.config import known_time_zone, secret_from_env
from hub.contracts import FetchContext, FetchResult, Source
from hub.errors import SourceError
from hub.matching import unique_tags
from hub.news import NewsItem
from hub.text import (
    absolute_url,
    canonical_url,
    html_to_plain,
    html_to_whatsapp,
    html_to_whatsapp_line,
    sendable_image,
    strip_tracking,
    truncate,
)

from .common import WebSourceOptions

FIELDS = ("id", "title", "url", "text", "image", "tags", "publish_at", "status")
DEFAULT_HEADERS: dict[str, list[str]] = {
    "id": ["id", "identificador"],
    "title": ["title", "titulo", "titular"],
    "url": ["url", "link", "enlace"],
    "text": ["text", "texto", "body", "cuerpo", "mensaje", "descripcion"],
    "image": ["image", "imagen", "foto", "image_url"],
    "tags": ["tags", "etiquetas", "temas", "categorias"],
    "publish_at": ["publish_at", "publicar", "fecha", "publicacion", "fecha de publicacion", "date"],
    "status": ["status", "estado"],
}
_SHEET_ID = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]{10,})")
_PUBLISHED = re.compile(r"/spreadsheets/d/e/([A-Za-z0-9_-]+)")
_SERIAL_EPOCH = datetime(1899, 12, 30)


class GSheetsOptions(WebSourceOptions):
    """``[[sources]] type = "gsheets"``."""

    sheet: str = Field(min_length=1, description="the sheet's address as the browser shows it")
    gid: str | None = Field(None, description="tab id; default: the #gid= of the address, else 0")
    api_key_env: str | None = Field(None, description="environment variable with a Sheets API key")
    range: str = Field("A1:Z", description='A1 range for the API, e.g. "\'Hoja 1\'!A1:H"')
    api_base: str = Field("https://sheets.googleapis.com", description="Sheets API address")
    columns: dict[str, str] = Field(default_factory=dict,
                                    description="field → header text, e.g. { title = \"Titular\" }")
    required: list[str] = Field(default_factory=lambda: ["title"],
                                description="fields a row must fill to become an item")
    ready: list[str] = Field(default_factory=lambda: ["listo", "ready", "publicar", "si", "yes", "ok"],
                             description="status values that mean the row may be sent")
    timezone: str = Field("Europe/Madrid", description="zone of publish_at times without an offset")
    timeout: float = Field(20.0, gt=0, le=300)

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; expected some of {list(FIELDS)}")
        return value

    @field_validator("required")
    @classmethod
    def _known_required(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; expected some of {list(FIELDS)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_time_zone(value)


class GSheetsSource(Source):
    """Reads ready rows of one sheet tab."""

    Options = GSheetsOptions
    options: GSheetsOptions

    async def fetch(self, ctx: FetchContext) -> FetchResult:
        headers: dict[str, str] = {}
        if self.options.api_key_env:
            key = secret_from_env(self.options.api_key_env, purpose=f"{self.name}'s Sheets API key")
            headers["X-goog-api-key"] = key
            url = api_url(self.options)
        else:
            url = csv_url(self.options.sheet, self.options.gid)
        # Never conditional: a row whose publish_at passes must be seen even if the sheet did not change.
        fetched = await ctx.get(url, conditional=False, headers=headers, timeout=self.options.timeout)
        if self.options.api_key_env:
            rows = values_rows(fetched.body, url)
        else:
            rows = csv_rows(fetched.body, fetched.content_type, url)
        items, warnings = rows_to_items(rows, self.options, ctx.clock.now())
        ctx.warnings.extend(f"{self.name}: {w}" for w in warnings)
        return FetchResult(items)


def csv_url(sheet: str, gid: str | None = None) -> str:
    """The CSV address of the sheet the admin pasted (an export or publish-to-web address)."""
    parts = urlsplit(sheet)
    fragment_gid = parse_qs(parts.fragment).get("gid") or parse_qs(parts.query).get("gid")
    tab = gid or (fragment_gid[0] if fragment_gid else None)
    origin = f"{parts.scheme}://{parts.netloc}"
    if "output=csv" in parts.query or "format=csv" in parts.query:
        return sheet.split("#")[0]
    published = _PUBLISHED.search(parts.path)
    if published:
        prefix = parts.path[:published.end()]
        return f"{origin}{prefix}/pub?output=csv" + (f"&gid={tab}&single=true" if tab else "")
    found = _SHEET_ID.search(parts.path)
    if found:
        prefix = parts.path[:found.end()]
        return f"{origin}{prefix}/export?format=csv&gid={tab or '0'}"
    return sheet.split("#")[0]


def api_url(options: GSheetsOptions) -> str:
    found = _SHEET_ID.search(urlsplit(options.sheet).path)
    sheet_id = found.group(1) if found else options.sheet.strip()
    return f"{options.api_base.rstrip('/')}/v4/spreadsheets/{sheet_id}/values/{quote(options.range, safe='')}"


def csv_rows(body: bytes, content_type: str, url: str) -> list[list[str]]:
    if "text/html" in content_type.lower() or body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        raise SourceError(f"{url}: got a web page, not CSV",
                          hint="share the sheet as 'anyone with the link can view' or publish it to the web")
    text = body.decode("utf-8-sig", errors="replace")
    return [row for row in csv.reader(io.StringIO(text))]


def values_rows(body: bytes, url: str) -> list[list[str]]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise SourceError(f"{url}: the Sheets API did not answer JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SourceError(f"{url}: unexpected Sheets API answer")
    values = data.get("values") or []  # an empty range has no "values" key at all
    return [[_cell(c) for c in row] for row in values if isinstance(row, list)]


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.strip().lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[\s_]+", " ", text)


def map_headers(header: list[str], columns: dict[str, str]) -> dict[str, int]:
    """field → column index, matching headers case- and accent-insensitively."""
    folded = [_fold(h) for h in header]
    found: dict[str, int] = {}
    for name in FIELDS:
        wanted = [columns[name]] if name in columns else DEFAULT_HEADERS[name]
        for candidate in wanted:
            key = _fold(candidate)
            if key in folded:
                found[name] = folded.index(key)
                break
    return found


def rows_to_items(rows: list[list[str]], options: GSheetsOptions,
                  now: datetime) -> tuple[list[NewsItem], list[str]]:
    """Items for the ready, due rows; a warning (with the sheet's row number) for each broken row."""
    warnings: list[str] = []
    if not rows:
        return [], warnings
    index = map_headers(rows[0], options.columns)
    missing = [f for f in options.required if f not in index]
    if missing:
        raise SourceError(f"{options.name}: the header row has no column for {', '.join(missing)} "
                          f"(headers: {', '.join(rows[0]) or 'none'})",
                          hint="rename the column or map it with columns = { title = \"…\" }")
    zone = ZoneInfo(options.timezone)
    ready = {_fold(v) for v in options.ready}
    items: list[NewsItem] = []
    for number, row in enumerate(rows[1:], start=2):
        cell = {name: (row[i].strip() if i < len(row) else "") for name, i in index.items()}
        if not any(cell.values()):
            continue
        if "status" in index and _fold(cell["status"]) not in ready:
            continue
        empty = [f for f in options.required if not cell.get(f)]
        if empty:
            warnings.append(f"row {number} skipped: no {', '.join(empty)}")
            continue
        when = None
        if cell.get("publish_at"):
            when = parse_when(cell["publish_at"], zone)
            if when is None:
                warnings.append(f"row {number} skipped: publish_at {cell['publish_at']!r} is not a date")
                continue
            if when > now:
                continue
        items.append(_row_item(cell, options, when or now))
    return items, warnings


def _row_item(cell: dict[str, str], options: GSheetsOptions, when: datetime) -> NewsItem:
    url = strip_tracking(absolute_url(cell.get("url", "")) or "")
    title = truncate(html_to_plain(cell.get("title", "")), 500)
    text = cell.get("text", "")
    tags = [t.strip() for t in re.split(r"[,;]", cell.get("tags", "")) if t.strip()]
    if cell.get("id"):
        guid = "id:" + cell["id"]
    elif url:
        guid = "url:" + canonical_url(url)
    else:
        guid = "title:" + hashlib.sha1(_fold(title).encode()).hexdigest()
    all_tags = unique_tags([*options.tags, *tags])
    return NewsItem(
        source=options.name,
        guid=guid[:1000],
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        summary=truncate(html_to_whatsapp_line(text), 20_000),
        text=truncate(html_to_whatsapp(text), 20_000),
        image_url=sendable_image(absolute_url(cell.get("image", ""))),
        tags=all_tags,
        published_at=when,
    )


def parse_when(value: str, zone: ZoneInfo) -> datetime | None:
    """A sheet's date: ISO, day-first ``31/12/2026 09:30``, a serial number, or gviz ``Date(…)``."""
    text = value.strip()
    gviz = re.fullmatch(r"Date\((\d+),(\d+),(\d+)(?:,(\d+),(\d+)(?:,(\d+))?)?\)", text)
    if gviz:
        y, m, d, hh, mm, ss = (int(g) if g else 0 for g in gviz.groups())
        return datetime(y, m + 1, d, hh, mm, ss, tzinfo=zone).astimezone(UTC)
    if re.fullmatch(r"\d+(\.\d+)?", text) and float(text) > 20000:
        local = _SERIAL_EPOCH + timedelta(days=float(text))
        return local.replace(tzinfo=zone).astimezone(UTC)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = None
        for fmt in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d-%m-%Y %H:%M", "%d-%m-%Y"):
            try:
                when = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=zone)).astimezone(UTC)


@hub.hookimpl
def register_sources(register: Any) -> None:
    register("gsheets", GSheetsSource)
