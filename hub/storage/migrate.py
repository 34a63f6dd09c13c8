"""Schema versions: bring a database to the models' schema with Alembic, or say why not.

The migration scripts ship inside the package (``hub/storage/migrations``) and Alembic is configured
here, so an installed hub needs no ``alembic.ini``. Opening a store never alters an existing
schema: an empty database is created at head, one at head opens, anything else is refused with
the command that fixes it (``hub db upgrade``) — changing a live schema is the admin's decision.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from hub.errors import StoreError
from hub.storage import tables  # noqa: F401 - registers the tables on SQLModel.metadata

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the schema the hub had before migrations: what a plain create_all made
VERSION_TABLE = "alembic_version"
_PG_LOCK = 0x6875622D6D6967  # "hub-mig": one migrator (or first opener) at a time on PostgreSQL


@dataclass(frozen=True)
class Upgrade:
    """What ``upgrade`` did: from which revision (None: empty or pre-migration) to which."""

    before: str | None
    after: str
    adopted: bool = False  # a pre-migration database was recognised and stamped at the baseline


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code; the connection is handed to env.py."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    heads = scripts().get_heads()
    if len(heads) != 1:
        raise StoreError(f"the migrations have {len(heads)} heads ({', '.join(heads)})",
                         hint="merge them: alembic merge")
    return heads[0]


def current(connection: Connection) -> str | None:
    """The database's revision; None when it has no version table (empty or pre-migration)."""
    return MigrationContext.configure(connection).get_current_revision()


def has_tables(connection: Connection) -> bool:
    """Whether any hub table is present (the version table alone does not count)."""
    names = set(inspect(connection).get_table_names())
    return bool(names & set(SQLModel.metadata.tables))


def prepare(engine: Engine) -> None:
    """On opening a store: create an empty database at head; refuse one that is not at head."""
    with _locked(engine) as connection:
        revision = current(connection)
        if revision == head():
            return
        if revision is None and not has_tables(connection):
            # Same schema as running every migration (tests/test_migrations.py proves it), faster.
            SQLModel.metadata.create_all(connection)
            MigrationContext.configure(connection).stamp(scripts(), head())
            log.info("created an empty database's schema at revision %s", head())
            return
    raise behind_error(revision)


def behind_error(revision: str | None) -> StoreError:
    if revision is None:
        what = "was made by a hub from before schema migrations"
    elif _known(revision):
        what = f"is at schema revision {revision}, this hub needs {head()}"
    else:
        return StoreError(f"the database is at schema revision {revision}, unknown to this hub "
                          f"(head {head()}): a newer hub has upgraded it",
                          hint="run the newer hub, or restore the backup taken before its upgrade")
    return StoreError(f"the database {what}",
                      hint="stop every hub process, back it up, then run `hub db upgrade`")


def upgrade(engine: Engine, target: str = "head") -> Upgrade:
    """Migrate in place, in one transaction; a pre-migration database is first stamped."""
    with _locked(engine, foreign_keys_off=True) as connection:
        before = current(connection)
        adopted = False
        if before is None and has_tables(connection):
            _check_baseline(connection)
            MigrationContext.configure(connection).stamp(scripts(), BASELINE)
            adopted = True
        elif before is not None and not _known(before):
            raise behind_error(before)
        log.info("migrating the schema from %s to %s", before or "nothing", target)
        command.upgrade(alembic_config(connection), target)
        after = current(connection)
        if engine.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StoreError(f"the migration would break {len(broken)} foreign key(s); "
                                 "nothing was changed", hint="report this as a bug")
    assert after is not None
    return Upgrade(before, after, adopted)


def history() -> list[tuple[str, str | None, str]]:
    """Every revision, oldest first: (revision, down revision, message)."""
    out = [(s.revision, s.down_revision if isinstance(s.down_revision, str) else None, s.doc or "")
           for s in scripts().walk_revisions()]
    return list(reversed(out))


def _known(revision: str) -> bool:
    try:
        return scripts().get_revision(revision) is not None
    except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
        return False


def _check_baseline(connection: Connection) -> None:
    """A pre-migration database must hold every table and column of the baseline to be stamped."""
    expected = _baseline_columns()
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    missing = [t for t in expected if t not in present]
    missing += [f"{t}.{c}" for t in expected if t in present
                for c in sorted(expected[t] - {col["name"] for col in inspector.get_columns(t)})]
    if missing:
        raise StoreError(f"the database predates schema migrations and lacks {', '.join(missing[:8])}"
                         + (" …" if len(missing) > 8 else ""),
                         hint="it was made by an unreleased hub; export its data and start afresh")


@cache
def _baseline_columns() -> dict[str, set[str]]:
    """Table → column names after the baseline migration, found by running it on a scratch db."""
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), BASELINE)
        inspector = inspect(connection)
        found = {t: {c["name"] for c in inspector.get_columns(t)}
                 for t in inspector.get_table_names() if t != VERSION_TABLE}
    engine.dispose()
    return found


@contextmanager
def _locked(engine: Engine, *, foreign_keys_off: bool = False) -> Iterator[Connection]:
    """One transaction that holds the schema lock: SQLite's write lock, or an advisory lock."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        raw: Any = connection.connection.driver_connection
        if sqlite and foreign_keys_off:
            # Batch migrations copy and drop tables; with foreign keys on, dropping a parent
            # table would delete or refuse its children. Checked by hand before committing.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.execution_options(sqlite_begin="IMMEDIATE").begin():
                if engine.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
                yield connection
        finally:
            if sqlite and foreign_keys_off:
                raw.execute("PRAGMA foreign_keys=ON")
