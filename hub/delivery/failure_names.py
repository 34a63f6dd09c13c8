"""Names for failures: Meta's code with its title, or, for what the hub refused itself, what it was.

A failure the hub decided before any request (no template outside the window, a story a
template cannot carry, a number that is not one) has no API code; counted by code it showed as
``none`` or ``unknown``. Here it gets a short name read from the detail the sink gave, so
``hub status``, ``hub stats`` and the log say "no template" instead.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from hub.cloudapi.codes import label
from hub.storage.tables import DeliveryRow

# (words in the detail, the name): the first match wins, in this order.
_LOCAL = (
    (("no [sinks.", "template"), "no template configured (outside the 24-hour window)"),
    (("image header",), "the template needs an image the story lacks"),
    (("24-hour window",), "outside the 24-hour window (replies and buttons need it open)"),
    (("stopped marketing",), "the person stopped marketing messages"),
    (("opted out",), "opted out"),
    (("network:",), "network error"),
    (("sink error:",), "the sink raised an error"),
    (("not a number",), "not a phone number"),
    (("interactive body",), "an interactive message without buttons"),
)


def failure_name(code: int | str | None, detail: str | None) -> str:
    """``131026 (Message undeliverable)``, or a name for a failure without a code."""
    if code is not None:
        return label(code)
    text = (detail or "").strip()
    lowered = text.lower()
    for words, name in _LOCAL:
        if all(word in lowered for word in words):
            return name
    if lowered.startswith("http "):
        return text.split(":", 1)[0]  # "HTTP 502"
    if not text:
        return "refused by the hub (no detail recorded)"
    first = text.split(";", 1)[0]
    return "refused by the hub: " + (first if len(first) <= 60 else first[:59].rstrip() + "…")


def failures_by_name(session: Session) -> dict[str, int]:
    """Failed deliveries counted by :func:`failure_name`, the most frequent first."""
    counts: dict[str, int] = {}
    rows = session.exec(select(DeliveryRow.error_code, DeliveryRow.error_detail, func.count())
                        .where(DeliveryRow.status == "failed")
                        .group_by(col(DeliveryRow.error_code), col(DeliveryRow.error_detail))).all()
    for code, detail, count in rows:
        name = failure_name(code, detail)
        counts[name] = counts.get(name, 0) + count
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
