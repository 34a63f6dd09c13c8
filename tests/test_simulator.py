"""The Cloud API simulator: Meta's bodies (same keys and types as the real samples), Meta's rules,
faults on demand, simulated phones, and signed webhooks retried until the hub takes them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.simulator import Fault, Latency
from hub.timekeeping.clock import FakeClock
from hub.web.signature import HEADER, is_valid
from tests.conftest import SIM_TOKEN
from tests.wa_world import START

SECRET = "app-secret-for-tests"
PNID = "1234567890"


def shape(value: Any) -> Any:
    """Keys and types, not values: what "the same body" means for a sample."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def sample(shared: Path, name: str) -> dict[str, Any]:
    return json.loads((shared / "whatsapp-samples" / name).read_text(encoding="utf-8"))


HTTP = httpx.Client(timeout=10)  # one client: building one per request costs ~50 ms of TLS setup


def post(server, body: dict[str, Any], token: str = SIM_TOKEN, pnid: str = PNID) -> httpx.Response:
    return HTTP.post(f"{server.base_url}/v23.0/{pnid}/messages", json=body,
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)


def text(to: str = "+34600000001", body: str = "hola", **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"body": body}, **extra}


def template(to: str = "+34600000001", name: str = "news_update", params: int = 2) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {"name": name, "language": {"code": "es"}, "components": [
                {"type": "body", "parameters": [{"type": "text", "text": f"p{n}"} for n in range(params)]}]}}


class Receiver:
    """A loopback webhook endpoint: records each POST and answers with the next queued status."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append((dict(self.headers), body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/webhook"

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.posts]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def statuses(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for p in payloads for e in p["entry"] for c in e["changes"]
            for s in c["value"].get("statuses", [])]


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# -- bodies like Meta's -------------------------------------------------------------------------

def test_success_body_has_the_shape_of_the_real_samples(shared, cloud_api) -> None:
    cloud_api.simulator.open_window("34600000001")
    answer = post(cloud_api, text())
    assert answer.status_code == 200
    body = answer.json()
    assert shape(body) == shape(sample(shared, "meta-docs__send_response_success.json"))
    assert shape(body) == shape(sample(shared, "bindambc__send_response_success.json"))
    assert body["contacts"][0] == {"input": "+34600000001", "wa_id": "34600000001"}
    assert body["messages"][0]["id"].startswith("wamid.")


def test_error_bodies_have_the_shape_of_the_real_samples(shared, cloud_api_factory) -> None:
    server = cloud_api_factory(throughput=1)
    server.simulator.open_window("34600000001")
    server.simulator.open_window("34600000002")
    post(server, text())
    limited = post(server, text("+34600000002"))
    assert limited.json()["error"]["code"] == 130429
    assert shape(limited.json()) == shape(sample(shared, "meta-docs__http_error_130429_rate_limit.json"))
    assert limited.json()["error"]["message"] == "(#130429) Rate limit hit"
    invalid = post(server, {**text(), "bogus": True})
    assert invalid.json()["error"]["code"] == 100
    assert shape(invalid.json()) == shape(sample(shared, "meta-docs__http_error_100_invalid_parameter.json"))
    unknown = post(server, text(), pnid="999999")
    graph_error = sample(shared, "bindambc__http_error_100_graphmethodexception.json")
    assert shape(unknown.json()) == shape(graph_error)


def test_status_and_inbound_webhooks_have_the_shape_of_the_real_samples(shared, cloud_api_factory,
                                                                        receiver) -> None:
    server = cloud_api_factory(webhook_url=receiver.url, app_secret=SECRET, read_share=1.0,
                               webhook_retry_base=0.01)
    sim = server.simulator
    server.run(lambda: sim.inbound_text("34600000001", "ALTA"))
    server.run(lambda: sim.tap_reply_button("34600000001", "cancel-button", "Cancel", "wamid.X"))
    server.run(lambda: sim.tap_quick_reply("34600000001", "SIM", "Sim", "wamid.Y"))
    post(server, {**text(), "biz_opaque_callback_data": "hub:delivery:7"})
    post(server, template("+34600000002"))  # a template outside the window: sent, delivered, read
    post(server, text("+34600000003"))  # free-form outside the window: accepted, then failed 131047
    server.drain_webhooks()
    payloads = receiver.payloads()  # posted concurrently, as Meta does: in no particular order
    inbound = {p["entry"][0]["changes"][0]["value"]["messages"][0]["type"]: p
               for p in payloads if "messages" in p["entry"][0]["changes"][0]["value"]}
    assert shape(inbound["text"]) == shape(sample(shared, "meta-docs__inbound_text.json"))
    assert shape(inbound["interactive"]) == shape(
        sample(shared, "meta-docs__inbound_interactive_button_reply.json"))
    tap = sample(shared, "bindambc__inbound_template_quick_reply_button.json")
    assert shape(inbound["button"]["entry"][0]["changes"][0]["value"]["messages"][0]) == shape(
        tap["entry"][0]["changes"][0]["value"]["messages"][0])
    found = statuses(payloads)
    sent = next(s for s in found if s["status"] == "sent" and s["recipient_id"] == "34600000001")
    real_sent = statuses([sample(shared, "meta-docs__status_sent_marketing_pmp.json")])[0]
    assert shape({k: v for k, v in sent.items() if k != "biz_opaque_callback_data"}) == shape(
        {k: v for k, v in real_sent.items() if k != "conversation"})  # conversation: gone in v24.0+
    assert sent["biz_opaque_callback_data"] == "hub:delivery:7"
    failed = next(s for s in found if s["status"] == "failed")
    real_failed = statuses([sample(shared, "meta-docs__status_failed_131049.json")])[0]
    assert shape(failed) == shape(real_failed) and failed["errors"][0]["code"] == 131047
    assert {s["status"] for s in found if s["recipient_id"] == "34600000001"} == {"sent", "delivered", "read"}
    wrapper = {k: v for k, v in payloads[0].items() if k != "entry"}
    assert wrapper == {"object": "whatsapp_business_account"}


# -- rules and refusals -------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "code"), [
    ({**text(), "to": None}, 131008),
    (text("+34 600"), 131009),
    ({**text(), "text": {"body": "x", "bogus": 1}}, 100),
    (text(body="x" * 4097), 100),
    ({**text(), "messaging_product": "sms"}, 100),
    (template(name="no_such"), 132001),
    (template(params=1), 132000),
    ({"messaging_product": "whatsapp", "to": "+34600000001", "type": "audio", "audio": {"id": "1"}}, 131051),
    ({"messaging_product": "whatsapp", "to": "+34600000001", "type": "interactive", "interactive": {
        "type": "button", "body": {"text": "x"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "x" * 21}}]}}}, 100),
])
def test_shapes_meta_refuses_get_metas_codes(cloud_api, body, code) -> None:
    answer = post(cloud_api, body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == code
    assert cloud_api.simulator.accepted == []


def test_wrong_token_is_190(cloud_api) -> None:
    answer = post(cloud_api, text(), token="nope")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == 190


def test_window_pair_rate_and_log(cloud_api_factory) -> None:
    clock = FakeClock(START)
    server = cloud_api_factory(clock=clock, window_failure="error")
    sim = server.simulator
    assert post(server, text()).json()["error"]["code"] == 131047
    sim.open_window("34600000001", START - timedelta(hours=23))
    assert "messages" in post(server, text()).json()
    assert post(server, text()).json()["error"]["code"] == 131056  # same person within 6 s
    clock.advance(seconds=6)
    assert "messages" in post(server, template()).json()
    clock.advance(hours=1)  # the window (opened 24 h ago) has closed
    assert post(server, text()).json()["error"]["code"] == 131047
    assert [m.type for m in sim.received_by("+34600000001")] == ["text", "template"]


def test_throughput_limit_is_130429(cloud_api_factory) -> None:
    server = cloud_api_factory(throughput=5)
    codes = [post(server, template(f"+3460000{n:04d}")).status_code for n in range(8)]
    assert codes.count(200) == 5 and codes.count(429) == 3


def test_messaging_limit_fails_new_people_outside_the_window(cloud_api_factory, receiver) -> None:
    server = cloud_api_factory(messaging_limit=2, webhook_url=receiver.url, app_secret=SECRET)
    for n in range(3):
        assert post(server, template(f"+3460000000{n}")).status_code == 200
    server.drain_webhooks()
    failed = [s for s in statuses(receiver.payloads()) if s["status"] == "failed"]
    assert [(s["recipient_id"], s["errors"][0]["code"]) for s in failed] == [("34600000002", 131048)]


# -- faults -------------------------------------------------------------------------------------

def test_faults_by_code_rate_and_recipient(cloud_api) -> None:
    sim = cloud_api.simulator
    sim.faults.add(Fault(code=131026, recipients=frozenset({"34600000009"})))
    sim.faults.add(Fault(code=131000, rate=0.5))
    assert post(cloud_api, template("+34600000009")).json()["error"]["code"] == 131026
    codes = [post(cloud_api, template(f"+3461{n:07d}")).status_code for n in range(40)]
    assert 8 <= codes.count(500) <= 32  # about half, seeded


def test_latency_timeout_5xx_and_drop(cloud_api_factory) -> None:
    server = cloud_api_factory(latency=Latency(fixed=0.2))
    started = time.perf_counter()
    post(server, template())
    assert time.perf_counter() - started >= 0.2
    sim = server.simulator
    sim.faults.add(Fault(kind="http5xx", http_status=503, times=1))
    answer = post(server, template("+34600000002"))
    assert answer.status_code == 503 and "html" in answer.headers["content-type"]
    sim.faults.add(Fault(kind="timeout", hang=1, times=1, accept=True))
    with pytest.raises(httpx.ReadTimeout):
        HTTP.post(f"{server.base_url}/v23.0/{PNID}/messages", json=template("+34600000003"),
                   headers={"Authorization": f"Bearer {SIM_TOKEN}"}, timeout=0.5)
    assert sim.received_by("34600000003")  # accepted all the same: the answer was lost, not the message
    sim.faults.add(Fault(kind="drop", times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        post(server, template("+34600000004"))
    assert not sim.received_by("34600000004")


# -- phones and webhooks ------------------------------------------------------------------------

def test_phones_write_in_with_signed_meta_webhooks(cloud_api_factory, receiver) -> None:
    server = cloud_api_factory(webhook_url=receiver.url, app_secret=SECRET)
    server.run(lambda: server.simulator.inbound_text("34600000001", "BAJA", name="Lucía"))
    server.drain_webhooks()
    (headers, body), = receiver.posts
    assert is_valid(body, headers[HEADER], SECRET) and headers["Content-Type"] == "application/json"
    value = json.loads(body)["entry"][0]["changes"][0]["value"]
    assert value["messages"][0]["text"] == {"body": "BAJA"}
    assert value["contacts"][0]["profile"]["name"] == "Lucía"
    assert b"Luc\\u00eda" in body  # non-ASCII escaped, as Meta does
    assert server.simulator.last_inbound["34600000001"]  # writing in opened the window


def test_failed_webhook_posts_are_retried_with_backoff(cloud_api_factory, receiver) -> None:
    server = cloud_api_factory(webhook_url=receiver.url, app_secret=SECRET, webhook_retry_base=0.02)
    receiver.answers = [500, 503]
    server.run(lambda: server.simulator.inbound_text("34600000001", "ALTA"))
    server.drain_webhooks()
    record = server.simulator.poster.log[0]
    assert record.delivered and record.tries == 3 and record.answers == ["500", "503", "200"]
    assert len(receiver.posts) == 3 and receiver.posts[0][1] == receiver.posts[2][1]


def test_webhooks_to_a_hub_that_is_down_are_retried(cloud_api_factory, receiver) -> None:
    dead = receiver.url
    receiver.close()
    server = cloud_api_factory(webhook_url=dead, app_secret=SECRET, webhook_retry_base=0.01, webhook_tries=4)
    server.run(lambda: server.simulator.inbound_text("34600000001", "ALTA"))
    server.drain_webhooks()
    record = server.simulator.poster.log[0]
    assert not record.delivered and record.tries == 4
    assert all(a.startswith("Client") for a in record.answers)


def test_control_endpoints_for_sandbox_users(cloud_api) -> None:
    HTTP.post(f"{cloud_api.base_url}/_sim/faults", json={"code": 131026, "times": 1})
    assert post(cloud_api, template()).json()["error"]["code"] == 131026
    HTTP.post(f"{cloud_api.base_url}/_sim/inbound", json={"from": "34600000001", "text": "ALTA"})
    post(cloud_api, text())
    log = HTTP.get(f"{cloud_api.base_url}/_sim/messages").json()
    assert [(m["to"], m["type"]) for m in log] == [("34600000001", "text")]
    assert HTTP.post(f"{cloud_api.base_url}/_sim/faults", json={"colour": "red"}).status_code == 400
    assert HTTP.post(f"{cloud_api.base_url}/_sim/inbound", content=b"{nope").status_code == 400


def test_latency_distributions() -> None:
    import random

    rng = random.Random(1)
    assert Latency(fixed=0.1).draw(rng) == 0.1
    uniform = [Latency(0.1, "uniform", 0.05).draw(rng) for _ in range(200)]
    assert min(uniform) >= 0.1 and max(uniform) <= 0.15
    exponential = [Latency(0.0, "exponential", 0.02).draw(rng) for _ in range(2000)]
    assert 0.015 < sum(exponential) / len(exponential) < 0.025
    assert min(Latency(0.01, "normal", 0.05).draw(rng) for _ in range(200)) == 0.0  # never negative


def test_mark_as_read_like_the_real_request(shared, cloud_api) -> None:
    body = sample(shared, "bindambc__request_mark_as_read.json")
    answer = post(cloud_api, body)
    assert answer.status_code == 200 and answer.json() == {"success": True}
    assert cloud_api.simulator.read_marks == [body["message_id"]]
    assert post(cloud_api, {**body, "message_id": ""}).json()["error"]["code"] == 131008


def test_named_phones(cloud_api_factory, receiver) -> None:
    server = cloud_api_factory(webhook_url=receiver.url, app_secret=SECRET, phones={"34600000001": "Andrés"})
    server.run(lambda: server.simulator.inbound_text("+34600000001", "ALTA"))
    server.drain_webhooks()
    value = receiver.payloads()[0]["entry"][0]["changes"][0]["value"]
    assert value["contacts"] == [{"profile": {"name": "Andrés"}, "wa_id": "34600000001"}]
