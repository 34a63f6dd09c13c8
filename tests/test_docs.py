"""Every hook is documented for plugin authors with its exact signature, and has a test (as
datasette's tests/test_docs.py and test_plugins.py check theirs)."""

from __future__ import annotations

import inspect
import re

from hub import hookspecs
from tests.conftest import REPO


def _hooks() -> dict[str, object]:
    return {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, "hub_spec")}


def _real_signature(name: str, fn: object) -> str:
    """``name(arg: Type, …) -> Return`` as written in hub/hookspecs.py."""
    signature = inspect.signature(fn)  # type: ignore[arg-type]
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"{name}({params}) -> {signature.return_annotation}"


def _documented_signature(page: str, name: str) -> str | None:
    """The backticked signature that opens the hook's section in docs/plugins.md."""
    section = page.split(f"\n## {name}\n", 1)[1] if f"\n## {name}\n" in page else ""
    found = re.search(rf"`({re.escape(name)}\(.*?\)(?: -> [^`]+)?)`", section.split("\n## ", 1)[0])
    return found.group(1) if found else None


def test_every_hook_has_a_docstring_and_a_section() -> None:
    page = (REPO / "docs" / "plugins.md").read_text()
    names = list(_hooks())
    assert len(names) >= 7
    for name in names:
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"
        assert f"\n## {name}\n" in page, f"docs/plugins.md has no section for {name}"


def test_each_documented_signature_is_the_real_one() -> None:
    page = (REPO / "docs" / "plugins.md").read_text()
    for name, fn in _hooks().items():
        assert _documented_signature(page, name) == _real_signature(name, fn), (
            f"docs/plugins.md documents {name} unlike hub/hookspecs.py")


def test_every_hook_is_implemented_by_a_test_plugin() -> None:
    """A hook no test implements is a hook whose firing nothing checks."""
    sources = {path.name: path.read_text() for path in (REPO / "tests").glob("*.py")
               if path.name != "test_docs.py"}
    for name in _hooks():
        implemented = re.compile(rf"@hub\.hookimpl\s+def {name}\(|@hookimpl\s+def {name}\(")
        assert any(implemented.search(text) for text in sources.values()), (
            f"no test plugin implements {name}")


def test_the_sink_actions_are_documented() -> None:
    from hub.contracts import Action

    page = (REPO / "docs" / "plugins.md").read_text()
    register_sinks = page.split("\n## register_sinks\n", 1)[1].split("\n## ", 1)[0]
    for action in Action:
        assert f"| `{action.name}` |" in register_sinks, f"docs/plugins.md: {action.name} undocumented"
