"""The webhook under fire: thousands of generated hostile requests, never a 5xx, never a stray row.

Hypothesis builds the requests: random bytes, random JSON, and the real samples from
``../shared/whatsapp-samples/`` mutated (fields removed, retyped, nested deeper, huge or odd
unicode strings, huge numbers), sent unsigned, wrongly signed or signed, oversized, with wrong
content types and methods. The volume goes straight into the real ASGI app in-process (the subject
is the app's request handling); a smaller run goes over a real socket on loopback.

Properties:
- no answer is ever 5xx;
- unsigned or wrongly signed → 401 and every row of every table as it was;
- signed but not a webhook → 400 and nothing changed; signed webhook of an odd shape → 200;
- any accepted post, sent again, changes nothing.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel, select

from hub.audience.consent import record_opt_in
from hub.config import AudienceConfig
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, InboundMessageRow
from hub.timekeeping.clock import FakeClock
from hub.web.signature import HEADER, sign
from hub.web.webhook import build_app
from tests.audience_kit import SECRET, TOKEN, TOPICS, Switch, envelope, snapshot
from tests.backend import db_url
from tests.conftest import SHARED

LIMIT = 64 * 1024  # a small body limit, so oversized bodies stay cheap to generate
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


# --- an in-process ASGI caller -------------------------------------------------------------------

class Caller:
    """Sends one request to an ASGI app and returns (status, body), with the body in chunks."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.runner = asyncio.Runner()

    def close(self) -> None:
        self.runner.close()

    def __call__(self, method: str, body: bytes = b"", headers: dict[str, str] | None = None,
                 path: str = "/webhook", query: bytes = b"", chunk: int = 0,
                 length: str | None = "auto") -> tuple[int, bytes]:
        return self.runner.run(self._call(method, body, headers or {}, path, query, chunk, length))

    async def _call(self, method: str, body: bytes, headers: dict[str, str], path: str, query: bytes,
                    chunk: int, length: str | None) -> tuple[int, bytes]:
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if length == "auto":
            raw.append((b"content-length", str(len(body)).encode()))
        elif length is not None:  # a lying or broken Content-Length
            raw.append((b"content-length", length.encode("latin-1")))
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
                 "root_path": "", "headers": raw, "client": ("127.0.0.1", 50000),
                 "server": ("127.0.0.1", 8080)}
        step = max(chunk, len(body) // 64, 1) if chunk else max(len(body), 1)  # at most ~64 chunks
        parts = [body[i:i + step] for i in range(0, len(body), step)] or [b""]
        messages = iter([{"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
                         for i, p in enumerate(parts)])
        answer: dict[str, Any] = {"status": None, "body": b""}

        async def receive() -> dict[str, Any]:
            return next(messages, {"type": "http.disconnect"})

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        assert answer["status"] is not None, "the app sent no answer"
        return answer["status"], answer["body"]


class World:
    """The real webhook app over a real store (this run's backend) with a person and a sent delivery in it."""

    def __init__(self, path: Path) -> None:
        self.clock = FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        self.store = Store(db_url(path))
        now = self.clock.now()
        with self.store.write() as session:
            person = record_opt_in(session, "34612345678", now, channel="cli", note="fuzz")
            session.add(DeliveryRow(key="fuzz", subscriber_id=person.id, body={"kind": "item", "text": "x"},
                                    status="sent", wamid="wamid.fuzz", created_at=now, due_at=now,
                                    sent_at=now))
        self.app = build_app(self.store, AudienceConfig(topics=TOPICS), ZoneInfo("Europe/Madrid"),
                             app_secret=SECRET, verify_token=TOKEN, max_body_bytes=LIMIT, clock=self.clock)
        self.call = Caller(self.app)
        self._count_writes()

    def _count_writes(self) -> None:
        """Triggers that count every insert, update and delete in every table: a cheap, exact
        "did this request write anything" for thousands of requests (snapshots confirm at the end)."""
        with self.store.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE fuzz_writes (n INTEGER NOT NULL)")
            connection.exec_driver_sql("INSERT INTO fuzz_writes VALUES (0)")
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(
                    "CREATE FUNCTION fuzz_count() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN UPDATE fuzz_writes SET n = n + 1; RETURN NULL; END $$")
            for table in SQLModel.metadata.sorted_tables:
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql(
                        f'CREATE TRIGGER "fuzz_{table.name}" AFTER INSERT OR UPDATE OR DELETE '
                        f'ON "{table.name}" FOR EACH ROW EXECUTE FUNCTION fuzz_count()')
                    continue
                for event in ("INSERT", "UPDATE", "DELETE"):
                    connection.exec_driver_sql(
                        f'CREATE TRIGGER "fuzz_{table.name}_{event}" AFTER {event} ON "{table.name}" '
                        "BEGIN UPDATE fuzz_writes SET n = n + 1; END")

    def writes(self) -> int:
        with self.store.engine.connect() as connection:
            return connection.exec_driver_sql("SELECT n FROM fuzz_writes").scalar_one()

    def post(self, body: bytes, signature: str | None, content_type: str = "application/json",
             **kwargs: Any) -> int:
        headers = {"content-type": content_type}
        if signature is not None:
            headers[HEADER] = signature
        status, _ = self.call("POST", body, headers, **kwargs)
        return status

    def close(self) -> None:
        self.call.close()
        self.store.dispose()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path / "hub.db")
    yield made
    made.close()


# --- strategies ----------------------------------------------------------------------------------

def _samples() -> list[dict[str, Any]]:
    folder = SHARED / "whatsapp-samples"  # absent: the fuzzing runs on generated bodies only
    if not folder.is_dir():
        return []
    return [json.loads(p.read_bytes()) for p in sorted(folder.rglob("*.json"))]  # bsuid/ too


SAMPLES = _samples()
WEBHOOK_SAMPLES = [s for s in SAMPLES if isinstance(s, dict) and "entry" in s]

odd_text = st.one_of(
    st.text(max_size=40),  # any code point, lone surrogates included
    st.sampled_from(["", " ", "\x00", "\ud800", "🙂" * 50, "ALTA", "BAJA", "TEMAS", "¿POR QUÉ?",
                     "hub:topic:deportes", "hub:unsubscribe", "hub:weekly", "hub:pause",
                     "hub:delivery:1", "hub:delivery:-1", "hub:delivery:99999999999999999999",
                     "1", "0", "-1", "1e400", "NaN", "wamid.fuzz", "34612345678", "+34 612 345 678"]),
)
scalars = st.one_of(
    st.none(), st.booleans(), odd_text,
    st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([2**63, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(odd_text, inner, max_size=4)), max_leaves=20)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a JSON value (as a key path)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def mutated_samples(draw: st.DrawFn) -> Any:
    """A real webhook sample with 1-4 mutations at random places."""
    data = copy.deepcopy(draw(st.sampled_from(WEBHOOK_SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["remove", "retype", "nest", "huge", "unicode", "number", "list"]))
        if not path:  # the whole document
            data = draw(json_values) if how == "retype" else [data] if how == "list" else data
            continue
        parent, key = _get(data, path[:-1]), path[-1]
        old = parent[key]
        if how == "remove":
            parent.pop(key)
        elif how == "retype":
            parent[key] = draw(json_values)
        elif how == "nest":
            parent[key] = {"value": old} if draw(st.booleans()) else [old]
        elif how == "huge":
            parent[key] = draw(st.sampled_from(["x", "é", "🙂", "\u202e", "<b>"])) * draw(
                st.sampled_from([1_000, 10_000, 20_000]))
        elif how == "unicode":
            parent[key] = draw(st.text(min_size=1, max_size=30))
        elif how == "number":
            parent[key] = draw(st.sampled_from([2**64, -(2**63) - 1, 1e308, float("inf"), float("nan"),
                                                -1, 0, 1.5, 10**30]))
        elif how == "list":
            parent[key] = [old, copy.deepcopy(old)]
    return data


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"", b"{}", b"[]", b"null", b"{\"entry\": null}", b"{\"entry\": [1]}",
                     b"{\"object\": \"page\", \"entry\": []}", b"{\"entry\": [{\"changes\": [1]}]}",
                     b"\xef\xbb\xbf{}", b"{\"entry\":" * 2000, b"[" * 60_000]),
    *([mutated_samples().map(lambda v: json.dumps(v).encode())] if WEBHOOK_SAMPLES else []),
)
content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "", "application/json; charset=latin-1"])


@st.composite
def bad_signatures(draw: st.DrawFn, body: bytes) -> str | None:
    good = sign(body, SECRET)
    return draw(st.one_of(
        st.none(),
        st.sampled_from(["", "sha256=", "sha1=" + good[7:47], good.upper(), good[:-1], good + "0",
                         " " + good[1:], "sha256=" + "0" * 64, good.replace("sha256=", "")]),
        st.just(sign(body, "another-secret")),
        st.just(sign(body + b" ", SECRET)),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    ))


# --- the properties ------------------------------------------------------------------------------

def test_unsigned_and_wrongly_signed_requests_get_401_and_change_no_row(world: World) -> None:
    before = snapshot(world.store)
    seen: dict[int, int] = {}

    @settings(FUZZ, max_examples=1200)
    @given(data=st.data(), body=bodies, content_type=content_types, chunk=st.sampled_from([0, 1, 7, 4096]))
    def attempt(data: st.DataObject, body: bytes, content_type: str, chunk: int) -> None:
        signature = data.draw(bad_signatures(body))
        status = world.post(body, signature, content_type, chunk=chunk)
        seen[status] = seen.get(status, 0) + 1
        assert status == (413 if len(body) > LIMIT else 401), (status, signature, body[:200])

    attempt()
    assert snapshot(world.store) == before and world.writes() == 0
    assert seen.get(401, 0) > 1000


def test_signed_malformed_requests_get_400_or_are_stored_and_ignored_and_a_replay_changes_nothing(
        world: World) -> None:
    seen: dict[int, int] = {}

    @settings(FUZZ, max_examples=1200)
    @given(body=bodies, content_type=content_types, chunk=st.sampled_from([0, 3, 4096]))
    def attempt(body: bytes, content_type: str, chunk: int) -> None:
        before = world.writes()
        status = world.post(body, sign(body, SECRET), content_type, chunk=chunk)
        seen[status] = seen.get(status, 0) + 1
        assert status in (200, 400, 413), (status, body[:300])
        if status != 200:
            assert world.writes() == before, body[:300]
            return
        after = world.writes()
        assert world.post(body, sign(body, SECRET), content_type) == 200  # Meta repeats posts
        assert world.writes() == after, ("the repeat wrote", body[:300])

    attempt()
    assert seen.get(400, 0) > 100, seen
    if WEBHOOK_SAMPLES:  # mutated real samples: many are still valid webhooks, stored once
        assert seen.get(200, 0) > 50, seen
        assert world.writes() > 0  # the counter does see what accepted posts store


def test_oversized_bodies_get_413_whatever_the_declared_length(world: World) -> None:
    before = snapshot(world.store)

    @settings(FUZZ, max_examples=150)
    @given(extra=st.integers(1, 3 * LIMIT), signed=st.booleans(), chunk=st.sampled_from([0, 1024, 65536]),
           length=st.sampled_from(["auto", None, "10", "0", "-5", "abc", "99999999999999999999"]))
    def attempt(extra: int, signed: bool, chunk: int, length: str | None) -> None:
        body = b'{"entry": [' + b" " * (LIMIT + extra) + b"]}"
        status = world.post(body, sign(body, SECRET) if signed else None, chunk=chunk, length=length)
        assert status == 413, (status, len(body), length)

    attempt()
    assert snapshot(world.store) == before


def test_other_methods_paths_and_handshakes_get_4xx_and_change_nothing(world: World) -> None:
    before = snapshot(world.store)

    @settings(FUZZ, max_examples=400)
    @given(method=st.sampled_from(["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "GET", "HEAD", "FOO"]),
           path=st.sampled_from(["/webhook", "/webhook/", "/", "/webhook/../webhook", "/WEBHOOK", "/x"]),
           query=st.binary(max_size=80), body=st.binary(max_size=200))
    def attempt(method: str, path: str, query: bytes, body: bytes) -> None:
        headers = {HEADER: sign(body, SECRET), "content-type": "application/json"}
        status, _ = world.call(method, body, headers, path=path, query=query)
        assert 400 <= status < 500, (method, path, query, status)

    attempt()
    assert snapshot(world.store) == before


def test_a_replayed_signed_sample_changes_nothing_the_second_time(world: World, shared: Path) -> None:
    for path in sorted((shared / "whatsapp-samples").rglob("*.json")):
        raw = path.read_bytes()
        first = world.post(raw, sign(raw, SECRET))
        assert first in (200, 400), path.name
        after = snapshot(world.store)
        assert world.post(raw, sign(raw, SECRET)) == first, path.name
        assert snapshot(world.store) == after, path.name


def test_fuzzing_over_a_real_socket_on_loopback(tmp_path: Path, loopback: Switch) -> None:
    made = World(tmp_path / "hub.db")
    loopback.target = made.app
    before = snapshot(made.store)
    with httpx.Client(base_url=loopback.base_url, timeout=10) as client:

        @settings(FUZZ, max_examples=150)
        @given(body=bodies, data=st.data())
        def attempt(body: bytes, data: st.DataObject) -> None:
            signature = data.draw(bad_signatures(body))
            headers = {"content-type": "application/json"}
            if signature is not None:
                headers[HEADER] = signature.strip()  # h11 sends no padded header value
            response = client.post("/webhook", content=body, headers=headers)
            assert response.status_code == (413 if len(body) > LIMIT else 401), response.text

        attempt()
    assert snapshot(made.store) == before
    made.close()


# --- regressions: each 500 the fuzzing found, pinned ---------------------------------------------

def test_a_signature_header_with_non_ascii_characters_gets_401_not_500(world: World,
                                                                      loopback: Switch) -> None:
    body = b'{"entry": []}'
    assert world.post(body, "sha256=\xe9" + sign(body, SECRET)[8:]) == 401  # raised TypeError
    loopback.target = world.app  # the same over a real socket: uvicorn hands the byte on as latin-1
    with httpx.Client(base_url=loopback.base_url, timeout=10) as client:
        response = client.post("/webhook", content=body, headers={HEADER: b"sha256=\xe9\xff"})
    assert response.status_code == 401
    assert world.writes() == 0


def test_json_nested_thousands_deep_gets_400_not_500(world: World) -> None:
    for body in (b'{"entry":' * 5000, b"[" * 60_000, json.dumps({"entry": [{"changes": [
            {"value": {"messages": [{"id": "x", "type": "text", "text": {"a": [[[[[[[[[[]]]]]]]]]]}}]}}]}],
            "deep": json.loads("[" * 70 + "]" * 70)}).encode()):
        assert world.post(body, sign(body, SECRET)) == 400  # raised RecursionError
    assert world.writes() == 0


def test_a_lone_surrogate_is_stored_as_a_replacement_character_not_a_500(world: World) -> None:
    payload = envelope({"contacts": [{"wa_id": "34600000001", "profile": {"name": "Ana \ud83d"}}],
                        "messages": [{"from": "34600000001", "id": "wamid.lone", "timestamp": "1772445600",
                                      "type": "text", "text": {"body": "hola \udc00 \U0001f600"}}]})
    body = json.dumps(payload).encode()  # '\\ud83d' in the bytes, as a careless sender writes it
    assert world.post(body, sign(body, SECRET)) == 200  # raised UnicodeEncodeError in the store
    with world.store.read() as session:
        row = session.exec(select(InboundMessageRow)
                           .where(InboundMessageRow.message_id == "wamid.lone")).one()
    assert (row.text, row.name) == ("hola \ufffd \U0001f600", "Ana \ufffd")
    writes = world.writes()
    assert world.post(body, sign(body, SECRET)) == 200 and world.writes() == writes


def test_a_trailing_slash_or_a_bad_query_gets_404_not_a_redirect_or_500(world: World) -> None:
    for query in (b"", b"\x80", b"hub.mode=subscribe"):
        status, _ = world.call("POST", b"{}", {HEADER: sign(b"{}", SECRET)}, path="/webhook/", query=query)
        assert status == 404  # was a 307, and a 500 when the query was not UTF-8


# --- issue 18: signed payloads that answered 500 (each must be 200, stored, or 400) --------------

def _preference(detail: Any) -> bytes:
    return json.dumps(envelope({"user_preferences": [{
        "wa_id": "34600000002", "detail": detail, "category": "marketing_messages", "value": "stop",
        "timestamp": 1772445600}]}, "user_preferences")).encode()


def _inbound_rows(world: World) -> list[InboundMessageRow]:
    with world.store.read() as session:
        return list(session.exec(select(InboundMessageRow)).all())


@pytest.mark.parametrize("detail", [10**30, {"why": ["x"]}, [1, 2], 1.5, True])
def test_a_user_preference_with_an_odd_detail_is_stored_not_a_500(world: World, detail: Any) -> None:
    body = _preference(detail)
    assert world.post(body, sign(body, SECRET)) == 200
    rows = _inbound_rows(world)
    assert [(r.type, r.text) for r in rows] == [("user_preferences", None)]
    assert world.post(body, sign(body, SECRET)) == 200 and len(_inbound_rows(world)) == 1


def test_an_encoded_surrogate_in_a_text_body_is_stored_not_a_500(world: World) -> None:
    body = (b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
            b'"value":{"messages":[{"from":"34600000003","id":"wamid.cesu","timestamp":"1772445600",'
            b'"type":"text","text":{"body":"hola \xed\xa0\x80 fin"}}]}}]}]}')
    status = world.post(body, sign(body, SECRET))
    assert status in (200, 400)
    rows = _inbound_rows(world)
    if status == 200:
        assert [r.message_id for r in rows] == ["wamid.cesu"] and "\ufffd" in (rows[0].text or "")
    else:
        assert rows == []


def test_a_numeric_callback_data_too_big_for_an_id_is_stored_not_a_500(world: World) -> None:
    for opaque in ("99999999999999999999", "2147483648", "9999999999", "-99999999999999999999",
                   "hub:delivery:99999999999999999999",
                   99999999999999999999):
        body = json.dumps(envelope({"statuses": [{
            "id": "wamid.fuzz", "status": "read", "timestamp": "1772445600", "recipient_id": "34612345678",
            "biz_opaque_callback_data": opaque}]})).encode()
        assert world.post(body, sign(body, SECRET)) == 200, opaque


def test_nul_characters_in_a_text_are_stored_not_a_500(world: World) -> None:
    payload = envelope({"contacts": [{"wa_id": "34600000004", "profile": {"name": "A\u0000na"}}],
                        "messages": [{"from": "34600000004", "id": "wamid.nul", "timestamp": "1772445600",
                                      "type": "text", "text": {"body": "ho\u0000la"}}]})
    body = json.dumps(payload).encode()
    assert world.post(body, sign(body, SECRET)) == 200
    rows = _inbound_rows(world)
    assert [(r.message_id, r.text, r.name) for r in rows] == [("wamid.nul", "ho\ufffdla", "A\ufffdna")]


@pytest.mark.parametrize("field_name", ["id", "from"])
def test_a_9000_character_wamid_or_sender_is_stored_or_refused_not_a_500(world: World,
                                                                         field_name: str) -> None:
    message = {"from": "34600000005", "id": "wamid.long", "timestamp": "1772445600", "type": "text",
               "text": {"body": "hola"}}
    message[field_name] = ("wamid." if field_name == "id" else "") + "7" * 9000
    body = json.dumps(envelope({"messages": [message]})).encode()
    assert world.post(body, sign(body, SECRET)) in (200, 400)
    status_body = json.dumps(envelope({"statuses": [{
        "id": "wamid." + "x" * 9000, "status": "delivered", "timestamp": "1772445600",
        "recipient_id": "3" * 9000}]})).encode()
    assert world.post(status_body, sign(status_body, SECRET)) in (200, 400)


_INNER_VALUES: list[Any] = [None, True, 10**30, -(2**63) - 1, 1.5, float("nan"), "", "\u0000", "\ud800",
                            "99999999999999999999", "7" * 9000, {"a": {"b": 1}}, [1, "x"]]


def _inner_mutations(sample: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every inner field of a sample removed, doubled into a list, and replaced by six odd values
    (each field by the next six in turn, so every value reaches every kind of field somewhere)."""
    for place, path in enumerate(_paths(sample)[1:]):
        turn = [(place * 6 + step) % len(_INNER_VALUES) for step in range(6)]
        for how in ["remove", "list", *turn]:
            data = copy.deepcopy(sample)
            parent, key = _get(data, path[:-1]), path[-1]
            if how == "remove":
                parent.pop(key)
            elif how == "list":
                parent[key] = [parent[key], parent[key]]
            else:
                parent[key] = copy.deepcopy(_INNER_VALUES[int(how)])
            yield data


@pytest.mark.skipif(not WEBHOOK_SAMPLES, reason="../shared/whatsapp-samples/ is absent")
def test_every_inner_field_of_every_real_sample_mutated_never_gets_a_500(world: World) -> None:
    posts: dict[int, int] = {}
    for sample in WEBHOOK_SAMPLES:
        for data in _inner_mutations(sample):
            body = json.dumps(data).encode()
            status = world.post(body, sign(body, SECRET))
            posts[status] = posts.get(status, 0) + 1
            assert status in (200, 400), (status, body[:300])
    assert sum(posts.values()) >= 3000 and posts.get(200, 0) > 1000, posts
