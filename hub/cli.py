"""The ``hub`` command line: thin commands over the modules that do the work."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import click

from hub import __version__
from hub.app import App
from hub.cli_help import SectionedGroup
from hub.commands import items as items_commands
from hub.commands import routines as routines_commands
from hub.commands.db import db
from hub.commands.run import run as run_command
from hub.commands.sandbox import sandbox
from hub.commands.serve import serve as serve_command
from hub.commands.sources import sources as sources_command
from hub.commands.stats import stats
from hub.commands.status import status
from hub.commands.subscribers import subscribers as subscribers_group
from hub.commands.templates import templates as templates_command
from hub.config import default_config_path
from hub.errors import HubError
from hub.logs import configure as configure_logging
from hub.storage.store import safe_url
from hub.timekeeping.clock import SystemClock


class HubGroup(SectionedGroup):
    """Turns a ``HubError`` into one line on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HubError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=HubGroup)
@click.version_option(__version__, prog_name="hub")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              envvar="HUB_CONFIG", default=None, show_envvar=True,
              help="Path to hub.toml (default: ./hub.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens, one line per event.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """WhatsApp News Hub: your news, one-to-one over WhatsApp, to people who asked for it."""
    configure_logging(logging.INFO if verbose else logging.WARNING)
    if ctx.obj is None:
        ctx.obj = App(config_path or default_config_path())
    elif config_path is not None:
        ctx.obj.config_path = config_path


pass_app = click.make_pass_decorator(App)


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


cli.add_command(stats)
cli.add_command(serve_command)
cli.add_command(subscribers_group)
cli.add_command(sources_command)
cli.add_command(routines_commands.routines)
cli.add_command(routines_commands.preview)
cli.add_command(items_commands.items)
cli.add_command(status)
cli.add_command(run_command)
cli.add_command(sandbox)
cli.add_command(db)
cli.add_command(templates_command)


def _add_plugin_commands() -> None:
    from hub.plugins import make_manager

    try:
        make_manager().hook.register_commands(cli=cli)
    except HubError as exc:
        click.echo(f"warning: plugin commands not loaded: {exc}", err=True)


def main() -> None:
    """Entry point of the ``hub`` console script."""
    _add_plugin_commands()
    cli(prog_name="hub")
