"""``hub stats``: the figures that say whether the channel helps or annoys, as tables or JSON."""

from __future__ import annotations

import json
from datetime import datetime

import click

from hub.app import App
from hub.pricing.spent import spent
from hub.stats import build_report
from hub.stats_tables import render_tables
from hub.timekeeping.clock import SystemClock

pass_app = click.make_pass_decorator(App)


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    from hub.timekeeping.durations import parse_interval

    try:
        return SystemClock().now() - parse_interval(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter('expected a date (2026-11-01) or a span ("7 days")') from None
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("stats")
@click.option("--since", default=None, help='Only deliveries planned since a date or a span ("7 days").')
@click.option("--routine", default=None, help="Only this routine's deliveries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@pass_app
def stats(app: App, since: str | None, routine: str | None, as_json: bool) -> None:
    """Sent, delivered, read, failed and skipped; unsubscribes after each run; best hours; growth."""
    moment = _parse_since(since)
    with app.store.read() as session:
        report = build_report(session, app.config.tz, since=moment, routine=routine)
        cost = spent(session, app.config.rate_card(), app.config.tz, since=moment)
    if as_json:
        click.echo(json.dumps({**report.as_dict(), "cost": cost.as_dict()}, indent=2, ensure_ascii=False))
        return
    click.echo(render_tables(report, app.config.hub.language))
    click.echo("\n" + cost.render())
