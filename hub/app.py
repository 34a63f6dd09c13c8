"""What a CLI command needs, loaded once and only when asked: plugins, config, store."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from hub.config import HubConfig, load_config
from hub.contracts import Sink
from hub.errors import ConfigError
from hub.plugins import HubPluginManager, RegisteredType, Registry, load
from hub.timekeeping.clock import Clock, SystemClock

if TYPE_CHECKING:
    from hub.storage.store import Store


@dataclass
class App:
    """The hub as one command sees it; ``extra_plugins`` lets tests register plugins, ``clock``
    lets them say what time it is for the commands that explain waits."""

    config_path: Path
    extra_plugins: list[object] = field(default_factory=list)
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def _loaded(self) -> tuple[HubPluginManager, Registry]:
        return load(self.extra_plugins, defer_builtins=True)  # a built-in is imported when used

    @property
    def pm(self) -> HubPluginManager:
        return self._loaded[0]

    @property
    def registry(self) -> Registry:
        return self._loaded[1]

    @cached_property
    def config(self) -> HubConfig:
        return load_config(self.config_path, self.registry)

    @cached_property
    def store(self) -> Store:
        # Imported here: commands that only read hub.toml (check, plugins) never load the store.
        from hub.events import Events
        from hub.storage.store import Store

        store = Store(self.config.database_url)
        store.events = Events(self.pm)  # plugins hear what is committed, whoever commits it
        self.pm.hook.startup(config=self.config, store=store)
        return store

    def reaching_sink(self) -> Sink | None:
        """The delivering sink, asked whether news can reach people; None when none is chosen."""
        try:
            return self.sink()
        except ConfigError:
            return None

    def sink(self, name: str | None = None) -> Sink:
        """The configured sink that delivers (``name`` overrides ``[hub] sink``)."""
        if name:
            section = self.config.sinks.get(name)
            if section is None and self.registry.get("sinks", name):
                registered = self.registry.get("sinks", name)
                assert registered is not None
                cls = _sink_class(registered)
                return cls(cls.Options())
        else:
            section = self.config.delivering_sink()
        if section is None:
            raise ConfigError(
                f"{self.config.path}: no sink chosen",
                hint="add a [sinks.console] or [sinks.whatsapp] table, or set [hub] sink",
            )
        registered = self.registry.get("sinks", section.type)
        assert registered is not None
        return _sink_class(registered)(section.options)


def _sink_class(registered: RegisteredType) -> type[Sink]:
    """The registry holds sinks under "sinks" only (checked at registration); this says so to mypy."""
    cls = registered.cls
    if not issubclass(cls, Sink):
        raise TypeError(f"{registered.name!r} is registered as a {registered.kind[:-1]}, not a sink")
    return cls
