"""The plugin manager: built-ins and third-party plugins, loaded the same way.

Third-party plugins are found through the ``hub`` entry point group. ``HUB_LOAD_PLUGINS``
(comma-separated entry point names) restricts which of them load; set it empty to load none.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field

import pluggy

from hub import hookspecs
from hub.contracts import Filter, Sink, Source
from hub.entry_points import DISTRIBUTION, ENTRY_POINT_GROUP, allowed_names, is_builtin
from hub.errors import PluginError

PluginClass = type[Source] | type[Filter] | type[Sink]
KINDS: dict[str, PluginClass] = {"sources": Source, "filters": Filter, "sinks": Sink}


@dataclass(frozen=True)
class RegisteredType:
    """One type a plugin provides: ``kind`` is sources, filters or sinks."""

    kind: str
    name: str
    cls: PluginClass  # a subclass of KINDS[kind]
    plugin: str


@dataclass
class PluginInfo:
    """What ``hub plugins`` shows for one loaded plugin."""

    name: str
    origin: str
    version: str | None
    types: list[RegisteredType] = field(default_factory=list)


@dataclass
class Registry:
    """Every type of source, filter and sink the loaded plugins provide, by kind and name."""

    types: dict[str, dict[str, RegisteredType]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    # Built-ins not imported yet, by entry point name (= the one type each provides): imported
    # when that type is asked for, or all of them when every name is wanted.
    pending: dict[str, Callable[[], None]] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> RegisteredType | None:
        if name not in self.types[kind] and name in self.pending:
            self.pending.pop(name)()
        return self.types[kind].get(name)

    def names(self, kind: str) -> list[str]:
        self.load_all()
        return sorted(self.types[kind])

    def load_all(self) -> None:
        """Import every built-in not imported yet (``hub plugins``, an unknown type's message)."""
        while self.pending:
            self.pending.pop(next(iter(self.pending)))()


class HubPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers where each third-party plugin came from."""

    def __init__(self) -> None:
        super().__init__("hub")
        self.origins: dict[str, tuple[str, str | None]] = {}
        self.builtins: set[str] = set()
        self.deferred: dict[str, importlib.metadata.EntryPoint] = {}  # built-ins not imported yet


def make_manager(extra: list[object] | None = None, *, defer_builtins: bool = False) -> HubPluginManager:
    """Build a manager with every plugin of the ``hub`` entry point group, and ``extra`` objects.

    The built-ins are entry points of this very distribution, found the way a third-party
    plugin is; they are always loaded (``HUB_LOAD_PLUGINS`` restricts the others only). With
    ``defer_builtins`` they are only listed (metadata, no import): each provides one type named
    as its entry point and implements no other hook, so :func:`build_registry` imports one when
    its type is first asked for. Third-party plugins are always imported: their hooks may fire.
    """
    pm = HubPluginManager()
    pm.add_hookspecs(hookspecs)
    allowed = allowed_names()
    builtins = 0
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        builtin = is_builtin(ep)
        if builtin:
            builtins += 1
        elif allowed is not None and ep.name not in allowed:
            continue
        name = ep.value if builtin else ep.name
        if pm.get_plugin(name) is not None or pm.has_plugin(name):
            continue
        if builtin and defer_builtins:
            pm.deferred[ep.name] = ep
            continue
        plugin = _load(ep, builtin)
        pm.register(plugin, name=name)
        if builtin:
            pm.builtins.add(name)
        else:
            pm.origins[name] = (
                f"entry point {ep.value}" + (f" from {dist.name}" if dist else ""),
                dist.version if dist else None,
            )
    if builtins == 0:
        raise PluginError(
            f"the hub's own plugins are not registered (no {ENTRY_POINT_GROUP!r} entry points of "
            f"{DISTRIBUTION})",
            hint="install the hub as a package: pip install -e . (make setup does it)",
        )
    for plugin in extra or []:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc), hint="a hookimpl name must match a spec in hub.hookspecs") from exc
    return pm


def _load(ep: importlib.metadata.EntryPoint, builtin: bool) -> object:
    try:
        return ep.load()
    except Exception as exc:  # a broken plugin must not hide the others' errors
        if builtin:
            raise PluginError(f"built-in plugin {ep.value} failed to import: {exc}") from exc
        raise PluginError(
            f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}",
            hint="fix or uninstall it, or leave it out with HUB_LOAD_PLUGINS",
        ) from exc


def build_registry(pm: HubPluginManager) -> Registry:
    """Call every ``register_*`` hook, remembering which plugin provided which type."""
    from hub import __version__

    registry = Registry()
    origins = pm.origins
    for plugin_name, plugin in pm.list_name_plugin():
        if plugin_name in origins:
            origin, version = origins[plugin_name]
        elif plugin_name in pm.builtins:
            origin, version = "built-in", __version__
        else:
            origin, version = f"registered at run time ({type(plugin).__name__})", None
        registry.plugins[plugin_name] = PluginInfo(plugin_name, origin, version)

    _register_types(pm, registry)
    for type_name, ep in list(pm.deferred.items()):
        registry.pending[type_name] = functools.partial(_load_deferred, pm, registry, ep)
        if any(type_name in registry.types[kind] for kind in KINDS):
            registry.pending.pop(type_name)()  # another plugin claims its name: refused now, as before
    return registry


def _register_types(pm: HubPluginManager, registry: Registry, only: str | None = None) -> None:
    """Call the ``register_*`` hooks (of plugin ``only``, or of all), noting who provided what."""
    for kind, base in KINDS.items():
        hook = getattr(pm.hook, f"register_{kind}")
        for impl in hook.get_hookimpls():
            plugin_name = impl.plugin_name
            if only is not None and plugin_name != only:
                continue

            def register(name: str, cls: type, *, _kind: str = kind, _base: PluginClass = base,
                         _plugin: str = plugin_name) -> None:
                _add(registry, _kind, _base, name, cls, _plugin)

            impl.function(register=register)


def _load_deferred(pm: HubPluginManager, registry: Registry, ep: importlib.metadata.EntryPoint) -> None:
    """Import one deferred built-in now and register its types."""
    from hub import __version__

    pm.deferred.pop(ep.name, None)
    pm.register(_load(ep, True), name=ep.value)
    pm.builtins.add(ep.value)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc), hint="a hookimpl name must match a spec in hub.hookspecs") from exc
    registry.plugins[ep.value] = PluginInfo(ep.value, "built-in", __version__)
    _register_types(pm, registry, only=ep.value)


def _add(registry: Registry, kind: str, base: PluginClass, name: str, cls: type, plugin: str) -> None:
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise PluginError(
            f"plugin {plugin!r} registered {kind[:-1]} type {name!r} as {cls!r}",
            hint=f"register a subclass of hub.contracts.{base.__name__}",
        )
    existing = registry.types[kind].get(name)
    if existing is not None and existing.cls is not cls:
        raise PluginError(
            f"{kind[:-1]} type {name!r} is provided by both {existing.plugin!r} and {plugin!r}",
            hint="uninstall one of them, or leave one out with HUB_LOAD_PLUGINS",
        )
    entry = RegisteredType(kind, name, cls, plugin)
    registry.types[kind][name] = entry
    registry.plugins[plugin].types.append(entry)


def load(extra: list[object] | None = None, *, defer_builtins: bool = False
         ) -> tuple[HubPluginManager, Registry]:
    """The manager and the registry of types, ready for the config to be validated against."""
    pm = make_manager(extra, defer_builtins=defer_builtins)
    return pm, build_registry(pm)
