"""``hub db``: the store's schema revision, and migrating it in place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import SQLAlchemyError

from hub.app import App
from hub.errors import StoreError
from hub.storage import migrate
from hub.storage.store import Store, safe_url


@click.group()
def db() -> None:
    """The database schema: which revision it is at, and upgrading it."""


@contextmanager
def _open(app: App) -> Iterator[Store]:
    """The store as it is (no schema check), its database errors as one clear line."""
    store = Store(app.config.database_url, create=False)
    try:
        yield store
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot migrate or read the schema of {safe_url(store.url)}: "
                         f"{getattr(exc, 'orig', None) or exc}",
                         hint="nothing was changed; check [hub] database_url in hub.toml "
                         "(or HUB_DATABASE_URL)") from None
    finally:
        store.dispose()


@db.command()
@click.pass_obj
def upgrade(app: App) -> None:
    """Migrate the database to the newest schema, in place, in one transaction."""
    with _open(app) as store:
        result = migrate.upgrade(store.engine)
    head = migrate.head()
    if result.before == result.after:
        click.echo(f"Schema already at {result.after} (head); nothing to do.")
        return
    if result.adopted:
        before = f"{migrate.BASELINE} (recognised: a database from before migrations)"
    else:
        before = result.before or "empty database"
    click.echo(f"Schema upgraded: {before} → {result.after}" + (" (head)" if result.after == head else ""))


@db.command()
@click.option("--check", is_flag=True, help="Exit with status 1 unless the database is at head.")
@click.pass_obj
def current(app: App, check: bool) -> None:
    """Show the database's schema revision and whether it is the newest."""
    with _open(app) as store, store.engine.connect() as connection:
        revision = migrate.current(connection)
        populated = migrate.has_tables(connection)
    head = migrate.head()
    if revision == head:
        click.echo(f"Schema revision {revision} (head): up to date.")
        return
    if revision is None and not populated:
        click.echo(f"Empty database: no schema yet (head is {head}); the hub creates it on first use.")
    elif revision is None:
        click.echo(f"No schema revision: a database from before migrations (head is {head}). "
                   "Back it up, then run `hub db upgrade`.")
    else:
        known = any(rev == revision for rev, _, _ in migrate.history())
        if known:
            click.echo(f"Schema revision {revision}, behind head {head}. "
                       "Back it up, then run `hub db upgrade`.")
        else:
            click.echo(f"Schema revision {revision}, unknown to this hub (head {head}): "
                       "a newer hub has upgraded it.")
    if check:
        raise SystemExit(1)


@db.command()
@click.pass_obj
def history(app: App) -> None:
    """List the schema revisions, oldest first, marking the database's."""
    with _open(app) as store, store.engine.connect() as connection:
        revision = migrate.current(connection)
    head = migrate.head()
    for rev, _down, message in migrate.history():
        marks = [m for m, on in (("head", rev == head), ("current", rev == revision)) if on]
        title = message.strip().splitlines()[0] if message.strip() else ""
        click.echo(f"{rev}  {title}" + (f"  ({', '.join(marks)})" if marks else ""))
