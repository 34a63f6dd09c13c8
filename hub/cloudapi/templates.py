"""The WhatsApp Business Account's message templates: read them, and check the config against them.

``GET /{version}/{waba_id}/message_templates`` lists them (name, language, status, category,
quality, components), a page at a time: each answer's ``paging.next`` is the URL of the next page
and is absent on the last. :func:`preflight` compares what ``hub.toml`` fills in with what the
account says, one line per mismatch, each naming the key to fix. ``message_template_status_update``
webhooks (:func:`parse_template_update`) say when one is paused, disabled or approved again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from hub.cloudapi.client import USER_AGENT

FIELDS = "id,name,language,status,category,quality_score,components,rejected_reason"
PAGE_SIZE = 100
MAX_PAGES = 200  # 20,000 templates: far beyond any account (Meta allows 250 to 6,000)
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
BLOCKING = ("PAUSED", "DISABLED", "REJECTED", "PENDING_DELETION", "DELETED", "ARCHIVED", "LIMIT_EXCEEDED")


@dataclass(frozen=True)
class AccountTemplate:
    """One template (one language of it) as the account describes it."""

    name: str
    language: str
    status: str
    category: str | None = None
    quality: str | None = None
    template_id: str | None = None
    body_params: int = 0
    header_format: str | None = None  # TEXT | IMAGE | VIDEO | DOCUMENT | LOCATION
    header_params: int = 0
    url_buttons: tuple[int, ...] = ()  # indexes of URL buttons whose URL takes a parameter
    reason: str | None = None

    def parameters(self) -> str:
        """What it needs, for ``hub templates``: ``2 body, image header, URL button 0``."""
        parts = [f"{self.body_params} body"]
        if self.header_format and self.header_format != "TEXT":
            parts.append(f"{self.header_format.lower()} header")
        elif self.header_params:
            parts.append(f"{self.header_params} header")
        parts += [f"URL button {i}" for i in self.url_buttons]
        return ", ".join(parts)

    def spec(self) -> dict[str, Any]:
        return {"header_format": self.header_format, "header_params": self.header_params,
                "url_buttons": list(self.url_buttons)}


@dataclass(frozen=True)
class TemplateUpdate:
    """A ``message_template_status_update`` webhook: a template's new status, and why."""

    name: str
    language: str
    event: str  # APPROVED | PAUSED | DISABLED | REJECTED | …
    at: datetime
    reason: str | None = None
    category: str | None = None
    template_id: str | None = None


def _count(text: Any) -> int:
    return len(set(_PLACEHOLDER.findall(text))) if isinstance(text, str) else 0


def parse_template(raw: dict[str, Any]) -> AccountTemplate | None:
    """One ``data[]`` entry → :class:`AccountTemplate` (None without a name and a language)."""
    name, language = raw.get("name"), raw.get("language")
    if not isinstance(name, str) or not isinstance(language, str):
        return None
    body = header = 0
    header_format: str | None = None
    url_buttons: list[int] = []
    for component in raw.get("components") or []:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type") or "").upper()
        if kind == "BODY":
            body = _count(component.get("text"))
        elif kind == "HEADER":
            header_format = str(component.get("format") or "TEXT").upper()
            header = _count(component.get("text"))
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                if isinstance(button, dict) and str(button.get("type")).upper() == "URL" \
                        and _count(button.get("url")):
                    url_buttons.append(index)
    quality = raw.get("quality_score")
    score = quality.get("score") if isinstance(quality, dict) else quality
    reason = raw.get("rejected_reason")
    return AccountTemplate(
        name=name, language=language, status=str(raw.get("status") or "UNKNOWN").upper(),
        category=str(raw["category"]).upper() if raw.get("category") else None,
        quality=str(score).upper() if score else None,
        template_id=str(raw["id"]) if raw.get("id") is not None else None,
        body_params=body, header_format=header_format, header_params=header,
        url_buttons=tuple(url_buttons), reason=str(reason) if reason and reason != "NONE" else None,
    )


class TemplatesError(Exception):
    """The account's templates could not be read (network, token, wrong WABA id)."""


def templates_url(base_url: str, version: str, waba_id: str) -> str:
    return f"{base_url.rstrip('/')}/{version}/{waba_id}/message_templates"


def fetch_templates(url: str, token: str, *, timeout: float = 20.0,
                    client: httpx.Client | None = None) -> list[AccountTemplate]:
    """Every template of the account, following ``paging.next`` until the last page."""
    own = client is None
    http = client or httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})
    found: list[AccountTemplate] = []
    try:
        for page in _pages(http, url, token):
            found.extend(t for raw in page if isinstance(raw, dict) and (t := parse_template(raw)))
    finally:
        if own:
            http.close()
    return found


def _pages(http: httpx.Client, url: str, token: str) -> Iterator[list[Any]]:
    params: dict[str, Any] | None = {"fields": FIELDS, "limit": PAGE_SIZE}
    next_url: str | None = url
    for _ in range(MAX_PAGES):
        if next_url is None:
            return
        try:
            answer = http.get(next_url, params=params, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise TemplatesError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None
        try:
            data = answer.json()
        except ValueError:
            data = None
        if not answer.is_success or not isinstance(data, dict):
            error = data.get("error") if isinstance(data, dict) else None
            detail = (f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict)
                      else f"HTTP {answer.status_code}")
            raise TemplatesError(f"the account's templates could not be read ({detail})")
        entries = data.get("data")
        yield entries if isinstance(entries, list) else []
        paging = data.get("paging")
        following = paging.get("next") if isinstance(paging, dict) else None
        next_url, params = (following, None) if isinstance(following, str) and following else (None, None)


def parse_template_update(value: dict[str, Any], now: datetime) -> TemplateUpdate | None:
    """The ``value`` of a ``message_template_status_update`` change, or None if it names no template."""
    name, language, event = (value.get("message_template_name"), value.get("message_template_language"),
                              value.get("event"))
    if not all(isinstance(v, str) and v for v in (name, language, event)):
        return None
    reason = value.get("reason")
    template_id = value.get("message_template_id")
    category = value.get("message_template_category")
    return TemplateUpdate(name=str(name), language=str(language), event=str(event).upper(), at=now,
                          reason=str(reason) if reason not in (None, "", "NONE") else None,
                          category=str(category).upper() if category else None,
                          template_id=str(template_id) if template_id is not None else None)


def read_account(config: Any) -> list[AccountTemplate]:
    """The delivering sink's account templates (``waba_id``, ``base_url``, the token's variable).

    Raises :class:`TemplatesError` when the sink cannot say which account (no ``waba_id``).
    """
    from hub.config import secret_from_env

    sink = config.delivering_sink()
    options = getattr(sink, "options", None)
    waba_id = getattr(options, "waba_id", None)
    if sink is None or options is None or not waba_id:
        where = f"{sink.path}.waba_id" if sink is not None else "sinks.whatsapp.waba_id"
        raise TemplatesError(f"{where}: not set (the WhatsApp Business Account id, from WhatsApp "
                             "Manager → Account tools, or Meta's App Dashboard → WhatsApp → API Setup)")
    token = secret_from_env(options.token_env, purpose="the WhatsApp Cloud API token")
    url = templates_url(options.base_url, options.graph_version, waba_id)
    return fetch_templates(url, token, timeout=getattr(options, "timeout", 20.0))


# -- the config against the account --------------------------------------------------------------

@dataclass(frozen=True)
class TemplateUse:
    """A template the config sends, and what it fills in; ``key`` is its path in hub.toml."""

    key: str
    name: str
    language: str
    body_params: int
    header_image: bool = False
    url_button: int | None = None  # index of the URL button the config fills, if any
    routines: tuple[str, ...] = field(default=())  # the routines that need it


def uses_from_config(config: Any) -> list[TemplateUse]:
    """The templates the delivering sink's options name (``template``, ``digest_template``).

    Read by shape, not by type: any sink whose options carry such tables is checked.
    """
    sink = config.delivering_sink()
    if sink is None:
        return []
    found: list[TemplateUse] = []
    routines = [r for r in config.routines if r.enabled]
    digest_own = getattr(sink.options, "digest_template", None) is not None
    for attr in ("template", "digest_template"):
        options = getattr(sink.options, attr, None)
        if options is None:
            continue
        if attr == "digest_template":
            needing = tuple(r.name for r in routines if r.mode == "digest")
        else:
            needing = tuple(r.name for r in routines if r.mode == "each" or not digest_own)
        found.append(TemplateUse(
            key=f"{sink.path}.{attr}", name=options.name, language=options.language,
            body_params=len(options.body), header_image=bool(options.header_image),
            url_button=options.button_index if options.button_url is not None else None,
            routines=needing))
    return found


def preflight(uses: Iterable[TemplateUse], account: Iterable[AccountTemplate]) -> list[str]:
    """One line per mismatch between what the config sends and what the account has."""
    by_name: dict[str, dict[str, AccountTemplate]] = {}
    for template in account:
        by_name.setdefault(template.name, {})[template.language] = template
    problems: list[str] = []
    for use in uses:
        languages = by_name.get(use.name)
        if not languages:
            close = sorted(by_name)[:8]
            problems.append(f"{use.key}.name: no template {use.name!r} in the WhatsApp Business Account "
                            f"(it has: {', '.join(close) or 'none'})")
            continue
        found = languages.get(use.language)
        if found is None:
            problems.append(f"{use.key}.language: {use.name!r} exists in {', '.join(sorted(languages))}, "
                            f"not in {use.language!r}")
            continue
        template = found
        if template.status != "APPROVED":
            why = f" ({template.reason})" if template.reason else ""
            problems.append(f"{use.key}: {use.name!r} ({use.language}) is {template.status}, not "
                            f"APPROVED{why}; Meta refuses it until it is approved again")
        if template.body_params != use.body_params:
            problems.append(f"{use.key}.body: {use.name!r} ({use.language}) takes {template.body_params} "
                            f"body parameter(s); the config fills {use.body_params}")
        image = template.header_format == "IMAGE"
        if image != use.header_image:
            problems.append(f"{use.key}.header_image: {use.name!r} ({use.language}) "
                            + ("has an image header; set header_image = true" if image
                               else "has no image header; set header_image = false"))
        if use.url_button is not None and use.url_button not in template.url_buttons:
            problems.append(f"{use.key}.button_index: {use.name!r} ({use.language}) has no URL button "
                            f"with a parameter at index {use.url_button}")
        elif use.url_button is None and template.url_buttons:
            problems.append(f"{use.key}.button_url: {use.name!r} ({use.language}) has a URL button "
                            f"that takes a parameter (index {template.url_buttons[0]}); set button_url")
    return problems
