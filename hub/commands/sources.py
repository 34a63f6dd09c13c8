"""``hub sources``: every configured source with its state, last success, last error, items, next poll."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any

import click
from sqlmodel import select

from hub.app import App
from hub.storage.tables import SourceRow

pass_app = click.make_pass_decorator(App)


JSON_HELP = "One JSON array, for scripts and cron."


@click.group(name="sources", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def sources(ctx: click.Context, as_json: bool) -> None:
    """Show how every source is doing (same as `hub sources list`)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_sources, as_json=as_json)


def _state(enabled: bool, row: SourceRow | None) -> str:
    state = "disabled" if not enabled else (row.state if row else "new")
    if row and row.consecutive_failures and state not in ("failing", "disabled"):
        state = "retrying"  # failed lately, not (yet) failing
    return state


def _as_dicts(app: App, rows: dict[str, SourceRow]) -> list[dict[str, Any]]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    out = []
    for section in app.config.sources:
        opts, row = section.options, rows.get(section.options.name)
        out.append({
            "name": opts.name, "type": section.type, "state": _state(opts.enabled, row),
            "url": (row.url if row and row.url else None) or getattr(opts, "url", None)
            or getattr(opts, "sheet", None), "every": opts.every, "in_hub_toml": True,
            "last_success_at": iso(row.last_success_at) if row else None,
            "last_error": row.last_error if row else None,
            "consecutive_failures": row.consecutive_failures if row else 0,
            "items": row.item_count if row else 0,
            "next_poll_at": iso(row.next_poll_at) if row else None})
    for name in sorted(set(rows) - {s.options.name for s in app.config.sources}):
        out.append({"name": name, "type": rows[name].type, "state": "removed",
                    "in_hub_toml": False, "items": rows[name].item_count})
    return out


@sources.command(name="list")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@pass_app
def list_sources(app: App, as_json: bool = False) -> None:
    """Every source: state, last success, last error, stored items and next poll."""
    config = app.config
    with app.store.read() as session:
        rows = {r.name: r for r in session.exec(select(SourceRow)).all()}
    if as_json:
        click.echo(json.dumps(_as_dicts(app, rows), ensure_ascii=False, indent=1, default=str))
        return
    tz = config.tz
    if not config.sources:
        click.echo("No sources in hub.toml.")
        return
    for section in config.sources:
        opts = section.options
        row = rows.get(opts.name)
        state = _state(opts.enabled, row)
        click.echo(f"{opts.name} [{section.type}] {state.upper()}")
        url = (row.url if row and row.url else None) or getattr(opts, "url", None) \
            or getattr(opts, "sheet", "")
        click.echo(f"  url:          {url}")
        wait = (row.cursor or {}).get("hub:wait") if row else None
        if isinstance(wait, int | float):
            click.echo(f"  every:        {opts.every}, but polled every {_span(wait)} at most, "
                       "as the server asks (Cache-Control, Expires or <ttl>)")
        else:
            click.echo(f"  every:        {opts.every}")
        click.echo(f"  last success: {_when(row.last_success_at if row else None, tz)}"
                   + (f" (HTTP {row.last_status})" if row and row.last_status and not row.last_error else ""))
        if row and row.last_error:
            since = f", failing since {_when(row.failing_since, tz)}" if row.failing_since else ""
            click.echo(f"  last error:   {row.last_error} ({row.consecutive_failures} in a row{since})")
        else:
            click.echo("  last error:   none")
        for warning in ((row.cursor or {}).get("hub:warnings") or []) if row else []:
            click.echo(f"  warning:      {warning}")
        click.echo(f"  items:        {row.item_count if row else 0}")
        next_poll = "now" if not row or row.next_poll_at is None else _when(row.next_poll_at, tz)
        click.echo(f"  next poll:    {next_poll if opts.enabled else 'never (disabled)'}")
    for name in sorted(set(rows) - {s.options.name for s in config.sources}):
        click.echo(f"{name} [{rows[name].type}] not in hub.toml any more "
                   f"({rows[name].item_count} items kept)")


@sources.command(name="reset")
@click.argument("name")
@pass_app
def reset_source(app: App, name: str) -> None:
    """Forget a source's failures so the next `hub poll` tries it at once."""
    if name not in {s.options.name for s in app.config.sources}:
        raise click.ClickException(f"no source named {name!r} in {app.config.path}")
    with app.store.write() as session:
        row = session.get(SourceRow, name)
        if row is not None:
            row.state = "ok" if row.polls else "new"
            row.consecutive_failures = 0
            row.failing_since = None
            row.next_poll_at = None
    click.echo(f"{name}: failures forgotten; it will be polled on the next `hub poll`")


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{minutes / 60:g} hours"


def _when(moment: datetime | None, tz: tzinfo) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
