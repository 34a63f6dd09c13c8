"""Where plugins are found: the ``hub`` entry point group, read as metadata only (no imports)."""

from __future__ import annotations

import importlib.metadata
import os

ENTRY_POINT_GROUP = "hub"
DISTRIBUTION = "whatsapp-news-hub"  # whose entry points are the built-ins: always loaded


def normalise(name: str) -> str:
    """A distribution's name as packaging compares it."""
    return name.lower().replace("_", "-").replace(".", "-")


def is_builtin(ep: importlib.metadata.EntryPoint) -> bool:
    dist = getattr(ep, "dist", None)
    return dist is not None and normalise(dist.name) == DISTRIBUTION


def allowed_names() -> set[str] | None:
    """``HUB_LOAD_PLUGINS``: the third-party entry points allowed to load (None: all of them)."""
    raw = os.environ.get("HUB_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def third_party_plugins() -> bool:
    """Whether a distribution other than the hub itself declares an allowed ``hub`` entry point."""
    allowed = allowed_names()
    return any(not is_builtin(ep) and (allowed is None or ep.name in allowed)
               for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
