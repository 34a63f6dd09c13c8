"""``hub subscribers …``: list, show, add, import, tag, untag, remove, export, forget."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from sqlmodel import Session, col, func, select

from hub.app import App
from hub.audience import identity, people
from hub.privacy import mask_any
from hub.storage.paging import pages
from hub.storage.tables import ConsentEventRow, DeliveryRow, SubscriberRow
from hub.storage.typed import select_columns
from hub.terminal import printable
from hub.timekeeping.clock import SystemClock
from hub.timekeeping.shown import stamp

REGION = click.option("--region", default=None, metavar="CC",
                      help="Country for numbers written without +code, e.g. ES.")


def _number(raw: str, region: str | None) -> str:
    """A number, or a business-scoped user id (``ES.1349…``) for someone whose number is hidden."""
    try:
        return people.normalise_person(raw, region)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NUMBER") from None


@click.group()
def subscribers() -> None:
    """The people who receive the news, their consent, and their data."""


@subscribers.command("list")
@click.option("--status", default=None, help="Only this status (active, unsubscribed, contact…).")
@click.option("--full", is_flag=True, help="Show whole numbers (and BSUIDs) instead of masked ones.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts (masked unless --full).")
@click.pass_obj
def list_(app: App, status: str | None, full: bool, as_json: bool) -> None:
    """One line per person: number (or BSUID when the number is hidden), status, topics, name."""
    if as_json:
        _list_json(app, status, full)
        return
    counts: Counter[str] = Counter()
    with app.store.read() as session:
        for phone, state, topics, name, user_id, username in _people(session, status):
            counts[state] += 1
            shown = identity.describe(SubscriberRow(phone=phone, user_id=user_id), full=full)
            who = " ".join(printable(n) for n in (name, username) if n)
            click.echo(f"{shown:<17} {state:<13} {','.join(topics or []) or '(all topics)':<24} "
                       f"{who}".rstrip())
    click.echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no subscribers yet")


def _list_json(app: App, status: str | None, full: bool) -> None:
    """The same people as one JSON array, written as it is read (a long list never sits in memory)."""
    import json

    click.echo("[")
    first = True
    with app.store.read() as session:
        for phone, state, topics, name, user_id, username in _people(session, status):
            person = {"who": identity.describe(SubscriberRow(phone=phone, user_id=user_id), full=full),
                      "status": state, "topics": topics or [], "name": name, "username": username}
            click.echo(("" if first else ",") + json.dumps(person, ensure_ascii=False))
            first = False
    click.echo("]")


def _people(session: Session, status: str | None) -> Iterator[tuple[Any, ...]]:
    """(phone, status, topics, name, user id, username) by id, a page at a time: a long list never
    sits in memory."""
    query = select_columns(SubscriberRow.id, SubscriberRow.phone, SubscriberRow.status, SubscriberRow.topics,
                           SubscriberRow.name, SubscriberRow.user_id, SubscriberRow.username).where(
        SubscriberRow.status != "forgotten")
    if status:
        query = query.where(SubscriberRow.status == status)
    for page in pages(session, query, col(SubscriberRow.id)):
        for row in page:
            yield tuple(row[1:])


@subscribers.command()
@click.argument("number")
@REGION
@click.pass_obj
def show(app: App, number: str, region: str | None) -> None:
    """Everything about one person, in short: state, topics, consent history, deliveries.

    Written out in full, as for the number the admin typed: every BSUID of this person too.
    """
    phone = _number(number, region)
    with app.store.read() as session:
        person = people.require(session, phone)
        user_ids = identity.user_ids_of(session, person)
        events = session.exec(select(ConsentEventRow).where(ConsentEventRow.subscriber_id == person.id)
                              .order_by(col(ConsentEventRow.at))).all()
        by_status = dict(session.exec(
            select(DeliveryRow.status, func.count()).where(DeliveryRow.subscriber_id == person.id)
            .group_by(DeliveryRow.status)).all())
    click.echo(f"{identity.describe(person, full=True)}  {printable(person.name)}".rstrip())
    if person.username:
        click.echo(f"  username: {printable(person.username)} (display only)")
    if user_ids:
        click.echo("  business-scoped user ids: " + ", ".join(user_ids))
    click.echo(f"  status:   {person.status}" + (f" (rhythm {person.rhythm})" if person.rhythm != "normal"
                                                 else "")
               + (f", paused until {person.paused_until:%Y-%m-%d}" if person.paused_until else ""))
    click.echo(f"  topics:   {', '.join(person.topics or []) or 'all'}")
    wrote = person.last_inbound_at
    click.echo(f"  last message from them: {stamp(wrote, app.config.tz) if wrote else 'never'}")
    click.echo("  deliveries: " + (", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "none"))
    for e in events:
        detail = f" «{printable(e.words)}»" if e.words else ""
        detail += f" ({printable(e.note)})" if e.note else ""
        click.echo(f"  {stamp(e.at, app.config.tz) if e.at else '?'} {e.kind} via {e.channel}{detail}")


@subscribers.command()
@click.argument("number")
@click.option("--consent", "note", required=True,
              help="How the person agreed (stored as the proof), e.g. 'signed form, 2026-03-02'.")
@click.option("--name", default=None)
@click.option("--topic", "topics", multiple=True, help="A topic tag (repeat for several).")
@REGION
@click.pass_obj
def add(app: App, number: str, note: str, name: str | None, topics: tuple[str, ...],
        region: str | None) -> None:
    """Subscribe one number, with the consent note that proves they agreed."""
    phone = _number(number, region)
    with app.store.write() as session:
        people.add(session, phone, SystemClock().now(), note=note, name=name,
                   topics=list(topics) or None)
    click.echo(f"{mask_any(phone)} subscribed")


@subscribers.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--consent", "note", required=True, help="How everyone in this list agreed.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid lines even if some are not.")
@REGION
@click.pass_obj
def import_(app: App, path: Path, note: str, skip_invalid: bool, region: str | None) -> None:
    """Import a CSV of number[,name[,topics]]; invalid lines are reported by line number."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot read: {exc}") from None
    with app.store.write() as session:
        result = people.import_people(session, text, SystemClock().now(), note=note, region=region,
                                      skip_invalid=skip_invalid)
    for line in result.rejected:
        click.echo(f"rejected {line}", err=True)
    for line in result.skipped:
        click.echo(f"skipped {line} (left by message; add them one by one if they agreed again)",
                   err=True)
    click.echo(f"{len(result.added)} imported, {len(result.skipped)} skipped, "
               f"{len(result.rejected)} rejected")


def _retag(app: App, number: str, region: str | None, topics: tuple[str, ...], adding: bool) -> None:
    phone = _number(number, region)
    with app.store.write() as session:
        person = people.require(session, phone)
        current = list(person.topics or [])
        new = current + [t for t in topics if t not in current] if adding else [
            t for t in current if t not in topics]
        people.set_topics(session, person, new, SystemClock().now(),
                          note=("tag " if adding else "untag ") + " ".join(topics))
    click.echo(f"{mask_any(phone)}: topics {', '.join(new) or 'all'}")


@subscribers.command()
@click.argument("number")
@click.argument("topics", nargs=-1, required=True)
@REGION
@click.pass_obj
def tag(app: App, number: str, topics: tuple[str, ...], region: str | None) -> None:
    """Add topics to a person."""
    _retag(app, number, region, topics, adding=True)


@subscribers.command()
@click.argument("number")
@click.argument("topics", nargs=-1, required=True)
@REGION
@click.pass_obj
def untag(app: App, number: str, topics: tuple[str, ...], region: str | None) -> None:
    """Remove topics from a person (no topics left means all news)."""
    _retag(app, number, region, topics, adding=False)


@subscribers.command()
@click.argument("number")
@REGION
@click.pass_obj
def remove(app: App, number: str, region: str | None) -> None:
    """Unsubscribe a person at once (their data stays; `forget` erases it)."""
    phone = _number(number, region)
    with app.store.write() as session:
        person = people.require(session, phone)
        people.remove(session, person, SystemClock().now())
    click.echo(f"{mask_any(phone)} unsubscribed")


@subscribers.command()
@click.argument("number")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the JSON here instead of standard output.")
@REGION
@click.pass_obj
def export(app: App, number: str, output: Path | None, region: str | None) -> None:
    """Everything stored about a person, as JSON (their right of access)."""
    phone = _number(number, region)
    with app.store.read() as session:
        data = people.export(session, phone)
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        sys.stdout.write(text + "\n")


@subscribers.command()
@click.argument("number")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@REGION
@click.pass_obj
def forget(app: App, number: str, yes: bool, region: str | None) -> None:
    """Erase a person's data everywhere, keeping only anonymous counts (right to erasure)."""
    phone = _number(number, region)
    if not yes:
        click.confirm(f"Erase everything about {mask_any(phone)}? This cannot be undone", abort=True)
    with app.store.write() as session:
        counts = people.forget(session, phone, SystemClock().now())
    click.echo(f"{mask_any(phone)} forgotten: " + ", ".join(f"{n} {k.replace('_', ' ')}"
                                                              for k, n in counts.items()))
    if not app.store.scrub([*counts, "subscribers", "person_ids"]):
        click.echo("warning: another process was still reading the store, so old copies may stay "
                   "in its write-ahead log until the next checkpoint; run the forget again to "
                   "finish it", err=True)


