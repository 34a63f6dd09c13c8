"""``hub stats``: the figures that say whether the channel helps or annoys, as tables or JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import click

from hub.app import App
from hub.clock import SystemClock
from hub.stats import Counts, Report, build_report

pass_app = click.make_pass_decorator(App)


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    from hub.durations import parse_interval

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
    with app.store.read() as session:
        report = build_report(session, app.config.tz, since=_parse_since(since), routine=routine)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(render_tables(report))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else str(timedelta(seconds=round(seconds)))


def _counts_table(title: str, rows: dict[str, Counts]) -> list[str]:
    lines = [title, f"  {'':<22} {'planned':>7} {'sent':>6} {'deliv':>6} {'read':>6} {'failed':>6} "
                    f"{'skipped':>7} {'deliv%':>6} {'read%':>6} {'to read':>9}"]
    for key, c in rows.items():
        lines.append(f"  {key[:22]:<22} {c.planned:>7} {c.sent:>6} {c.delivered:>6} {c.read:>6} "
                     f"{c.failed:>6} {c.skipped:>7} {_pct(c.delivery_rate):>6} {_pct(c.read_rate):>6} "
                     f"{_minutes(c.median_time_to_read):>9}")
        if c.failed_by_code:
            codes = ", ".join(f"{k}: {v}" for k, v in c.failed_by_code.items())
            lines.append(f"      failed by code: {codes}")
        if c.skipped_by_reason:
            lines.append("      skipped: " + ", ".join(f"{k}: {v}" for k, v in c.skipped_by_reason.items()))
    if not rows:
        lines.append("  (nothing yet)")
    return lines


def render_tables(report: Report) -> str:
    """The terminal view of a report."""
    lines = _counts_table("Per routine run", report.by_run) + [""]
    lines += _counts_table("Per day", report.by_day) + [""]
    lines += _counts_table("Per item", report.by_item) + [""]
    lines.append("Unsubscribes within 24 h after each run")
    for a in report.annoyance:
        lines.append(f"  {a.run[:22]:<22} reached {a.reached:>6}  left {a.unsubscribed:>4}  ({_pct(a.rate)})")
    if not report.annoyance:
        lines.append("  (nothing yet)")
    lines += ["", "Read rate by hour sent"]
    for hour, c in report.by_hour.items():
        lines.append(f"  {hour:02d}:00  sent {c.sent:>6}  read {_pct(c.read_rate):>5}  "
                     f"median to read {_minutes(c.median_time_to_read)}")
    lines += ["", "Subscriber growth per day"]
    for day, g in report.growth_by_day.items():
        lines.append(f"  {day}  new {g['new']:>5}  left {g['left']:>5}  net {g['net']:>+6}")
    lines += ["", "Subscriber growth per topic"]
    for topic, g in report.growth_by_topic.items():
        lines.append(f"  {topic[:20]:<20}  new {g['new']:>5}  left {g['left']:>5}  net {g['net']:>+6}")
    if report.suggestion:
        lines += ["", "Suggestion: " + report.suggestion]
    return "\n".join(lines)
