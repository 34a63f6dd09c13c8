"""``hub routines`` (list, ``run NAME``) and ``hub preview [ROUTINE]``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from hub.app import App
from hub.delivery.caps import Caps
from hub.pricing.money import show
from hub.routines import Preview, Routines, RunReport
from hub.timekeeping.shown import shown
from hub.timekeeping.when import day_bounds

pass_app = click.make_pass_decorator(App)


def _local(app: App, moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(app.config.tz).strftime("%a %Y-%m-%d %H:%M %Z")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts and cron.")
@click.pass_context
def routines(ctx: click.Context, as_json: bool) -> None:
    """List the routines with their next and last run."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    runner = Routines(app.config, app.store, clock=app.clock)
    statuses = runner.status()
    for s in statuses:
        s.monthly = runner.monthly_cost(s.config) if s.config.enabled else None
    if as_json:
        click.echo(json.dumps([{
            "name": s.config.name, "enabled": s.config.enabled, "every": s.config.every,
            "at": s.config.at, "weekdays": s.config.weekdays, "mode": s.config.mode,
            "max_items": s.config.max_items, "tags": s.config.tags,
            "priority_only": s.config.priority_only, "next_run_at": _iso(s.next_run_at),
            "last_run_at": _iso(s.last_run_at), "runs": s.runs, "paused_reason": s.paused_reason,
            "monthly": str(s.monthly) if s.monthly is not None else None} for s in statuses],
            ensure_ascii=False, indent=1, default=str))
        return
    if not statuses:
        click.echo("No routines configured (add a [[routines]] table to hub.toml).")
        return
    for s in statuses:
        r = s.config
        when = f"every {r.every}" + (f" at {r.at}" if r.at else "")
        if r.weekdays:
            when += f" on {', '.join(r.weekdays)}"
        state = "" if r.enabled else " (disabled)"
        click.echo(f"{r.name}{state}: {when}, {r.mode}, up to {r.max_items} item(s)"
                   + (f", tags {', '.join(r.tags)}" if r.tags else "")
                   + (", priority only" if r.priority_only else ""))
        click.echo(f"    next: {_local(app, s.next_run_at)}    last: {_local(app, s.last_run_at)}"
                   f"    runs: {s.runs}")
        if r.enabled and s.monthly is not None:
            click.echo(f"    expected per month at today's audience: {s.monthly}")
        if s.paused_reason:
            click.echo(f"    PAUSED by the brake: {s.paused_reason} (hub routines resume {r.name})")


@routines.command("run")
@click.argument("name")
@pass_app
def run(app: App, name: str) -> None:
    """Run routine NAME now, as if its time had come (caps and quiet hours still apply)."""
    report = Routines(app.config, app.store, sink=app.reaching_sink()).run_now(name)
    _print_run(app, report)


@routines.command("resume")
@click.argument("name")
@pass_app
def resume(app: App, name: str) -> None:
    """Restart routine NAME after the brake paused it (see `hub status` for why)."""
    from hub.delivery import brake

    if name not in {r.name for r in app.config.routines}:
        raise click.ClickException(f"no routine named {name!r} in {app.config.path}")
    with app.store.write() as session:
        lifted = brake.resume(session, name)
    click.echo(f"{name}: resumed; its next slot runs as usual." if lifted else f"{name} was not paused.")


@routines.command("tick")
@pass_app
def tick(app: App) -> None:
    """Run every routine whose time has come, once (for cron; the daemon ticks by itself)."""
    reports = Routines(app.config, app.store, sink=app.reaching_sink()).tick()
    if not reports:
        click.echo("No routine is due.")
    for report in reports:
        if report.status == "missed":
            click.echo(f"{report.routine}: run of {_local(app, report.scheduled_for)} {report.note}")
        else:
            _print_run(app, report)


def _print_run(app: App, report: RunReport) -> None:
    if report.status == "missed":
        click.echo(f"{report.routine}: not run: {report.note}")
        return
    stats = report.stats
    if report.status == "unreachable":
        click.echo(f"{report.routine}: run #{report.run_id} {report.note}; nothing planned, "
                   f"its {report.candidates} item(s) wait for the next run")
        return
    if stats is None or not (report.candidates or stats.rows):
        click.echo(f"{report.routine}: run #{report.run_id}: no new items since the last run; "
                   "nothing planned")
        return
    if not stats.recipients:
        click.echo(f"{report.routine}: run #{report.run_id}: {report.candidates} item(s), but no "
                   "active, opted-in subscriber's topics match; nothing planned")
        return
    click.echo(f"{report.routine}: run #{report.run_id}: {len(report.item_ids)} item(s), "
               f"{stats.planned} message(s) planned for {stats.recipients} subscriber(s), "
               f"{stats.skipped} held back by the caps")
    if stats.waiting_quiet:
        click.echo(f"    {stats.waiting_quiet} wait for the end of quiet hours")
    click.echo("Send them with: hub send")


@click.command()
@click.argument("routine", required=False)
@click.option("--subscriber", "person", default=None, metavar="NUMBER",
              help="What this person (a number or a BSUID) will receive in the next runs, and why not.")
@click.option("--region", default=None, metavar="CC", help="Country for a number written without +code.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts and cron.")
@pass_app
def preview(app: App, routine: str | None, person: str | None, region: str | None, as_json: bool) -> None:
    """Show what the next run of ROUTINE (default: the next one due) would send; writes nothing."""
    if person is not None:
        from hub.commands.forecast import show_forecast

        show_forecast(app, person, region)
        return
    shown_run = Routines(app.config, app.store, clock=app.clock).preview(routine)
    if as_json:
        click.echo(json.dumps(_preview_dict(app, shown_run), ensure_ascii=False, indent=1, default=str))
        return
    _print_preview(app, shown_run)
    _print_reach(app)
    _print_outbox(app)


def _preview_dict(app: App, p: Preview) -> dict[str, Any]:
    from hub.delivery.caps import Caps

    s, caps = p.stats, Caps.from_config(app.config)
    return {
        "routine": p.routine.name, "at": _iso(p.at), "timezone": app.config.tz.key,
        "items": [{"id": i.id, "title": i.title, "source": i.source, "tags": i.tags,
                   "priority": i.priority} for i in p.items],
        "passed_over": [i.id for i in p.passed_over], "recipients": s.recipients,
        "by_topic": dict(s.by_topic),
        "messages": {"to_send": s.planned, "held_by_daily_cap": s.skipped,
                     "waiting_quiet_hours": s.waiting_quiet,
                     "quiet_hours_end": _iso(caps.out_of_quiet(p.at)) if s.waiting_quiet else None,
                     "waiting_min_gap": s.waiting_gap},
        "cost": p.cost.summary() if p.cost is not None else None,
        "budget_left": str(p.budget_left) if p.budget_left is not None else None,
        "samples": list(s.samples.values())[:3],
    }


def _print_outbox(app: App) -> None:
    """What already waits in the outbox, and why: a preview is often asked "why not yet?"."""
    from hub.delivery.caps import Caps
    from hub.delivery.waiting import lines, why_waiting

    sink = app.reaching_sink()
    now = app.clock.now()
    with app.store.read() as session:
        groups = why_waiting(session, now, Caps.from_config(app.config),
                             sink.pacing().recipient_gap if sink is not None else timedelta(0))
    if groups:
        click.echo("Already in the outbox:")
        for line in lines(groups, app.config.tz, now):
            click.echo(f"  {line}")


def _print_reach(app: App) -> None:
    """Who news cannot reach through the sink, and why (no template, a secret's variable unset)."""
    from hub.delivery.reach import people_unreachable

    sink = app.reaching_sink()
    if sink is None:
        return
    with app.store.read() as session:
        found = people_unreachable(session, sink, datetime.now(UTC))
    if found.count:
        click.echo(f"CANNOT REACH {found.describe()}")


def _print_preview(app: App, p: Preview) -> None:
    r = p.routine
    click.echo(f"{r.name}: next run {_local(app, p.at)} ({r.mode}, up to {r.max_items} item(s))")
    if not p.items and not p.passed_over and not p.stats.again:
        click.echo("No items would be sent: nothing new matches since the last run.")
        return
    if not p.stats.recipients:
        click.echo(f"{len(p.passed_over)} item(s) match, but no active, opted-in subscriber's topics "
                   "match them (has anyone opted in yet?).")
        return
    click.echo(f"Items ({len(p.items)}):")
    for item in p.items:
        mark = " [priority]" if item.priority else ""
        click.echo(f"  #{item.id} {item.title}{mark}  ({item.source}; {', '.join(item.tags or [])})")
    if p.passed_over:
        click.echo(f"Passed over (beyond max_items = {r.max_items}): "
                   + ", ".join(f"#{i.id}" for i in p.passed_over))
    s = p.stats
    click.echo(f"Recipients: {s.recipients}")
    for topic, count in sorted(s.by_topic.items()):
        click.echo(f"  {topic}: {count}")
    caps, tz, now = Caps.from_config(app.config), app.config.tz, app.clock.now()
    click.echo(f"Messages: {s.planned} to send, {s.skipped} held back by the daily cap"
               + (f" ({caps.per_day} a day per person; not sent, the count starts again "
                  f"{shown(day_bounds(p.at, tz)[1], tz, now)})" if s.skipped and caps.per_day else ""))
    if s.again:
        click.echo(f"  {s.again} story(ies) held back by the cap before, offered again")
    if s.waiting_quiet:
        click.echo(f"  {s.waiting_quiet} would wait for the end of quiet hours, until "
                   f"{shown(caps.out_of_quiet(p.at), tz, now)}")
    if s.waiting_gap:
        click.echo(f"  {s.waiting_gap} would wait for the minimum gap since each person's last message")
    if p.ceiling_used is not None:
        click.echo(f"  messaging limit: {p.ceiling_used} recipient(s) in the last 24 h; "
                   f"{p.ceiling_wait} new recipient(s) would wait for the next window")
    if p.cost is not None:
        click.echo(f"Cost: {p.cost.summary()} ({app.config.rate_card().describe().split(' (')[0]})")
        for line in p.cost.lines():
            click.echo(line)
    if p.budget_left is not None and p.cost is not None:
        verdict = ("within" if p.cost.charge <= p.budget_left
                   else "OVER: the run would not start")
        click.echo(f"Budget: {show(p.budget_left, p.cost.currency)} left of "
                   f"{app.config.monthly_budget} this month; {verdict}")
    for number, text in enumerate(s.samples.values(), start=1):
        if number > 3:
            click.echo(f"(… {len(s.samples) - 3} more distinct message text(s))")
            break
        click.echo(f"--- message text {number} ---\n{text}")
