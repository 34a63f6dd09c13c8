"""Request bodies for ``POST /<phone_number_id>/messages``, every limit enforced by truncation.

A body built here never makes Meta reject a call for length: texts are cut with
:func:`hub.text.truncate` (at a word, with ``…``), identifiers are cut plainly, and counts
(3 buttons, 10 rows) are capped. A number goes in ``to``, always as ``+<country code><number>``
(Meta prepends the business number's own country code to a number given without ``+``); a person
known only by a business-scoped user id (a WhatsApp username hides their number) goes in
``recipient`` instead — Meta's rule: ``to`` when the number is known.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.cloudapi import limits
from hub.text import truncate

_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")


def recipient(phone: str) -> str:
    """``34612345678`` or ``+34 612 345 678`` → ``+34612345678``."""
    digits = re.sub(r"\D", "", phone)
    if not digits:
        raise ValueError(f"not a phone number: {phone!r}")
    return "+" + digits


def addressee(to: str) -> dict[str, str]:
    """``{"to": "+34…"}`` for a number, ``{"recipient": "ES.1349…"}`` for a business-scoped user id."""
    if _BSUID.match(to):
        return {"recipient": to}
    return {"to": recipient(to)}


def _base(to: str, kind: str, callback: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                            **addressee(to), "type": kind}
    if callback:
        body["biz_opaque_callback_data"] = callback[:limits.CALLBACK_DATA]
    return body


def text_message(to: str, body: str, *, preview_url: bool = True,
                 callback: str | None = None) -> dict[str, Any]:
    """A text with a link preview of its first URL."""
    message = _base(to, "text", callback)
    message["text"] = {"preview_url": preview_url, "body": truncate(body, limits.TEXT_BODY)}
    return message


def image_message(to: str, link: str, caption: str = "", *,
                  callback: str | None = None) -> dict[str, Any]:
    """An image by URL with a caption (Meta fetches and caches the image for 10 minutes)."""
    message = _base(to, "image", callback)
    image: dict[str, Any] = {"link": link}
    if caption:
        image["caption"] = truncate(caption, limits.CAPTION)
    message["image"] = image
    return message


def template_param(text: str, limit: int = limits.TEMPLATE_PARAM) -> str:
    """A template parameter: one line (Meta refuses new lines and tabs in parameters), cut to fit."""
    flat = _SPACES.sub(" ", text).strip()
    return truncate(flat, limit) if flat else "-"


def titles_param(titles: Sequence[str], limit: int = limits.TEMPLATE_PARAM,
                 more: str = "y {count} más") -> str:
    """Numbered titles on one line, as many whole ones as fit in ``limit``, then "y N más"
    (``more``, in the template's language).

    A digest sent as a template carries its stories in one parameter: a title is never cut in
    the middle of the list, and a person can tell how many did not fit.
    """
    parts = [f"{n}. {_SPACES.sub(' ', t).strip()}" for n, t in enumerate(titles, start=1)]
    for shown in range(len(parts), 0, -1):
        rest = len(parts) - shown
        line = " · ".join(parts[:shown]) + (" · " + more.format(count=rest) if rest else "")
        if len(line) <= limit:
            return line
    return template_param(parts[0], limit) if parts else "-"


@dataclass(frozen=True)
class TemplateCall:
    """The variable parts of one send of an approved template."""

    name: str
    language: str
    body: Sequence[str] = ()
    header_image: str | None = None
    url_suffix: str | None = None
    button_index: int = 0
    param_limit: int = limits.TEMPLATE_PARAM
    quick_replies: Sequence[str] = field(default_factory=tuple)  # payloads, buttons after the URL one


def template_message(to: str, call: TemplateCall, *, callback: str | None = None) -> dict[str, Any]:
    """An approved template: image header, body parameters, URL-button suffix, quick replies."""
    components: list[dict[str, Any]] = []
    if call.header_image:
        components.append({"type": "header", "parameters": [
            {"type": "image", "image": {"link": call.header_image}}]})
    if call.body:
        components.append({"type": "body", "parameters": [
            {"type": "text", "text": template_param(p, call.param_limit)} for p in call.body]})
    index = call.button_index
    if call.url_suffix is not None:
        components.append({"type": "button", "sub_type": "url", "index": str(index), "parameters": [
            {"type": "text", "text": call.url_suffix[:limits.URL_SUFFIX] or "-"}]})
        index += 1
    for payload in call.quick_replies:
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                           "parameters": [{"type": "payload", "payload": payload}]})
        index += 1
    template: dict[str, Any] = {"name": call.name, "language": {"code": call.language}}
    if components:
        template["components"] = components
    message = _base(to, "template", callback)
    message["template"] = template
    return message


def _unique_titles(titles: list[str], limit: int) -> list[str]:
    """Cut titles to ``limit``; Meta wants them unique, so clashing cuts get a number."""
    out: list[str] = []
    for title in titles:
        cut = truncate(title.strip() or "-", limit)
        n = 2
        while cut in out:
            tail = f" {n}"
            cut = truncate(title.strip(), limit - len(tail)) + tail
            n += 1
        out.append(cut)
    return out


def _header_footer(interactive: dict[str, Any], header: str | None, footer: str | None) -> None:
    if header:
        interactive["header"] = {"type": "text", "text": truncate(header, limits.HEADER_TEXT)}
    if footer:
        interactive["footer"] = {"text": truncate(footer, limits.FOOTER)}


def buttons_message(to: str, body: str, buttons: Sequence[tuple[str, str]], *,
                    header: str | None = None, footer: str | None = None,
                    callback: str | None = None) -> dict[str, Any]:
    """Up to three reply buttons, each ``(id, title)``; extra buttons are left out."""
    chosen = list(buttons)[:limits.BUTTON_COUNT]
    if not chosen:
        raise ValueError("a reply-buttons message needs at least one button")
    titles = _unique_titles([title for _, title in chosen], limits.BUTTON_TITLE)
    interactive: dict[str, Any] = {"type": "button"}
    _header_footer(interactive, header, None)
    interactive["body"] = {"text": truncate(body, limits.BUTTONS_BODY)}
    _header_footer(interactive, None, footer)
    interactive["action"] = {"buttons": [
        {"type": "reply", "reply": {"id": (bid.strip() or title)[:limits.BUTTON_ID], "title": title}}
        for (bid, _), title in zip(chosen, titles, strict=True)]}
    message = _base(to, "interactive", callback)
    message["interactive"] = interactive
    return message


@dataclass(frozen=True)
class Row:
    """One choice in a list message."""

    id: str
    title: str
    description: str = ""


def list_message(to: str, body: str, button: str, sections: Sequence[tuple[str, Sequence[Row]]], *,
                 header: str | None = None, footer: str | None = None,
                 callback: str | None = None) -> dict[str, Any]:
    """A list: up to 10 sections and 10 rows in all; rows past the tenth are left out."""
    remaining = limits.ROW_COUNT
    built: list[dict[str, Any]] = []
    for title, rows in list(sections)[:limits.SECTION_COUNT]:
        taken = list(rows)[:remaining]
        if not taken:
            continue
        remaining -= len(taken)
        titles = _unique_titles([r.title for r in taken], limits.ROW_TITLE)
        section: dict[str, Any] = {}
        if title:
            section["title"] = truncate(title, limits.SECTION_TITLE)
        section["rows"] = []
        for row, row_title in zip(taken, titles, strict=True):
            entry = {"id": (row.id.strip() or row_title)[:limits.ROW_ID], "title": row_title}
            if row.description:
                entry["description"] = truncate(row.description, limits.ROW_DESCRIPTION)
            section["rows"].append(entry)
        built.append(section)
    if not built:
        raise ValueError("a list message needs at least one row")
    if len(built) > 1:
        for number, section in enumerate(built, start=1):
            section.setdefault("title", f"{number}")  # required when there are several sections
    interactive: dict[str, Any] = {"type": "list"}
    _header_footer(interactive, header, None)
    interactive["body"] = {"text": truncate(body, limits.LIST_BODY)}
    _header_footer(interactive, None, footer)
    interactive["action"] = {"button": truncate(button, limits.LIST_BUTTON), "sections": built}
    message = _base(to, "interactive", callback)
    message["interactive"] = interactive
    return message


def mark_read(message_id: str) -> dict[str, Any]:
    """Mark an inbound message as read (blue ticks), answered with ``{"success": true}``."""
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
