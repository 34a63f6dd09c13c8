"""The store: a SQLite file by default (WAL, writes begun IMMEDIATE), any SQLAlchemy URL.

With SQLite's default deferred transactions, a read that later writes upgrades its lock and
fails at once with "database is locked" when another process writes; ``BEGIN IMMEDIATE`` takes
the write lock up front, so concurrent writers wait their turn (``busy_timeout``) instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, create_engine

from hub.errors import StoreError
from hub.events import Events
from hub.storage import tables  # noqa: F401 - registers the tables on SQLModel.metadata
from hub.storage.revision import at_newest
from hub.storage.urls import safe_url as safe_url  # re-exported: callers import it from here

BUSY_TIMEOUT_MS = 30_000


class Store:
    """Opens the database, hands out read and write sessions.

    ``create`` (the default) makes an empty database at the newest schema and refuses one at
    another revision (``hub db upgrade`` migrates it); ``create=False`` opens it as it is, for
    the ``hub db`` commands.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # When this process first dispatched from this store: the in-doubt timeout also counts
        # from here, since status webhooks cannot arrive while the process is down.
        self.dispatching_since: datetime | None = None
        # Who hears what a write changed, after its commit (the App sets its plugins here).
        self.events = Events()
        _check_backend(url)
        try:
            self.engine = _make_engine(url)
            if create and not at_newest(self.engine):  # the usual case costs no Alembic import
                from hub.storage.migrate import prepare

                prepare(self.engine)
        except StoreError:
            self.engine.dispose()
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the store at {safe_url(url)}: {exc.__class__.__name__}: "
                             f"{exc.orig if hasattr(exc, 'orig') else exc}",
                             hint="check [hub] database_url in hub.toml (or HUB_DATABASE_URL)") from None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self, *, durable: bool = False, begin: str = "IMMEDIATE") -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on any error.

        ``begin="DEFERRED"`` (SQLite) takes the writer lock only at the first write, for work that
        mostly reads: it may then fail at once (``OperationalError``) if another writer committed
        since it began reading; the caller does it again with the default.

        ``durable`` commits survive a power cut too, not only a crash of the process: on SQLite
        that syncs the WAL at this commit (``synchronous=FULL``), for what the hub acknowledges to
        someone else (a webhook's 200). PostgreSQL's commits are always durable.
        """
        connection = self.engine.connect().execution_options(
            sqlite_begin=begin, sqlite_synchronous="FULL" if durable else None)
        try:
            with Session(bind=connection, expire_on_commit=False) as session:
                pending = self.events.begin(session)
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        finally:
            connection.close()
        if pending is not None:  # committed: plugins hear of it (:mod:`hub.events`)
            self.events.fire(self, pending)

    def scrub(self, table_names: list[str]) -> bool:
        """After an erasure: leave no old copy of the erased rows in the store's files.

        SQLite: the WAL still holds every earlier version of the changed pages; a TRUNCATE
        checkpoint writes the new pages into the database (where ``secure_delete`` zeroed the old
        content) and empties the WAL. It waits up to the busy timeout for readers of other
        processes (``hub run``); False when one still held an old snapshot. PostgreSQL: VACUUM the
        touched tables, so the dead tuples holding the old values are cleared from the pages
        (its own WAL and any backups keep them until they are recycled: see docs/whatsapp.md).
        """
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if self.is_sqlite:
                busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
                return not busy
            for table in table_names:
                connection.exec_driver_sql(f'VACUUM "{table}"')
            return True

    def dispose(self) -> None:
        self.engine.dispose()


BACKENDS = ("sqlite", "postgresql")  # what the migrations, claims and tests cover


def _check_backend(url: str) -> None:
    """One line naming the supported schemes, not the traceback of a missing MySQL driver."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme.split("+", 1)[0] not in BACKENDS:
        raise StoreError(f"unsupported database URL {safe_url(url)!r}: expected sqlite:///path/to/hub.db "
                         "or postgresql://user@host/db (the only backends the hub supports)")


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself instead of the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        _record.info["synchronous"] = "NORMAL"
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Erased or replaced content is overwritten with zeros, not left in free space (erasure).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        synchronous = options.get("sqlite_synchronous") or "NORMAL"
        info = connection.connection.info  # lives as long as the DBAPI connection
        if info.get("synchronous") != synchronous:  # only durable transactions switch it
            connection.exec_driver_sql(f"PRAGMA synchronous={synchronous}")
            info["synchronous"] = synchronous
        connection.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")

    return engine



