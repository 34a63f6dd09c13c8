"""Schema migrations: the models and the migrations agree, and an older store upgrades in place.

Runs on SQLite and, where reachable, on a private PostgreSQL schema (the ``store_url`` fixture).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from hub.errors import StoreError
from hub.storage import migrate
from hub.storage.store import Store
from hub.storage.tables import ConsentEventRow, DeliveryRow, ItemRow, SourceRow, SubscriberRow
from tests.conftest import HubRunner, write_config

pytestmark = pytest.mark.empty_store  # each test starts from an empty or an old schema of its own

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
NEW_INDEX = "ix_deliveries_subscriber_status"  # what revision 0002 adds


def differences(connection: Connection) -> list[Any]:
    """Alembic's own comparison of the database against the models (types included)."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


def schema(connection: Connection) -> dict[str, Any]:
    """Every table's columns, keys, indexes and constraints, as the database reports them."""
    inspector = inspect(connection)
    found: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        found[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"])
                          for f in inspector.get_foreign_keys(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(table)),
            "uniques": sorted((u["name"] or "", tuple(u["column_names"]))
                              for u in inspector.get_unique_constraints(table)),
        }
    if connection.dialect.name == "sqlite":
        # The stored CREATE text, whitespace aside (ALTER TABLE ADD COLUMN writes it on one line)
        # and the quotes SQLite puts around a table's name when a batch migration renames its copy.
        found["sqlite_master"] = sorted(
            (kind, name, re.sub(r'^CREATE TABLE "(\w+)"', r"CREATE TABLE \1", re.sub(r"\s+", " ", sql or "")))
            for kind, name, sql in connection.exec_driver_sql(
                "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").all())
    return found


def drop_everything(engine: Engine) -> None:
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {migrate.VERSION_TABLE}"))


HEAD = migrate.head()


def _insert(connection: Connection, row: Any) -> Any:
    """Insert a model row through the columns the database has now (an older schema lacks the
    columns later revisions add); returns its id."""
    table = MetaData()
    table.reflect(bind=connection, only=[row.__tablename__])
    present = table.tables[row.__tablename__]
    values = {name: value for name, value in row.model_dump().items()
              if name in present.c and not (name == "id" and value is None)}
    model_table = type(row).__table__
    result = connection.execute(model_table.insert().values(
        {name: value for name, value in values.items() if name in model_table.c}))
    return result.inserted_primary_key[0]


def fill(store: Store) -> None:
    """A little of everything an older hub would have stored."""
    with store.engine.begin() as connection:
        _insert(connection, SourceRow(name="town", type="rss", url="http://127.0.0.1/feed",
                                      cursor={"page": 2}))
        people = [_insert(connection, SubscriberRow(phone=f"3460000000{i}", created_at=NOW,
                                                    opted_in_at=NOW, topics=["news"]))
                  for i in range(3)]
        items = [_insert(connection, ItemRow(source="town", guid=f"g{i}", title=f"Story {i}",
                                             fetched_at=NOW, published_at=NOW, tags=["news"]))
                 for i in range(4)]
        for item in items:
            for person in people:
                _insert(connection, DeliveryRow(key=f"item:{item}:{person}", subscriber_id=person,
                                                item_id=item, body={"text": f"Story {item}"},
                                                created_at=NOW, due_at=NOW,
                                                status="planned" if item % 2 else "sent"))
        _insert(connection, ConsentEventRow(subscriber_id=people[0], phone="34600000000",
                                            kind="opt_in", channel="whatsapp", words="ALTA", at=NOW))


Snapshot = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]


def rows(engine: Engine, like: Snapshot | None = None) -> Snapshot:
    """Every row of every model table, read through the columns the database has now (a table
    gains columns with later revisions; rows written before keep their values). With ``like``
    (an earlier snapshot), only its tables and columns: what was there must still be there."""
    with engine.connect() as connection:
        present = MetaData()
        existing = set(inspect(connection).get_table_names())
        wanted = list(like) if like is not None else list(SQLModel.metadata.tables)
        present.reflect(bind=connection, only=[t for t in wanted if t in existing])
        found: Snapshot = {}
        for name, table in present.tables.items():
            names = (like[name][0] if like is not None else
                     tuple(c.name for c in table.c if c.name in SQLModel.metadata.tables[name].c))
            cols = [table.c[n] for n in names]
            listed = connection.execute(select(*cols)).all()
            found[name] = (names, sorted(tuple(map(repr, r)) for r in listed))
        return found


def config_for(project: Path, url: str) -> HubRunner:
    write_config(project / "hub.toml", f'[hub]\ndatabase_url = "{url}"\n')
    return HubRunner(project / "hub.toml")


def test_the_migrations_build_exactly_the_models(store_url: str) -> None:
    store = Store(store_url, create=False)
    result = migrate.upgrade(store.engine)
    assert (result.before, result.after) == (None, migrate.head())
    with store.engine.connect() as connection:
        assert differences(connection) == []
    store.dispose()


def test_a_fresh_store_is_the_same_schema_as_running_every_migration(store_url: str) -> None:
    """Store() creates an empty database with create_all + stamp (fast); it must equal the migrations."""
    store = Store(store_url)
    with store.engine.connect() as connection:
        created = schema(connection)
        assert migrate.current(connection) == migrate.head()
        assert differences(connection) == []
    drop_everything(store.engine)
    migrate.upgrade(store.engine)
    with store.engine.connect() as connection:
        assert schema(connection) == created
    store.dispose()


def test_an_older_store_is_upgraded_in_place_without_loss(store_url: str, project: Path) -> None:
    old = Store(store_url, create=False)
    migrate.upgrade(old.engine, migrate.BASELINE)
    fill(old)
    before = rows(old.engine)
    old.dispose()

    with pytest.raises(StoreError, match=f"revision 0001, this hub needs {HEAD}.*hub db upgrade"):
        Store(store_url)

    hub = config_for(project, store_url)
    shown = hub("db", "current")
    assert f"Schema revision 0001, behind head {HEAD}" in shown.output
    assert "hub db upgrade" in shown.output
    upgraded = hub("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"Schema upgraded: 0001 → {HEAD} (head)" in upgraded.output

    store = Store(store_url)
    assert rows(store.engine, like=before) == before
    assert sum(len(v) for _, v in before.values()) == 1 + 3 + 4 + 12 + 1
    with store.engine.connect() as connection:
        assert differences(connection) == []
        assert NEW_INDEX in {i["name"] for i in inspect(connection).get_indexes("deliveries")}
    store.dispose()
    assert hub("db", "current").output.strip() == f"Schema revision {HEAD} (head): up to date."
    assert hub("db", "upgrade").output.strip() == f"Schema already at {HEAD} (head); nothing to do."


def test_a_store_from_before_migrations_is_recognised_and_upgraded(store_url: str, project: Path) -> None:
    # What 0.1.0 did on open: create_all of its tables (revision 0001's schema), no version table.
    engine = create_engine(store_url)
    migrate.upgrade(engine, migrate.BASELINE)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {migrate.VERSION_TABLE}"))
    engine.dispose()
    old = Store(store_url, create=False)
    fill(old)
    before = rows(old.engine)
    old.dispose()

    with pytest.raises(StoreError, match="from before schema migrations.*hub db upgrade"):
        Store(store_url)
    hub = config_for(project, store_url)
    current = hub("db", "current", "--check")
    assert current.exit_code == 1
    assert "a database from before migrations" in current.output
    upgraded = hub("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"0001 (recognised: a database from before migrations) → {HEAD} (head)" in upgraded.output

    store = Store(store_url)
    assert rows(store.engine, like=before) == before
    with store.engine.connect() as connection:
        assert differences(connection) == []
    store.dispose()


def test_a_pre_migration_store_missing_columns_is_refused_unchanged(project: Path, store_url: str) -> None:
    url = store_url
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE subscribers (id INTEGER PRIMARY KEY, phone VARCHAR)"))
    engine.dispose()
    upgraded = config_for(project, url)("db", "upgrade")
    assert upgraded.exit_code == 1
    assert "lacks alerts" in upgraded.output and "Traceback" not in upgraded.output
    engine = create_engine(url)
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == ["subscribers"]
    engine.dispose()


def test_a_store_upgraded_by_a_newer_hub_is_refused(project: Path, store_url: str) -> None:
    url = store_url
    Store(url).dispose()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(StoreError, match="0099, unknown to this hub"):
        Store(url)
    hub = config_for(project, url)
    assert "unknown to this hub" in hub("db", "current").output
    refused = hub("db", "upgrade")
    assert refused.exit_code == 1 and "a newer hub has upgraded it" in refused.output


def test_db_history_lists_the_revisions_and_marks_the_database(project: Path, store_url: str) -> None:
    url = store_url
    hub = config_for(project, url)
    assert "Empty database" in hub("db", "current").output
    Store(url).dispose()
    lines = hub("db", "history").output.splitlines()
    assert lines[0].startswith("0001  The schema of 0.1.0")
    assert lines[1].startswith("0002  Index deliveries by (subscriber_id, status)")
    assert lines[2].startswith("0003  The brake")
    assert lines[-1].startswith(HEAD) and lines[-1].endswith("(head, current)")


def test_autogenerate_writes_scripts_that_import_and_rebuild_the_models(tmp_path: Path,
                                                                       store_url: str) -> None:
    """A new revision generated from the models renders our column types importably."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for old in (scripts / "versions").glob("*.py"):
        old.unlink()
    engine = create_engine(store_url)
    with engine.begin() as connection:
        config = migrate.alembic_config(connection)
        config.set_main_option("script_location", str(scripts))
        command.revision(config, message="everything", autogenerate=True, rev_id="aaaa")
    generated = next((scripts / "versions").glob("aaaa_*.py"))
    source = generated.read_text()
    assert "hub.storage.tables.UTCDateTime()" in source and "import hub.storage.tables" in source
    assert "AutoString" not in source and "sqlmodel" not in source
    spec = importlib.util.spec_from_file_location("generated_revision", generated)
    assert spec and spec.loader
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    with engine.begin() as connection:
        config = migrate.alembic_config(connection)
        config.set_main_option("script_location", str(scripts))
        command.upgrade(config, "head")
        assert differences(connection) == []
    engine.dispose()


def test_processes_opening_an_empty_database_at_once_create_it_once(store_url: str) -> None:
    """Workers starting together: the schema lock makes one create it, the others find it at head."""
    from concurrent.futures import ThreadPoolExecutor

    def open_store(_: int) -> str | None:
        store = Store(store_url)
        with store.engine.connect() as connection:
            revision = migrate.current(connection)
        store.dispose()
        return revision

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_store, range(4))) == [migrate.head()] * 4


def test_db_commands_on_an_unreachable_database_say_so_in_one_line(
        project: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if store_url.startswith("postgresql"):  # no server listens on port 1
        monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://hub@127.0.0.1:1/none")
    hub = config_for(project, f"sqlite:///{project / 'no-such-dir' / 'hub.db'}")
    for command_name in ("upgrade", "current", "history"):
        result = hub("db", command_name)
        assert result.exit_code == 1
        assert "cannot migrate or read the schema" in result.output and "Traceback" not in result.output


def test_a_store_of_the_current_release_keeps_every_subscriber_and_gains_people_without_numbers(
        store_url: str, project: Path) -> None:
    """Revision 0008: the number becomes optional, business-scoped user ids get their own table."""
    from hub.storage.tables import PersonIdRow

    old = Store(store_url, create=False)
    migrate.upgrade(old.engine, "0003")
    fill(old)
    before = rows(old.engine)
    old.dispose()
    upgraded = config_for(project, store_url)("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"Schema upgraded: 0003 → {HEAD} (head)" in upgraded.output

    store = Store(store_url)
    assert rows(store.engine, like=before) == before
    with store.write() as session:
        numbers = sorted(p.phone or "" for p in session.exec(select(SubscriberRow)).scalars())
        assert numbers == ["34600000000", "34600000001", "34600000002"]
        person = SubscriberRow(phone=None, user_id="ES.1349", username="@ana", created_at=NOW)
        session.add(person)
        session.flush()
        session.add(PersonIdRow(subscriber_id=person.id, kind="bsuid", value="ES.1349", seen_at=NOW))
    with store.read() as session:
        assert session.exec(select(PersonIdRow)).scalars().one().subscriber_id == person.id
    store.dispose()


def test_the_suites_prebuilt_postgresql_schema_is_the_one_the_hub_builds(pg_schemas) -> None:
    """The suite gives PostgreSQL tests a schema built from a compiled script (speed): it must be
    exactly what the hub makes of an empty schema, or every other test would test something else."""
    built, made = pg_schemas.new(built=True), pg_schemas.new()
    Store(made).engine.dispose()

    def shape(url: str) -> tuple[object, ...]:
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                found = inspect(connection)
                return (MigrationContext.configure(connection).get_current_revision(),
                        sorted((t, sorted((c["name"], str(c["type"]), c["nullable"])
                                          for c in found.get_columns(t)),
                                sorted(str(sorted(i.items())) for i in found.get_indexes(t)),
                                sorted(str(sorted(u.items())) for u in found.get_unique_constraints(t)),
                                found.get_pk_constraint(t)["constrained_columns"])
                               for t in found.get_table_names()))
        finally:
            engine.dispose()

    assert shape(built) == shape(made)


def test_the_newest_file_name_is_alembics_head() -> None:
    """Opening a store at the newest revision skips Alembic on the strength of this."""
    from hub.storage.revision import newest_revision

    assert newest_revision() == migrate.head()
