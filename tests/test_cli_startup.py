"""``hub --version`` and ``hub --help`` answer without loading the hub (issue 19).

They import neither the store, the web app nor any plugin; a command's module is imported when
it runs, and a third-party plugin's command is still found. How fast that is, is measured in
benchmarks/startup.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from hub.cli import COMMANDS, cli

HEAVY = ("sqlalchemy", "sqlmodel", "pydantic", "httpx", "hub.app", "hub.config", "hub.storage.store",
         "whatsapp_news_hub_plugins", "feedparser", "starlette")

# Runs the CLI as the console script does, then reports which heavy modules it had imported.
PROBE = """
import json, sys
from hub.cli import main
sys.argv = ["hub", *ARGS]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY or m in HEAVY)))
"""


def _imported(*args: str, site: Path | None = None) -> tuple[str, list[str]]:
    env = dict(os.environ)
    if site is not None:
        del env["HUB_LOAD_PLUGINS"]  # the conftest's "no third-party plugins": this one is wanted
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    code = f"ARGS = {list(args)!r}\nHEAVY = {HEAVY!r}\n{PROBE}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=env)
    assert done.returncode == 0, done.stderr
    output, _, last = done.stdout.rstrip("\n").rpartition("\n")
    return output, json.loads(last)


def test_version_and_help_load_nothing_heavy() -> None:
    version, loaded = _imported("--version")
    assert "hub, version" in version
    assert loaded == []
    listing, loaded = _imported("--help")
    assert loaded == []
    for name in ("poll", "subscribers", "run", "serve", "init"):
        assert f"  {name} " in listing


def test_a_command_loads_only_when_it_runs() -> None:
    _, loaded = _imported("db", "--help")
    assert "sqlalchemy" in loaded  # the db command's own module and what it needs
    assert "whatsapp_news_hub_plugins" not in loaded


def test_each_help_line_is_its_command_docstring() -> None:
    for name, lazy in COMMANDS.items():
        command = lazy.load()
        assert command.name == name or name == "preview", name
        assert isinstance(command, click.Command)
        assert (command.help or "").splitlines()[0] == lazy.help, name


def test_the_listing_matches_the_loaded_commands() -> None:
    lazy = CliRunner().invoke(cli, ["--help"]).output
    for name, entry in COMMANDS.items():  # loaded now: click's own listing
        cli.add_command(entry.load(), name)
    assert CliRunner().invoke(cli, ["--help"]).output == lazy


def test_a_third_party_command_is_found_and_listed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "hub_hello_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "hub_hello_plugin.py").write_text(
        "import click\nimport hub\n\n@hub.hookimpl\ndef register_commands(cli):\n"
        "    @cli.command()\n    def hello():\n        'Say hello.'\n        click.echo('hola')\n")
    (site / "hub_hello_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hub-hello-plugin\nVersion: 1.0\n")
    (site / "hub_hello_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[hub]\nhello = hub_hello_plugin\n")
    said, _ = _imported("hello", site=site)
    assert said == "hola"
    listing, _ = _imported("--help", site=site)
    assert "  hello " in listing and "Say hello." in listing


def test_a_command_imports_only_the_built_in_plugins_its_config_uses(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[hub]\ndatabase_url = "sqlite:///hub.db"\n\n[[sources]]\ntype = "rss"\n'
                      'name = "blog"\nurl = "https://blog.example.org/feed.xml"\n\n[sinks.console]\n')
    said, loaded = _imported("--config", str(config), "check")
    assert "source:   blog [rss]" in said
    plugins = {m.rpartition(".")[2] for m in loaded if m.startswith("whatsapp_news_hub_plugins.")}
    assert {"rss", "console"} <= plugins
    assert not plugins & {"wordpress", "gsheets", "webpage", "dedup", "relevance", "guard", "whatsapp"}


def test_each_built_in_provides_one_type_named_as_its_entry_point_and_no_other_hook() -> None:
    """What lets a built-in wait until its type is used (hub.plugins, ``defer_builtins``)."""
    import importlib.metadata

    from hub.entry_points import ENTRY_POINT_GROUP, is_builtin
    from hub.plugins import build_registry, make_manager

    pm = make_manager()
    registry = build_registry(pm)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if not is_builtin(ep):
            continue
        provided = registry.plugins[ep.value].types
        assert [t.name for t in provided] == [ep.name], ep
        hooks = {impl_hook.name for impl_hook in pm.get_hookcallers(pm.get_plugin(ep.value)) or []}
        assert hooks <= {"register_sources", "register_filters", "register_sinks"}, (ep, hooks)
