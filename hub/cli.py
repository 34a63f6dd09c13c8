"""The ``hub`` command line: thin commands over the modules that do the work.

Nothing heavy is imported here: each command imports what it uses when it runs, and the
command modules of ``hub/commands`` are imported only when their command is used
(:mod:`hub.commands.lazy`), so ``hub --version`` and ``hub --help`` answer at once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from hub import __version__
from hub.cli_help import SectionedGroup
from hub.commands.lazy import LazyCommand
from hub.errors import HubError

if TYPE_CHECKING:
    from hub.app import App

_F = TypeVar("_F", bound=Callable[..., Any])

# name → where the command lives and the line `hub --help` shows (its docstring's first line).
COMMANDS = {
    "db": LazyCommand("hub.commands.db:db",
                      "The database schema: which revision it is at, and upgrading it."),
    "invite": LazyCommand("hub.commands.invite:invite",
                          "Print the link that opens a chat with ALTA typed, and write its QR code "
                          "(PNG and SVG)."),
    "items": LazyCommand("hub.commands.items:items",
                         "Stored items: what was held, dropped or sent, and why."),
    "preview": LazyCommand("hub.commands.routines:preview",
                           "Show what the next run of ROUTINE (default: the next one due) would "
                           "send; writes nothing."),
    "routines": LazyCommand("hub.commands.routines:routines",
                            "List the routines with their next and last run."),
    "run": LazyCommand("hub.commands.run:run",
                       "Run the hub as a service until SIGTERM/SIGINT (a second one exits at once)."),
    "sandbox": LazyCommand("hub.commands.sandbox:sandbox",
                           "Run a Cloud API simulator: point [sinks.whatsapp] base_url at it."),
    "serve": LazyCommand("hub.commands.serve:serve",
                         "Run the webhook that receives statuses and what people write (Ctrl-C "
                         "stops it)."),
    "sources": LazyCommand("hub.commands.sources:sources",
                           "Show how every source is doing (same as `hub sources list`)."),
    "stats": LazyCommand("hub.commands.stats:stats",
                         "Sent, delivered, read, failed and skipped; unsubscribes after each run; "
                         "best hours; growth."),
    "status": LazyCommand("hub.commands.status:status",
                          "Show whether the hub can send, open alerts, and what holds each waiting "
                          "delivery."),
    "subscribers": LazyCommand("hub.commands.subscribers:subscribers",
                               "The people who receive the news, their consent, and their data."),
    "templates": LazyCommand("hub.commands.templates:templates",
                             "List the WhatsApp Business Account's templates: status, category, "
                             "quality, parameters."),
}


def _add_plugin_commands(group: click.Group) -> None:
    """The ``register_commands`` hook: loads the plugins, so only when a command needs it."""
    from hub.plugins import make_manager

    try:
        make_manager().hook.register_commands(cli=group)
    except HubError as exc:
        click.echo(f"warning: plugin commands not loaded: {exc}", err=True)


@click.group(cls=SectionedGroup, lazy=COMMANDS, plugin_commands=_add_plugin_commands)
@click.version_option(__version__, prog_name="hub")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              envvar="HUB_CONFIG", default=None, show_envvar=True,
              help="Path to hub.toml (default: ./hub.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens, one line per event.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """WhatsApp News Hub: your news, one-to-one over WhatsApp, to people who asked for it."""
    import logging

    from hub.app import App
    from hub.config import default_config_path
    from hub.logs import configure as configure_logging

    configure_logging(logging.INFO if verbose else logging.WARNING)
    if ctx.obj is None:
        ctx.obj = App(config_path or default_config_path())
    elif config_path is not None:
        ctx.obj.config_path = config_path


def pass_app(f: _F) -> _F:
    """Pass the command the :class:`hub.app.App` the group made (``ctx.obj``)."""
    return cast(_F, click.pass_obj(f))


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.pass_obj
def init(app: App, path: Path | None) -> None:
    """Write a commented starter hub.toml (never overwrites one)."""
    target = path or app.config_path
    if target.exists():
        raise click.ClickException(f"{target} already exists; not overwriting it "
                                   "(move it away or pass another path)")
    starter = resources.files("hub").joinpath("starter.toml").read_text(encoding="utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(starter, encoding="utf-8")
    sample = target.parent / "sample-feed.xml"
    if not sample.exists():
        sample.write_bytes(resources.files("hub").joinpath("samples/feed.xml").read_bytes())
    click.echo(f"Wrote {target} (and {sample.name}). Next: hub check, then hub poll.")


@cli.command()
@click.option("--online", is_flag=True,
              help="Also read the account's templates and check the ones hub.toml uses.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts and cron.")
@pass_app
def check(app: App, online: bool, as_json: bool) -> None:
    """Validate hub.toml and every enabled plugin's options; show what is enabled."""
    if as_json:
        from hub.commands.check_report import check_report

        report = check_report(app, online)
        click.echo(json.dumps(report, ensure_ascii=False, indent=1, default=str))
        raise SystemExit(0 if report["ok"] else 1)
    from hub.storage.urls import safe_url

    config = app.config
    click.echo(f"{config.path}: OK")
    url, origin = config.database_url_origin
    click.echo(f"  store:    {safe_url(url)} ({origin}; timezone {config.hub.timezone})")
    for s in config.sources:
        state = "" if s.options.enabled else " (disabled)"
        click.echo(f"  source:   {s.options.name} [{s.type}] every {s.options.every}{state}")
    for f in config.filters:
        click.echo(f"  filter:   {f.type}{'' if f.options.enabled else ' (disabled)'}")
    delivering = config.delivering_sink()
    for name, s in config.sinks.items():
        mark = " ← delivers" if delivering is s else ""
        click.echo(f"  sink:     {name} [{s.type}]{mark}")
    from hub.delivery.caps import Caps

    loosened = config.caps.loosened()
    origin = (f"changed in [caps]: {', '.join(loosened)}" if loosened
              else "from [caps]" if config.caps.model_fields_set else "the defaults; hub.toml has no [caps]")
    click.echo(f"  caps:     {Caps.from_config(config).describe()} ({origin})")
    sink = app.reaching_sink()
    problem = sink.reach_problem(None, datetime.now(UTC)) if sink is not None else None
    if problem:
        click.echo(f"  CANNOT REACH: news cannot reach people: {problem}")
    for r in config.routines:
        click.echo(f"  routine:  {r.name}: every {r.every}" + (f" at {r.at}" if r.at else "")
                   + f", {r.mode}, up to {r.max_items} items")
    click.echo(f"  pricing:  {config.rate_card().describe()}"
               + (f"; budget {config.monthly_budget} a month" if config.monthly_budget else ""))
    if online:
        from hub.commands.templates import check_online

        problems = check_online(app)
        for line in problems:
            click.echo(f"error: {line}", err=True)
        if problems:
            raise SystemExit(1)
        click.echo("  templates: the account has every template hub.toml uses, approved, with "
                   "those parameters")


@cli.command()
@pass_app
def plugins(app: App) -> None:
    """List installed plugins, where each came from, and the types it provides."""
    app.registry.load_all()
    for info in app.registry.plugins.values():
        version = f" {info.version}" if info.version else ""
        click.echo(f"{info.name}{version}  ({info.origin})")
        for t in info.types:
            click.echo(f"    {t.kind[:-1]:<7} {t.name}")


@cli.command()
@click.option("--once", is_flag=True, hidden=True,
              help="Accepted for older scripts: hub poll always polls once.")
@click.option("--force", is_flag=True, help="Poll every source now, ignoring its interval.")
@pass_app
def poll(app: App, once: bool, force: bool) -> None:
    """Fetch the due sources once, run the filters, store the new items (hub run keeps polling)."""
    import asyncio

    from hub.intake.pipeline import poll_once

    report = asyncio.run(poll_once(app.config, app.store, app.registry, force=force))
    failed = False
    for s in report.sources:
        if s.skipped:
            click.echo(f"{s.name}: not due yet (use --force to poll now)")
        elif s.error:
            failed = True
            click.echo(f"{s.name}: FAILED: {s.error}", err=True)
        elif s.not_modified:
            click.echo(f"{s.name}: not modified")
        else:
            click.echo(f"{s.name}: {s.fetched} fetched, {s.stored} new, {s.dropped} dropped, "
                       f"{s.repeated} already stored"
                       + (f", {s.seen} seen (first poll: recorded, not sent)" if s.seen else ""))
        for warning in s.warnings:
            click.echo(f"{s.name}: warning: {warning}", err=True)
    click.echo(f"{report.stored} new item(s) stored")
    if failed:
        sys.exit(1)


@cli.command()
@click.option("--sink", "sink_name", default=None, help="Deliver through this sink instead.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and claim nothing.")
@click.option("--show", default=20, show_default=True, help="With --dry-run: how many to show.")
@pass_app
def send(app: App, sink_name: str | None, dry_run: bool, show: int) -> None:
    """Send every planned delivery that is due now (with a progress bar)."""
    from hub.commands import send as sending
    from hub.delivery.caps import Caps

    sink, caps = app.sink(sink_name), Caps.from_config(app.config)
    if dry_run:
        sending.dry_run(app.store, sink, show, caps, app.config.tz, app.clock)
        return
    from hub.delivery.paid_gate import paid_gate_for
    from hub.timekeeping.clock import SystemClock

    with app.store.read() as session:
        gate = paid_gate_for(app.config, session)
    clock = None if isinstance(app.clock, SystemClock) else app.clock  # a test's: no real waits
    report = sending.send(app.store, sink, caps=caps, paid_gate=gate, clock=clock)
    click.echo(sending.summary(report))
    sending.explain(app.store, sink, caps, app.config.tz, app.clock.now())
    if report.blocked:
        raise click.ClickException(report.blocked)


@cli.command()
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo's files in this folder instead of a temporary one.")
def demo(keep: Path | None) -> None:
    """See the whole hub work with no account: people join, news goes out, statuses come back."""
    from hub.demo import run_demo

    run_demo(keep)


def main() -> None:
    """Entry point of the ``hub`` console script."""
    cli(prog_name="hub")
