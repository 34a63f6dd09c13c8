"""``hub items``: why an item was (not) sent, and the glitch guard's held polls."""

from __future__ import annotations

import click
from sqlmodel import and_, col, func, or_, select

from hub.app import App
from hub.intake.held import held_items, settle
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, ItemRow
from hub.timekeeping.clock import Clock, SystemClock
from hub.timekeeping.shown import stamp

pass_app = click.make_pass_decorator(App)


@click.group()
def items() -> None:
    """Stored items: what was held, dropped or sent, and why."""


@items.command("list")
@click.option("--limit", default=20, show_default=True, help="How many of the most recent items.")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice(["ready", "held", "dropped", "seen"]), help="Only these (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
@pass_app
def list_items(app: App, limit: int, statuses: tuple[str, ...], as_json: bool) -> None:
    """Recent items, newest first: status, and why one was held or dropped."""
    import json

    from hub.timekeeping.shown import stamp, zone_note

    query = select(ItemRow).order_by(col(ItemRow.id).desc()).limit(max(limit, 0))
    if statuses:
        query = query.where(col(ItemRow.status).in_(statuses))
    with app.store.read() as session:
        rows = session.exec(query).all()
    tz = app.config.tz
    if as_json:
        click.echo(json.dumps([{
            "id": r.id, "source": r.source, "title": r.title, "url": r.url, "status": r.status,
            "reason": r.reason, "tags": r.tags,
            "fetched_at": r.fetched_at.isoformat() if r.fetched_at else None,
            "planned": r.planned_at is not None} for r in rows], ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo("No items stored yet (hub poll fetches the sources).")
        return
    for r in rows:
        when = stamp(r.fetched_at, tz) if r.fetched_at else "?"
        state = f"taken by run #{r.planned_run_id}" if r.planned_at else r.status
        click.echo(f"#{r.id:<5} {when}  {r.source}  {state}"
                   + (f" — {r.reason}" if r.reason else "") + f"\n       {_cut(r.title, 90)}")
    click.echo(f"{zone_note(tz)}; more on one item: hub items why ID")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
    tz = app.config.tz
    click.echo(f"  published: {stamp(row.published_at, tz) if row.published_at else 'unknown'}"
               f" (fetched {stamp(row.fetched_at, tz) if row.fetched_at else 'unknown'})")
    click.echo(f"  status: {row.status}" + (f" — {row.reason}" if row.reason else ""))
    for decision in row.decisions or []:
        click.echo(f"  · {decision}")
    if row.planned_at:
        click.echo(f"  planned by run #{row.planned_run_id} at {stamp(row.planned_at, tz)}")
    if counts:
        click.echo("  deliveries: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
