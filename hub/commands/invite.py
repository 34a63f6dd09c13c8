"""``hub invite``: the wa.me link and QR code an admin prints on a poster or puts on a web page."""

from __future__ import annotations

from pathlib import Path

import click

from hub.app import App
from hub.audience.invite import invitation

pass_app = click.make_pass_decorator(App)


@click.command("invite")
@click.option("--topic", "topics", multiple=True, metavar="TOPIC",
              help="A topic the link subscribes to (repeatable); a tag or label of [audience] topics.")
@click.option("--output", "stem", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the QR code, without extension [default: invite or invite-TOPIC…].")
@pass_app
def invite(app: App, topics: tuple[str, ...], stem: Path | None) -> None:
    """Print the link that opens a chat with ALTA typed, and write its QR code (PNG and SVG)."""
    card = invitation(app.config.audience, list(topics))  # a missing number: one line, with the fix
    default = "-".join(["invite", *(t.replace(" ", "_") for t in card.topics)])
    png, svg = card.write(stem or Path(default))
    click.echo(card.link)
    click.echo(f"Wrote {png} and {svg}: scanning either opens WhatsApp with “{card.text}” typed, "
               "ready to send.")
