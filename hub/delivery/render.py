"""The exact text a subscriber reads, fixed when a delivery is planned."""

from __future__ import annotations

from typing import Any

from hub.audience.texts import plain
from hub.text import truncate

SUMMARY_LIMIT = 600
TEXT_LIMIT = 4096


def item_payload(item: Any) -> dict[str, Any]:
    """The parts of an item a message needs, copied so later edits do not change it."""
    return {
        "id": item.id, "title": item.title, "url": item.url, "summary": item.summary,
        "image_url": item.image_url, "tags": list(item.tags or []),
    }


def render_item(item: dict[str, Any], footer: str | None = None) -> str:
    """One story: bold title, a short summary, the link, and always the way out.

    ``footer`` is the way out in the subscribers' language (``Texts("footer")``); without one,
    the default language's."""
    footer = footer or plain()("footer")
    parts = [f"*{item['title']}*" if item.get("title") else ""]
    if item.get("summary"):
        parts.append(truncate(item["summary"], SUMMARY_LIMIT))
    if item.get("url"):
        parts.append(item["url"])
    parts.append(footer)
    return truncate("\n\n".join(p for p in parts if p), TEXT_LIMIT)


def render_digest(items: list[dict[str, Any]], heading: str, footer: str | None = None) -> str:
    """Several stories in one message: a heading, one numbered line and link each, the way out."""
    footer = footer or plain()("footer")
    lines = [f"*{heading}*"]
    for number, item in enumerate(items, start=1):
        lines.append(f"{number}. {item['title']}\n{item.get('url') or ''}".rstrip())
    lines.append(footer)
    return truncate("\n\n".join(lines), TEXT_LIMIT)


def reply_body(text: str, interactive: dict[str, Any] | None = None,
               in_reply_to: str | None = None) -> dict[str, Any]:
    """The body of a delivery that answers a person who just wrote (welcome, lists, confirmations).

    The shape every sink reads (agreed between the webhook and the WhatsApp sink)::

        {"kind": "reply",                    # free-form: only inside the 24 h window
         "text": "…",                        # always complete on its own: what a console or a
                                             #   text-only sink shows, and the fallback
         "interactive": {…},                 # optional: Cloud API ``interactive`` object as is,
                                             #   {"type": "list"|"button", "body": {"text": …},
                                             #    "action": {…}}; a sink sends it unchanged
         "in_reply_to": "wamid…"}            # optional: the message this answers (``context``)

    Reply ids the hub understands when tapped start with ``hub:`` (``hub:topic:<tag>``,
    ``hub:weekly``, ``hub:pause``…).
    """
    body: dict[str, Any] = {"kind": "reply", "text": truncate(text, TEXT_LIMIT)}
    if interactive:
        body["interactive"] = interactive
    if in_reply_to:
        body["in_reply_to"] = in_reply_to
    return body
