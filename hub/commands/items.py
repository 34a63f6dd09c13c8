"""``hub items``: why an item was (not) sent, and the glitch guard's held polls."""

from __future__ import annotations

from datetime import datetime

import click
from sqlmodel import and_, col, func, or_, select

from hub.app import App
from hub.intake.held import held_items, settle
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, ItemRow
from hub.timekeeping.clock import Clock, SystemClock

pass_app = click.make_pass_decorator(App)


@click.group()
def items() -> None:
    """Stored items: what was held, dropped or sent, and why."""


@items.command()
@pass_app
def held(app: App) -> None:
    """List the items held by the glitch guard, by source."""
    with app.store.read() as session:
        rows = held_items(session)
    if not rows:
        click.echo("No items held.")
        return
    source = None
    for row in rows:
        if row.source != source:
            source = row.source
            count = sum(1 for r in rows if r.source == source)
            click.echo(f"{source}: {count} held — {row.reason}")
        click.echo(f"  #{row.id} {row.title}")
    click.echo("Settle them with: hub items approve|drop --source NAME (or item ids)")


def _settle(store: Store, ids: tuple[int, ...], source: str | None, clock: Clock,
            approve: bool) -> int:
    if not ids and not source:
        raise click.UsageError("give item ids or --source NAME")
    return settle(store, ids, source, clock.now(), approve=approve)


@items.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--source", default=None, help="Every held item of this source.")
@pass_app
def approve(app: App, ids: tuple[int, ...], source: str | None) -> None:
    """Release held items: the next routine run may send them."""
    count = _settle(app.store, ids, source, SystemClock(), approve=True)
    click.echo(f"{count} item(s) approved" if count else "No matching held items.")


@items.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--source", default=None, help="Every held item of this source.")
@pass_app
def drop(app: App, ids: tuple[int, ...], source: str | None) -> None:
    """Drop held items for good (they stay stored, as dropped, so they never come back)."""
    count = _settle(app.store, ids, source, SystemClock(), approve=False)
    click.echo(f"{count} item(s) dropped" if count else "No matching held items.")


@items.command()
@click.argument("item_id", type=int)
@pass_app
def why(app: App, item_id: int) -> None:
    """Every decision taken about one item, and where its deliveries stand."""
    with app.store.read() as session:
        row = session.get(ItemRow, item_id)
        if row is None:
            raise click.ClickException(f"no item #{item_id}")
        mine = col(DeliveryRow.item_id) == item_id
        if row.planned_run_id is not None:
            mine = or_(mine, and_(DeliveryRow.run_id == row.planned_run_id,
                                  col(DeliveryRow.item_id).is_(None)))
        counts = dict(session.exec(
            select(DeliveryRow.status, func.count()).where(mine).group_by(DeliveryRow.status)).all())
    click.echo(f"#{row.id} {row.title}\n  source: {row.source}  guid: {row.guid}")
    click.echo(f"  link: {row.url or 'none'}")
    click.echo(f"  image: {row.image_url or 'none (sent as text with a link preview)'}")
    click.echo(f"  published: {_utc(row.published_at) if row.published_at else 'unknown'}"
               f" (fetched {_utc(row.fetched_at) if row.fetched_at else 'unknown'})")
    click.echo(f"  status: {row.status}" + (f" — {row.reason}" if row.reason else ""))
    for decision in row.decisions or []:
        click.echo(f"  · {decision}")
    if row.planned_at:
        click.echo(f"  planned by run #{row.planned_run_id} at {_utc(row.planned_at)}")
    if counts:
        click.echo("  deliveries: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"
