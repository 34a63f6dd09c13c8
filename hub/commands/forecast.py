"""``hub preview --subscriber NUMBER``: what one person will receive in the next runs, and why not.

The admin asked about this person by number, so the number is shown whole here (as in ``hub
subscribers show``); it is printed, never logged. The forecast is the planning code's own answer
(:func:`hub.routines.forecast`), not a second copy of the rules.
"""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy import or_
from sqlmodel import col, select

from hub.app import App
from hub.audience import identity, people
from hub.delivery.caps import Caps
from hub.delivery.held_back import story_ids
from hub.delivery.plan import Planned
from hub.routines import Preview, Routines, forecast
from hub.storage.tables import DeliveryRow, ItemRow, SubscriberRow
from hub.terminal import printable


def show_forecast(app: App, raw: str, region: str | None) -> None:
    """Print the forecast for the person written as ``raw`` (a number or a BSUID)."""
    try:
        wanted = people.normalise_person(raw, region)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--subscriber") from None
    with app.store.read() as session:
        person = people.require(session, wanted)
    routines = Routines(app.config, app.store)
    now = routines.clock.now()
    click.echo(f"Forecast for {identity.describe(person, full=True)} "
               f"(topics: {', '.join(person.topics or []) or 'all'})")
    if person.status != "active" or person.opted_in_at is None:
        click.echo(f"Nothing will be sent: {person.status}, no opt-in in force.")
        return
    _notes(person, now)
    click.echo(f"Caps: {routines.caps.describe()}")
    titles = _Titles(app)
    waiting = _waiting(app, person)
    if waiting:
        click.echo("Already in the outbox:")
        for row in waiting:
            why = f"  ({printable(row.reason)})" if row.reason else ""
            click.echo(f"  {_local(app, row.due_at)}  {titles.of(_ids(row))}{why}")
    runs = forecast(routines, person.id or 0)
    if not runs:
        click.echo("No enabled routine: nothing is planned.")
    for preview in runs:
        _print_run(app, routines.caps, preview, titles)


def _notes(person: SubscriberRow, now: datetime) -> None:
    if person.paused_until is not None and person.paused_until > now:
        click.echo(f"Paused until {person.paused_until:%Y-%m-%d}: news planned meanwhile is skipped.")
    if person.rhythm == "weekly":
        click.echo("Weekly rhythm: at most one news message in any 7 days.")


def _print_run(app: App, caps: Caps, p: Preview, titles: _Titles) -> None:
    r = p.routine
    click.echo(f"{r.name}: next run {_local(app, p.at)} ({r.mode}, up to {r.max_items} item(s))")
    rows = p.stats.rows_seen or []
    if not rows:
        click.echo("  nothing for this person: no new story matches their topics")
        return
    for row in rows:
        click.echo(f"  {_when(app, caps, p.at, row, r.max_age)}  {titles.of(row.item_ids)}{_again(row)}")


def _when(app: App, caps: Caps, at: datetime, row: Planned, max_age: str) -> str:
    if row.status != "planned":
        return f"held back ({row.reason}; offered again in the next runs while younger than {max_age})"
    if row.due == at:
        return _local(app, row.due)
    why = "after quiet hours" if caps.quiet and caps.out_of_quiet(at) == row.due else "after the minimum gap"
    return f"{_local(app, row.due)} ({why})"


def _again(row: Planned) -> str:
    if not row.again:
        return ""
    return f"  [held back by the cap before: #{', #'.join(str(i) for i in row.again)}]"


def _waiting(app: App, person: SubscriberRow) -> list[DeliveryRow]:
    """News already planned for this person: what the next runs come after."""
    with app.store.read() as session:
        return list(session.exec(select(DeliveryRow).where(
            DeliveryRow.subscriber_id == person.id, DeliveryRow.status == "planned",
            or_(col(DeliveryRow.item_id).is_not(None), col(DeliveryRow.run_id).is_not(None)),
        ).order_by(col(DeliveryRow.due_at))).all())


def _ids(row: DeliveryRow) -> tuple[int, ...]:
    return tuple(story_ids(row.item_id, row.body))


class _Titles:
    """Story titles by id, read once each."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.known: dict[int, str] = {}

    def of(self, ids: tuple[int, ...]) -> str:
        missing = [i for i in ids if i not in self.known]
        if missing:
            with self.app.store.read() as session:
                for item_id, title in session.exec(select(ItemRow.id, ItemRow.title).where(
                        col(ItemRow.id).in_(missing))):
                    self.known[item_id or 0] = title
        if not ids:
            return "(a reply)"
        return "; ".join(f"#{i} «{printable(self.known.get(i, '?'))}»" for i in ids)


def _local(app: App, moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(app.config.tz).strftime("%a %Y-%m-%d %H:%M %Z")
