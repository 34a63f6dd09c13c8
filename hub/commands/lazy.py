"""A click group whose commands are imported when used, so ``hub --version`` and ``hub --help``
start in a tenth of a second instead of importing the store, the web app and every plugin.

Each lazy command is named with where it lives and its one-line help (what ``hub --help``
shows, without importing it; a test checks the line against the command's docstring). Plugin
commands (the ``register_commands`` hook) are loaded the first time a name is not a built-in
command, or when the help lists commands and a third-party plugin is installed: entry point
metadata decides that, without importing any plugin's code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from hub.entry_points import third_party_plugins
from hub.errors import HubError


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (``module:attribute``) and the line ``hub --help`` shows for it."""

    target: str
    help: str

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class LazyGroup(click.Group):
    """Turns a ``HubError`` into one line on stderr and exit code 1, never a traceback; imports
    each command of ``lazy`` only when it runs (or its own help is asked for)."""

    def __init__(self, *args: Any, lazy: dict[str, LazyCommand] | None = None,
                 plugin_commands: Callable[[click.Group], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self.plugin_commands = plugin_commands
        self._plugins_loaded = False

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HubError as exc:
            raise click.ClickException(str(exc)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        if third_party_plugins():
            self._load_plugin_commands()
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        if cmd_name not in self.commands and cmd_name not in self.lazy:
            self._load_plugin_commands()
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, with the lazy commands' lines taken from the table (not imported)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(name) for name in names), default=0)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                command = click.Command(name, help=self.lazy[name].help)
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def _load_plugin_commands(self) -> None:
        if self._plugins_loaded or self.plugin_commands is None:
            return
        self._plugins_loaded = True
        self.plugin_commands(self)

