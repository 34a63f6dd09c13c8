"""The hook specifications every hub plugin implements a subset of.

Contribution hooks take a callback (``register_sources(register)``); lifecycle hooks are named
as events (``startup``, ``on_delivery_status``). A built-in plugin uses exactly these hooks, so a
third-party plugin can do anything a built-in can.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")

Register = Callable[[str, type], None]


@hookspec
def register_sources(register: Register) -> None:
    """Contribute source types: call ``register("rss", RssSource)`` once per type.

    :param register: takes the type name used in ``hub.toml`` (``type = "rss"``) and a subclass
        of :class:`hub.contracts.Source`. Its ``Options`` model validates the ``[[sources]]`` table.
    """


@hookspec
def register_filters(register: Register) -> None:
    """Contribute filter types: call ``register("dedup", DedupFilter)`` once per type.

    :param register: takes the type name and a subclass of :class:`hub.contracts.Filter`.
    """


@hookspec
def register_sinks(register: Register) -> None:
    """Contribute sink types: call ``register("console", ConsoleSink)`` once per type.

    :param register: takes the type name and a subclass of :class:`hub.contracts.Sink`.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``hub`` CLI, e.g. ``cli.add_command(my_command)``.

    Fires once, when the CLI is built, after the built-in commands are in place.
    """


@hookspec
def startup(config: Any, store: Any) -> None:
    """Fires once a command has loaded a valid config and opened the store.

    :param config: the validated :class:`hub.config.HubConfig`.
    :param store: the open :class:`hub.storage.store.Store`.
    """


@hookspec
def on_delivery_status(delivery: Any, status: str) -> None:
    """Fires after a delivery's state changed and was committed (``sent``, ``read``, ``failed``…).

    :param delivery: the :class:`hub.storage.tables.Delivery` row, detached from its session.
    :param status: the new state.
    """


@hookspec
def on_subscriber_change(subscriber: Any, change: str) -> None:
    """Fires after a subscriber joined, left, or changed topics, once committed.

    :param subscriber: the :class:`hub.storage.tables.Subscriber` row, detached from its session.
    :param change: ``subscribed``, ``unsubscribed``, ``topics`` or ``forgotten``.
    """
