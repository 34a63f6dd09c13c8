"""Every hook is documented for plugin authors, with a section of its own."""

from __future__ import annotations

import inspect

from hub import hookspecs
from tests.conftest import REPO


def _hook_names() -> list[str]:
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, "hub_spec")]


def test_every_hook_has_a_docstring_and_a_section() -> None:
    page = (REPO / "docs" / "plugins.md").read_text()
    names = _hook_names()
    assert len(names) >= 7
    for name in names:
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"
        assert f"\n## {name}\n" in page, f"docs/plugins.md has no section for {name}"
