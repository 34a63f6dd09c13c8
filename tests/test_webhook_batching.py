"""Posts that arrive together are committed together, and end exactly where one-by-one would."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select

from hub.audience.consent import record_opt_in
from hub.audience.inbound import Audience
from hub.contracts import callback_for
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, StatusEventRow
from hub.timekeeping.clock import FakeClock
from hub.web.group_commit import GroupCommit
from hub.web.signature import HEADER, sign
from hub.web.webhook import Inbox
from hub.web.webhook_parse import parse
from tests.audience_kit import PHONE, SECRET, TOPICS, Hub, snapshot, status, text_message
from tests.backend import PgSchemas

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _deliveries(store: Store, count: int, *, without_wamid: int = 0) -> list[int]:
    """``count`` sent deliveries with wamids ``wamid.N``; the last ``without_wamid`` are in doubt
    (a claim whose answer was lost: no wamid yet, only the callback id can name them)."""
    with store.write() as session:
        person = record_opt_in(session, PHONE, T0, channel="cli", note="test")
        rows = [DeliveryRow(key=f"k{n}", subscriber_id=person.id, body={"kind": "item", "text": "hi"},
                            status="sending" if n >= count - without_wamid else "sent",
                            wamid=None if n >= count - without_wamid else f"wamid.{n}",
                            attempts=1, created_at=T0, due_at=T0)
                for n in range(count)]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows if r.id is not None]


def test_a_burst_of_concurrent_posts_is_all_stored_in_fewer_transactions(hub: Hub) -> None:
    ids = _deliveries(hub.store, 200)
    posts = [status(f"wamid.{n}", state, T0 + timedelta(minutes=minute))
             for n in range(len(ids)) for minute, state in enumerate(("sent", "delivered", "read"), 1)]
    random.Random(7).shuffle(posts)
    bodies = [json.dumps(p).encode() for p in posts]

    async def post_all() -> list[int]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=hub.server.base_url, limits=limits, timeout=30) as client:

            async def post(body: bytes) -> int:
                # As Meta does, a post whose connection broke is posted again: on a loaded machine a
                # kept-alive connection may close just as it is reused. A replay changes nothing.
                for attempt in range(3):
                    try:
                        signed = {HEADER: sign(body, SECRET)}
                        return (await client.post("/webhook", content=body, headers=signed)).status_code
                    except httpx.TransportError:
                        if attempt == 2:
                            raise
                raise AssertionError("unreachable")

            return list(await asyncio.gather(*[post(b) for b in bodies]))

    assert asyncio.run(post_all()) == [200] * len(posts)
    rows = hub.deliveries()
    assert {r.status for r in rows} == {"read"}
    assert {(r.sent_at, r.delivered_at, r.read_at) for r in rows} == {
        (T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), T0 + timedelta(minutes=3))}
    with hub.store.read() as session:
        assert len(session.exec(select(StatusEventRow)).all()) == len(posts)
    assert hub.app.state.group_commit.batches < len(posts)


def _random_posts(rng: random.Random, ids: list[int], count: int) -> list[dict[str, Any]]:
    """Statuses as Meta might send them: repeats, any order, failures with codes that retry,
    switch to the template or wait, statuses naming an in-doubt delivery by its callback id only,
    statuses for wamids nobody knows yet — and now and then a person writing."""
    posts = []
    for _ in range(count):
        n = rng.randrange(len(ids) + 2)  # two wamids that match no delivery
        wamid = f"wamid.{n}" if rng.random() < 0.8 else f"wamid.late{n}"
        when = T0 + timedelta(seconds=rng.randrange(600))
        state = rng.choice(["sent", "delivered", "read", "read", "failed"])
        opaque = callback_for(ids[n]) if n < len(ids) and rng.random() < 0.5 else None
        errors = None
        if state == "failed":
            errors = [{"code": rng.choice([131026, 131000, 131047, 131056, 131050]), "title": "x"}]
        posts.append(status(wamid, state, when, opaque, errors))
        if rng.random() < 0.05:
            posts.append(text_message(rng.choice(["ALTA", "BAJA", "hola"]), when=when))
    return posts


@pytest.fixture
def two_store_urls(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """This run's store and a second, empty one on the same backend."""
    if database_url.startswith("sqlite"):
        yield database_url, f"sqlite:///{tmp_path / 'second.db'}"
        return
    schemas = PgSchemas()
    try:
        yield database_url, schemas.new()
    finally:
        schemas.drop_all()


@pytest.mark.parametrize("seed", range(12))
def test_a_batch_ends_exactly_where_the_same_posts_one_by_one_end(two_store_urls: tuple[str, str],
                                                                  seed: int) -> None:
    rng = random.Random(seed)
    stores = [Store(url) for url in two_store_urls]
    for store in stores:
        _deliveries(store, 6, without_wamid=2)
    posts = [parse(json.dumps(p).encode(), T0) for p in _random_posts(rng, list(range(1, 7)), 40)]
    batched, one_by_one = (Inbox(s, Audience(_audience(), ZoneInfo("Europe/Madrid")), FakeClock(T0))
                           for s in stores)
    effects = batched.accept_many(posts)
    alone = [one_by_one.accept(p) for p in posts]
    assert [(e.statuses, e.repeats, e.deliveries) for e in effects] == [
        (e.statuses, e.repeats, e.deliveries) for e in alone]
    assert _rows(stores[0]) == _rows(stores[1])
    for store in stores:
        store.dispose()


def _rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order (PostgreSQL returns updated rows in any order)."""
    return {table: sorted(rows, key=lambda row: row[0]) for table, rows in snapshot(store).items()}


def _audience() -> Any:
    from hub.config import AudienceConfig

    return AudienceConfig(topics=TOPICS)


def test_one_failing_post_gets_its_own_error_and_the_others_are_stored() -> None:
    committed: list[list[str]] = []

    def commit(items: list[str]) -> list[str]:
        if "poison" in items:
            raise RuntimeError("cannot store this one")
        committed.append(items)
        return [f"stored {i}" for i in items]

    group: GroupCommit[str, str] = GroupCommit(commit)

    async def submit_together() -> list[Any]:
        return await asyncio.gather(*[group.submit(i) for i in ("a", "poison", "b", "c")],
                                    return_exceptions=True)

    outcomes = asyncio.run(submit_together())
    assert outcomes[0] == "stored a" and outcomes[2:] == ["stored b", "stored c"]
    assert isinstance(outcomes[1], RuntimeError)
    assert sorted(i for batch in committed for i in batch) == ["a", "b", "c"]


@pytest.mark.parametrize("together", [False, True], ids=["one by one", "in one batch"])
def test_a_status_that_came_before_its_wamid_was_known_is_applied_once_it_is(
        database_url: str, together: bool) -> None:
    store = Store(database_url)
    [in_doubt] = _deliveries(store, 1, without_wamid=1)
    inbox = Inbox(store, Audience(_audience(), ZoneInfo("Europe/Madrid")), FakeClock(T0))
    early = parse(json.dumps(status("wamid.X", "read", T0 + timedelta(minutes=2))).encode(), T0)
    naming = parse(json.dumps(status("wamid.X", "sent", T0, callback_for(in_doubt))).encode(), T0)
    if together:
        inbox.accept_many([early, naming])
    else:
        inbox.accept(early)
        inbox.accept(naming)
    with store.read() as session:
        row = session.get(DeliveryRow, in_doubt)
        events = session.exec(select(StatusEventRow).order_by(StatusEventRow.id)).all()
    assert (row.wamid, row.status, row.read_at) == ("wamid.X", "read", T0 + timedelta(minutes=2))
    assert [(e.status, e.delivery_id) for e in events] == [("read", in_doubt), ("sent", in_doubt)]
    store.dispose()
