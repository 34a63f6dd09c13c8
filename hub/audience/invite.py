"""The way in for people who have not written yet: a wa.me link that opens a chat with "ALTA …"
already typed, and its QR code for a poster or a web page.

The number is the business's WhatsApp number as people dial it (``[audience] business_number``,
or the ``HUB_BUSINESS_NUMBER`` environment variable), not the Cloud API's phone_number_id.
The QR code is drawn by segno (pure Python, maintained, PNG and SVG without Pillow).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import segno

from hub.config import AudienceConfig
from hub.errors import ConfigError

NUMBER_ENV = "HUB_BUSINESS_NUMBER"


@dataclass(frozen=True)
class Invitation:
    """What a person scans or taps: the link, and the words it writes for them."""

    number: str  # E.164 digits, no plus: what wa.me wants
    text: str
    topics: tuple[str, ...] = ()  # the tags the text names

    @property
    def link(self) -> str:
        return f"https://wa.me/{self.number}?text={quote(self.text, safe='')}"

    def qr(self) -> segno.QRCode:
        """Error correction Q (25 %): a printed poster survives a crease or a sticker."""
        return segno.make_qr(self.link, error="q")

    def write(self, stem: Path) -> tuple[Path, Path]:
        """``<stem>.png`` and ``<stem>.svg``, each large enough to print."""
        png, svg = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")
        stem.parent.mkdir(parents=True, exist_ok=True)
        code = self.qr()
        code.save(str(png), scale=10, border=4)
        code.save(str(svg), scale=10, border=4, title=self.link)
        return png, svg

    def svg_inline(self, scale: int = 4) -> str:
        """The QR code as an ``<svg>`` element for an HTML page (the dashboard)."""
        return str(self.qr().svg_inline(scale=scale, border=4, title=self.link))


def business_number(config: AudienceConfig) -> str:
    """The number people write to, normalised; a ConfigError saying where to set it when absent."""
    from hub.audience.people import normalise_phone

    raw = os.environ.get(NUMBER_ENV, "").strip() or (config.business_number or "")
    if not raw:
        raise ConfigError(
            "no business number: the link needs the WhatsApp number people write to",
            hint=f'set [audience] business_number = "+34 600 000 000" in hub.toml, or export {NUMBER_ENV}',
        )
    try:
        return normalise_phone(raw)
    except ValueError as exc:
        where = NUMBER_ENV if os.environ.get(NUMBER_ENV, "").strip() else "[audience] business_number"
        raise ConfigError(f"{where}: {exc}",
                          hint="write it with its country code, e.g. +34 600 000 000") from None


def invitation(config: AudienceConfig, topics: list[str] | None = None) -> Invitation:
    """The invitation to join, naming ``topics`` (tags or labels of ``[audience] topics``)."""
    chosen = [_topic(config, t) for t in topics or []]
    return Invitation(business_number(config), " ".join([join_word(config), *chosen]), tuple(chosen))


def join_word(config: AudienceConfig) -> str:
    """The subscribe keyword in the audience's language: JOIN for English, else the first one."""
    if config.language == "en" and "JOIN" in (k.upper() for k in config.subscribe):
        return "JOIN"
    return config.subscribe[0] if config.subscribe else "ALTA"


def _topic(config: AudienceConfig, wanted: str) -> str:
    from hub.matching import fold

    for tag, label in config.topics.items():
        if fold(wanted) in (fold(tag), fold(label)):
            return tag
    offered = ", ".join(config.topics) or "none: [audience] topics is not set"
    raise ConfigError(f"no topic {wanted!r} in [audience] topics (expected one of: {offered})")
