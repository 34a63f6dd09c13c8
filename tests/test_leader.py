"""One scheduler at a time; when it goes away, another process takes over."""

from __future__ import annotations

from sqlalchemy import text

from hub.leader import Leadership
from hub.storage.store import Store


def test_only_one_holder_and_takeover_after_it_goes(store_url) -> None:
    first, second = Store(store_url), Store(store_url)
    a = Leadership(first.engine, store_url)
    b = Leadership(second.engine, store_url)
    try:
        assert a.held() is True
        assert b.held() is False
        assert a.held() is True, "the holder keeps it on every check"
        a.release()  # what the end of a process does to its session or file
        assert b.held() is True
        assert a.held() is False
    finally:
        a.release()
        b.release()
        first.dispose()
        second.dispose()


def test_a_dead_connection_loses_the_lock_and_frees_it(store_url) -> None:
    if not store_url.startswith("postgresql"):
        return  # SQLite's lock is a file lock: nothing to lose but the process
    first, second = Store(store_url), Store(store_url)
    a, b = Leadership(first.engine, store_url), Leadership(second.engine, store_url)
    try:
        assert a.held()
        pid = a._connection.execute(text("SELECT pg_backend_pid()")).scalar()
        with second.engine.connect() as admin:  # the server ends a's session (a network cut, a kill)
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert a.held() is False
        assert b.held() is True
    finally:
        a.release()
        b.release()
        first.dispose()
        second.dispose()


def test_hubs_in_different_schemas_of_one_database_each_lead(pg_schemas) -> None:
    """Several deployments on one PostgreSQL database, one schema each: one scheduler per schema."""
    urls = [pg_schemas.new(), pg_schemas.new()]
    stores = [Store(url) for url in (*urls, urls[0])]
    holders = [Leadership(store.engine, store.url) for store in stores]
    try:
        assert [h.held() for h in holders] == [True, True, False]
        assert [h.held() for h in holders] == [True, True, False], "each keeps its own lock"
        holders[0].release()
        assert holders[2].held() is True, "the same schema's other hub takes over"
        assert holders[1].held() is True
    finally:
        for holder, store in zip(holders, stores, strict=True):
            holder.release()
            store.dispose()
