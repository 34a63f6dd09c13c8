"""``hub status``: can the hub send, what must an admin act on, and where the deliveries stand."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func
from sqlmodel import col, select

from hub.app import App
from hub.delivery import account, brake
from hub.delivery.caps import Caps
from hub.delivery.failure_names import failures_by_name
from hub.delivery.waiting import lines, why_waiting
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow
from hub.timekeeping.clock import Clock, SystemClock
from hub.timekeeping.shown import shown, stamp

UTC_ZONE = ZoneInfo("UTC")

ORDER = ("planned", "sending", "sent", "delivered", "read", "failed", "skipped")


def show(store: Store, resume: bool, *, caps: Caps | None = None, tz: ZoneInfo = UTC_ZONE,
         recipient_gap: timedelta = timedelta(0), clock: Clock | None = None,
         as_json: bool = False) -> None:
    now = (clock or SystemClock()).now()
    if resume:
        with store.write() as session:
            changed = account.resume(session, now)
        click.echo("Sending resumed; open alerts cleared." if changed
                   else "Sending was not paused or stopped.")
    with store.read() as session:
        held = brake.paused(session)
        state = account.current(session)
        alerts = account.open_alerts(session)
        counts = dict(session.exec(select(DeliveryRow.status, func.count())
                                   .group_by(DeliveryRow.status)).all())
        errors = failures_by_name(session)
        waiting = why_waiting(session, now, caps, recipient_gap)
    if as_json:
        click.echo(json.dumps({
            "sending": {"state": state.state, "since": state.since.isoformat() if state.since else None,
                        "reason": state.reason},
            "alerts": [{"level": a.level, "at": a.at.isoformat() if a.at else None, "code": a.code,
                        "message": a.message} for a in alerts],
            "paused_routines": [r.name for r in held],
            "deliveries": {name: counts.get(name, 0) for name in ORDER},
            "waiting": [w.as_dict(tz, now) for w in waiting],
            "failures": errors, "timezone": tz.key}, ensure_ascii=False, indent=1))
        return
    line = f"Sending: {state.state}"
    if state.state != "running":
        line += f" since {stamp(state.since, tz) if state.since else '?'}: {state.reason}"
        if state.state == "paused" and state.next_probe_at:
            line += f" (next try {shown(state.next_probe_at, tz, now)})"
    click.echo(line)
    if alerts:
        click.echo(f"Alerts ({len(alerts)}):")
        for alert in alerts:
            at = stamp(alert.at, tz) if alert.at else "?"
            click.echo(f"  [{alert.level.upper()}] {at} code {alert.code}: {alert.message}")
    else:
        click.echo("Alerts: none")
    for routine in held:
        items = _run_items(store, routine.paused_run_id)
        since = stamp(routine.paused_at, tz) if routine.paused_at else "?"
        click.echo(f"Routine {routine.name}: PAUSED by the brake since {since}: "
                   f"{routine.paused_reason}" + (f"; items: {items}" if items else ""))
        click.echo(f"  `hub routines resume {routine.name}` restarts it")
    click.echo("Deliveries: " + ", ".join(f"{name} {counts.get(name, 0)}" for name in ORDER))
    for text in lines(waiting, tz, now):
        click.echo(f"  {text}")
    if errors:
        click.echo("Failures: " + ", ".join(f"{name}: {n}" for name, n in errors.items()))


def _run_items(store: Store, run_id: int | None) -> str:
    """The titles a paused run sent, so the admin sees what drove people away."""
    if run_id is None:
        return ""
    from hub.storage.tables import ItemRow, RoutineRunRow

    with store.read() as session:
        run = session.get(RoutineRunRow, run_id)
        if run is None or not run.item_ids:
            return ""
        titles = session.exec(select(ItemRow.title).where(col(ItemRow.id).in_(run.item_ids))).all()
    return "; ".join(f"“{t[:60]}”" for t in titles)


@click.command()
@click.option("--resume", is_flag=True, help="Resume sending after fixing what paused or stopped it.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts and cron.")
@click.pass_obj
def status(app: App, resume: bool, as_json: bool) -> None:
    """Show whether the hub can send, open alerts, and what holds each waiting delivery."""
    sink = app.reaching_sink()
    gap = sink.pacing().recipient_gap if sink is not None else timedelta(0)
    show(app.store, resume, caps=Caps.from_config(app.config), tz=app.config.tz, recipient_gap=gap,
         clock=app.clock, as_json=as_json)
