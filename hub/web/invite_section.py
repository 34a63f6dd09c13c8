"""The dashboard's "Invite people" section: the wa.me link and its QR code, or how to get them."""

from __future__ import annotations

from html import escape

from hub.config import AudienceConfig
from hub.errors import ConfigError
from hub.i18n import translations


def invite_section(audience: AudienceConfig, language: str = "en") -> str:
    """The invitation to join (wa.me link and QR code) to copy or print, or how to get it."""
    from hub.audience.invite import invitation

    _ = translations(language).gettext
    try:
        card = invitation(audience)
    except ConfigError:
        body = "<p>" + escape(_("Set [audience] business_number in hub.toml (or HUB_BUSINESS_NUMBER) to "
                                "show the link and QR code people use to join.")) + "</p>"
    else:
        hint = _("`hub invite` writes it as PNG and SVG files to print (--topic for one topic).")
        scan = _("Scan the code or share the link: WhatsApp opens with the message that subscribes "
                 "already typed.")
        body = (f"<p>{escape(scan)}</p>"
                f"<p><a class='invite-link' href='{escape(card.link)}'>{escape(card.link)}</a></p>"
                f"<div class='invite-qr'>{card.svg_inline()}</div>"
                f"<p><small>{escape(hint)}</small></p>")
    heading = _("Invite people")
    return f"<section id='invite'><h2>{escape(heading)}</h2>{body}</section>"
