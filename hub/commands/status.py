"""``hub status``: can the hub send, what must an admin act on, and where the deliveries stand."""

from __future__ import annotations

import click
from sqlalchemy import func
from sqlmodel import col, select

from hub.app import App
from hub.cloudapi.codes import label
from hub.delivery import account, brake
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow
from hub.timekeeping.clock import SystemClock

ORDER = ("planned", "sending", "sent", "delivered", "read", "failed", "skipped")


def show(store: Store, resume: bool) -> None:
    now = SystemClock().now()
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
        retrying = session.exec(select(func.count()).select_from(DeliveryRow).where(
            DeliveryRow.status == "planned", col(DeliveryRow.next_try_at).is_not(None),
            col(DeliveryRow.next_try_at) > now)).one()
        errors = session.exec(select(DeliveryRow.error_code, func.count())
                              .where(DeliveryRow.status == "failed")
                              .group_by(col(DeliveryRow.error_code))).all()
    line = f"Sending: {state.state}"
    if state.state != "running":
        line += f" since {state.since:%Y-%m-%d %H:%M} UTC: {state.reason}"
        if state.state == "paused" and state.next_probe_at:
            line += f" (next try {state.next_probe_at:%H:%M:%S} UTC)"
    click.echo(line)
    if alerts:
        click.echo(f"Alerts ({len(alerts)}):")
        for alert in alerts:
            click.echo(f"  [{alert.level.upper()}] {alert.at:%Y-%m-%d %H:%M} code {alert.code}: "
                       f"{alert.message}")
    else:
        click.echo("Alerts: none")
    for routine in held:
        items = _run_items(store, routine.paused_run_id)
        click.echo(f"Routine {routine.name}: PAUSED by the brake since {routine.paused_at:%Y-%m-%d %H:%M} "
                   f"UTC: {routine.paused_reason}" + (f"; items: {items}" if items else ""))
        click.echo(f"  `hub routines resume {routine.name}` restarts it")
    click.echo("Deliveries: " + ", ".join(f"{name} {counts.get(name, 0)}" for name in ORDER))
    if retrying:
        click.echo(f"  {retrying} waiting for a retry")
    if counts.get("sending"):
        click.echo(f"  {counts['sending']} claimed and awaiting an answer or a status")
    if errors:
        click.echo("Failures by code: " + ", ".join(f"{label(code)}: {n}" for code, n in errors))


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
@click.pass_obj
def status(app: App, resume: bool) -> None:
    """Show whether the hub can send, open alerts, and delivery counts."""
    show(app.store, resume)
