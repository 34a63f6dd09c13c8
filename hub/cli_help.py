"""``hub --help`` in sections (set up, sources and items, audience, sending, running, store), one
short line per command, and ``-v`` accepted after the subcommand as well as before it.

Kept apart from :mod:`hub.cli` so the command list and its wording change in one place.
A command no section names (one a plugin registers) is listed under "Plugins".
"""

from __future__ import annotations

import click

from hub.commands.lazy import LazyGroup

SECTIONS: tuple[tuple[str, dict[str, str]], ...] = (
    ("Set up", {
        "init": "Write a commented starter hub.toml",
        "check": "Validate hub.toml; --online checks the templates too",
        "demo": "See the whole hub work, no account needed",
        "plugins": "Installed plugins and what they provide",
        "templates": "The WhatsApp account's message templates",
    }),
    ("Sources and items", {
        "sources": "How each source is doing",
        "poll": "Fetch the due sources once and store new items",
        "items": "Stored items: list, why, held, approve, drop",
    }),
    ("Audience", {
        "subscribers": "People, their consent and topics: list, add, show…",
        "invite": "The wa.me link and QR code people join with",
    }),
    ("Sending", {
        "routines": "When news goes out: list, run, tick, resume",
        "preview": "What the next routine run would send",
        "send": "Send what is due now; say what waits and why",
        "status": "Can the hub send? Alerts, and what holds deliveries",
        "stats": "Sent, delivered, read, failed; who left",
    }),
    ("Running", {
        "run": "The hub as a service (poll, send, webhook, pages)",
        "serve": "Only the webhook Meta calls",
        "sandbox": "A Cloud API simulator on 127.0.0.1",
    }),
    ("Store", {
        "db": "The database schema: revision, upgrade",
    }),
)
VERBOSE = ("-v", "--verbose")


class SectionedGroup(LazyGroup):
    """A group whose help lists its commands by section, and which takes ``-v`` anywhere.

    Listing a command does not import it (a lazy command's module loads when it runs)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Move ``-v``/``--verbose`` given after the subcommand to the front, where it is ours."""
        end = args.index("--") if "--" in args else len(args)
        head, tail = args[:end], args[end:]
        if any(a in VERBOSE for a in head):
            head = [VERBOSE[0], *(a for a in head if a not in VERBOSE)]
        return super().parse_args(ctx, head + tail)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed: set[str] = set()
        for title, lines in SECTIONS:
            rows = []
            for name, line in lines.items():
                command = self.commands.get(name)
                if (command is not None and not command.hidden) or (command is None and name in self.lazy):
                    rows.append((name, line))
                    listed.add(name)
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
        others = [(name, cmd.get_short_help_str(limit=60)) for name in self.list_commands(ctx)
                  if name not in listed and (cmd := self.get_command(ctx, name)) is not None
                  and not cmd.hidden]
        if others:
            with formatter.section("Plugins"):
                formatter.write_dl(others)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        formatter.write_paragraph()
        formatter.write_text("More on one command: hub COMMAND --help. Start with: hub init, hub check, "
                             "hub poll.")
