"""Which database the suite runs on: SQLite files (default), or PostgreSQL with ``--backend``.

``pytest --backend=postgresql`` (or ``HUB_TEST_BACKEND=postgresql``) gives every test a fresh
private schema on the test server (``HUB_TEST_DATABASE_URL``), exported as ``HUB_DATABASE_URL``
so the hub under test — in process or in a child process — keeps its store there whatever its
hub.toml says. Tests that look into the store themselves use :func:`db_url` and :func:`open_db`.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hub.config import DATABASE_URL_ENV
from hub.storage.store import safe_url

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
_pg_reason: list[str] = []


def backend(config: pytest.Config) -> str:
    """The backend this run uses: ``--backend``, else ``HUB_TEST_BACKEND``, else sqlite."""
    chosen = config.getoption("backend") or os.environ.get("HUB_TEST_BACKEND") or "sqlite"
    if chosen not in BACKENDS:
        raise pytest.UsageError(f"--backend / HUB_TEST_BACKEND: {chosen!r} is not one of {BACKENDS}")
    return chosen


def _dsn(url: str = PG_URL) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def postgres_unreachable() -> str | None:
    """None when the test PostgreSQL answers, else why not (the skip reason)."""
    if not _pg_reason:
        try:
            import psycopg

            with psycopg.connect(_dsn(), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _pg_reason.append("")
        except Exception as exc:  # noqa: BLE001 - any failure means "skip the PostgreSQL runs"
            _pg_reason.append(f"PostgreSQL not reachable at {safe_url(PG_URL)} "
                              f"({type(exc).__name__}: {exc})"[:300])
    return _pg_reason[0] or None


class PgSchemas:
    """Creates private schemas on the test server and drops them all at the end of a test."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def new(self, *, built: bool = False) -> str:
        """A fresh schema, empty or (``built``) already at the newest revision; its URL.

        A built schema is what the hub itself makes of an empty one (``prepare``), written in
        one round trip from a script compiled once: about 40 tables' DDL and the checks before
        each cost ~0.5 s a test through SQLAlchemy, most of the PostgreSQL pass's extra time.
        """
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
            if built:
                conn.execute(f'SET search_path TO "{schema}"; {_schema_script()}')
        self.made.append(schema)
        sep = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"

    def drop_all(self) -> None:
        """Drop each schema; sessions a test left idle in a transaction are ended first."""
        import psycopg

        with psycopg.connect(_dsn(), autocommit=True) as conn:
            conn.execute("SET lock_timeout = '5s'")
            for schema in self.made:
                try:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                except psycopg.errors.LockNotAvailable:
                    conn.execute("SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
                                 "JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n "
                                 "ON n.oid = c.relnamespace WHERE n.nspname = %s "
                                 "AND l.pid <> pg_backend_pid()", (schema,))
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        self.made.clear()


@functools.cache
def _schema_script() -> str:
    """The DDL that ``hub.storage.migrate.prepare`` runs on an empty PostgreSQL schema, as text.

    Compiled through a mock engine from the same metadata, plus Alembic's version table stamped
    at head: a store opened on it finds itself at head and is used as it is.
    """
    from sqlalchemy import create_mock_engine
    from sqlmodel import SQLModel

    import hub.storage.tables  # noqa: F401 - registers the tables
    from hub.storage.migrate import head

    statements: list[str] = []
    engine = create_mock_engine("postgresql+psycopg://", lambda sql, *a, **k: statements.append(
        str(sql.compile(dialect=engine.dialect)).strip()))
    SQLModel.metadata.create_all(engine, checkfirst=False)
    statements.append("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                      "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
    statements.append(f"INSERT INTO alembic_version (version_num) VALUES ('{head()}')")
    return ";\n".join(statements) + ";"


@pytest.fixture
def pg_schemas(request: pytest.FixtureRequest) -> Iterator[PgSchemas]:
    """More private PostgreSQL schemas, for tests about PostgreSQL itself (its pass only)."""
    if backend(request.config) != "postgresql":
        pytest.skip("PostgreSQL only: runs in the --backend=postgresql pass")
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    schemas = PgSchemas()
    try:
        yield schemas
    finally:
        schemas.drop_all()


@pytest.fixture(autouse=True)
def database_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                 tmp_path: Path) -> Iterator[str]:
    """The store the hub under test uses: ``tmp_path/hub.db``, or a private PostgreSQL schema.

    On PostgreSQL the URL is exported as ``HUB_DATABASE_URL``, so it overrides every hub.toml;
    the schema comes already built at the newest revision (as the hub would build it), except
    for tests marked ``empty_store`` (about migrations and empty databases themselves).
    """
    if backend(request.config) == "sqlite":
        monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    schemas = PgSchemas()
    try:
        url = schemas.new(built=request.node.get_closest_marker("empty_store") is None)
        monkeypatch.setenv(DATABASE_URL_ENV, url)
        yield url
    finally:
        schemas.drop_all()


@pytest.fixture
def store_url(database_url: str) -> str:
    """A fresh, empty database of this run's backend (the same one the hub under test uses)."""
    return database_url


def db_url(path: Path) -> str:
    """The URL of the store a hub configured with the SQLite file ``path`` actually uses."""
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{path}"


def sqlite_only(why: str) -> pytest.MarkDecorator:
    """Skip in the PostgreSQL pass a test that is about SQLite itself, saying why."""
    return pytest.mark.sqlite_only(why)


class Row(tuple):  # type: ignore[type-arg]
    """A row readable by position and by column name, like ``sqlite3.Row``."""

    _names: tuple[str, ...] = ()

    def __new__(cls, values: Sequence[Any], names: Sequence[str]) -> Row:
        row = super().__new__(cls, values)
        row._names = tuple(names)
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self._names


def _as_sqlite_gives(value: Any) -> Any:
    """PostgreSQL's value as SQLite returns it through SQLAlchemy's column types (text, 0/1)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


class Cursor:
    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def fetchall(self) -> list[Row]:
        return self.rows

    def fetchone(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


class Db:
    """Plain SQL on the store of this run's backend, in autocommit, with SQLite's ``?`` params."""

    def __init__(self, path: Path) -> None:
        url = db_url(path)
        self.postgres = url.startswith("postgresql")
        if self.postgres:
            import psycopg

            self.connection: Any = psycopg.connect(_dsn(url), autocommit=True)
        else:
            import sqlite3

            self.connection = sqlite3.connect(path, isolation_level=None)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self.postgres:
            cursor = self.connection.execute(sql.replace("%", "%%").replace("?", "%s") if params
                                             else sql, tuple(params) or None)
            names = [c.name for c in cursor.description or ()]
            rows = [Row([_as_sqlite_gives(v) for v in r], names) for r in cursor.fetchall()
                    ] if cursor.description else []
        else:
            cursor = self.connection.execute(sql, tuple(params))
            names = [c[0] for c in cursor.description or ()]
            rows = [Row(r, names) for r in cursor.fetchall()]
        return Cursor(rows)

    def commit(self) -> None:
        """Nothing to do: every statement commits at once (kept for sqlite3-style callers)."""

    def close(self) -> None:
        self.connection.close()


def open_db(path: Path) -> Db:
    """The store a hub configured with the SQLite file ``path`` uses, for plain SQL."""
    return Db(path)
