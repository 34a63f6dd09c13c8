"""The store: WAL SQLite, writes that wait their turn instead of failing, aware UTC times."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

from sqlmodel import select

from hub.audience.consent import record_opt_in
from hub.config import resolve_database_url
from hub.storage.store import Store
from hub.storage.tables import ConsentEventRow, SubscriberRow
from tests.backend import sqlite_only


@sqlite_only("WAL is SQLite's journal mode; PostgreSQL has no equivalent setting")
def test_sqlite_file_is_created_in_wal_mode(tmp_path) -> None:
    Store(f"sqlite:///{tmp_path / 'hub.db'}")
    db = sqlite3.connect(tmp_path / "hub.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sources", "items", "subscribers", "consent_events", "deliveries"} <= tables


def test_relative_sqlite_path_is_relative_to_the_config(tmp_path) -> None:
    url = resolve_database_url("sqlite:///data/hub.db", tmp_path)
    assert url == f"sqlite:///{tmp_path / 'data' / 'hub.db'}"
    assert resolve_database_url("postgresql+psycopg://u@h/db", tmp_path).startswith("postgresql")


def test_concurrent_read_then_write_transactions_all_succeed(store_url) -> None:
    """Deferred transactions fail with 'database is locked' here; IMMEDIATE ones queue."""
    url = store_url
    stores = [Store(url) for _ in range(4)]
    now = datetime(2026, 3, 1, tzinfo=UTC)
    errors: list[BaseException] = []

    def writer(store: Store, offset: int) -> None:
        try:
            for i in range(25):
                with store.write() as session:
                    count = len(session.exec(select(SubscriberRow.id)).all())  # read first
                    record_opt_in(session, f"3460{offset}{i:05d}", now, channel="cli",
                                  note=f"seen {count}")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with stores[0].read() as session:
        assert len(session.exec(select(SubscriberRow)).all()) == 100
        assert len(session.exec(select(ConsentEventRow)).all()) == 100
    for store in stores:
        store.dispose()


def test_times_come_back_aware_and_utc(store_url) -> None:
    store = Store(store_url)
    madrid_morning = datetime(2026, 10, 25, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    with store.write() as session:
        record_opt_in(session, "34611111111", madrid_morning, channel="cli", note="test")
    with store.read() as session:
        row = session.exec(select(SubscriberRow)).one()
    assert row.opted_in_at == madrid_morning
    assert row.opted_in_at.tzinfo is not None and row.opted_in_at.utcoffset() == timedelta(0)


def test_failed_write_leaves_nothing(store_url) -> None:
    store = Store(store_url)
    try:
        with store.write() as session:
            record_opt_in(session, "34611111111", datetime.now(UTC), channel="cli", note="x")
            raise RuntimeError("crash mid-transaction")
    except RuntimeError:
        pass
    with store.read() as session:
        assert session.exec(select(SubscriberRow)).all() == []
