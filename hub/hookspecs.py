"""The hook specifications every hub plugin implements a subset of.

Contribution hooks take a callback (``register_sources(register)``); lifecycle hooks are named
as events (``startup``, ``on_delivery_status``). A built-in plugin uses exactly these hooks, so a
third-party plugin can do anything a built-in can.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from hub.config import HubConfig
    from hub.storage.store import Store
    from hub.storage.tables import DeliveryRow, SubscriberRow

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
def startup(config: HubConfig, store: Store) -> None:
    """Fires once a command has loaded a valid config and opened the store.

    :param config: the validated :class:`hub.config.HubConfig`.
    :param store: the open :class:`hub.storage.store.Store`.
    """


@hookspec
def on_delivery_status(delivery: DeliveryRow, status: str) -> None:
    """Fires for every outcome of a delivery, once committed: at send time and by status webhook.

    :param delivery: the :class:`hub.storage.tables.DeliveryRow`, read after the commit and
        detached from its session.
    :param status: ``sent``, ``delivered``, ``read``, ``failed``; ``retrying`` (it will be sent
        again: a back-off, a wait, the template instead); ``in_doubt`` (sent, the answer lost:
        its status webhook settles it); ``skipped`` (not sent: opted out, a cap, a hold).
    """


@hookspec
def on_subscriber_change(subscriber: SubscriberRow, change: str) -> None:
    """Fires after a person joined, left, changed topics or was forgotten, once committed —
    whether by message (the webhook), by an admin (``hub subscribers …``) or by an import.

    :param subscriber: the :class:`hub.storage.tables.SubscriberRow`, detached from its session.
    :param change: ``subscribed``, ``unsubscribed``, ``topics`` or ``forgotten``.
    """
