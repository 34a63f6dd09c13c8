"""The dashboard's buttons over real HTTP: a click needs the session cookie the token opened, the
page's CSRF token and this host's Origin; anything less is a 403 that changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette

from hub.storage.tables import ItemRow
from hub.timekeeping.clock import FakeClock
from hub.web.asgi_server import serve_in_thread
from hub.web.metrics import Metrics
from hub.web.pages import ops_routes
from tests.dashboard_scenario import HELD_TITLES, editor_scenario, held_ids, item_status, paused

NOW = datetime(2026, 3, 5, 7, 0, tzinfo=UTC)


@pytest.fixture
def served(tmp_path):
    store = editor_scenario(tmp_path / "hub.db")
    token = ["tok-123"]
    app = Starlette(routes=ops_routes(store, Metrics(store), ZoneInfo("Europe/Madrid"),
                                      token=lambda: token[0], clock=FakeClock(NOW)))
    with serve_in_thread(app) as base:
        yield base, store, token
    store.dispose()


def _open(base: str, token: str = "tok-123") -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base)
    page = client.get("/dashboard", params={"token": token})
    assert page.status_code == 200
    found = re.search(r"name='csrf' value='([^']+)'", page.text)
    assert found is not None
    return client, found.group(1)


def test_a_click_without_the_csrf_token_or_from_elsewhere_is_refused(served) -> None:
    base, store, _ = served
    story = held_ids(store)[HELD_TITLES[0]]
    client, csrf = _open(base)
    origin = {"Origin": base}
    stranger, stranger_csrf = _open(base)
    attempts = {
        "no csrf": client.post("/dashboard/held/approve", data={"id": story}, headers=origin),
        "wrong csrf": client.post("/dashboard/held/approve", data={"id": story, "csrf": "0" * 64},
                                  headers=origin),
        "another session's csrf": client.post("/dashboard/held/approve",
                                              data={"id": story, "csrf": stranger_csrf}, headers=origin),
        "wrong origin": client.post("/dashboard/held/approve", data={"id": story, "csrf": csrf},
                                    headers={"Origin": "https://evil.example"}),
        "no origin": client.post("/dashboard/held/approve", data={"id": story, "csrf": csrf}),
        "null origin": client.post("/dashboard/held/drop", data={"id": story, "csrf": csrf},
                                   headers={"Origin": "null"}),
        "no cookie": httpx.post(base + "/dashboard/held/drop", data={"id": story, "csrf": csrf},
                                headers=origin),
        "bearer, no cookie": httpx.post(base + "/dashboard/held/drop", data={"id": story, "csrf": csrf},
                                        headers={**origin, "Authorization": "Bearer tok-123"}),
        "resume, no csrf": client.post("/dashboard/routines/resume", data={"name": "tardes"},
                                       headers=origin),
    }
    assert {name: r.status_code for name, r in attempts.items()} == {name: 403 for name in attempts}
    assert item_status(store, story) == "held" and paused(store, "tardes")
    stranger.close()

    # Behind a reverse proxy that forwards the public host, the public Origin is this page's own.
    proxied = client.post("/dashboard/held/drop", data={"id": 10**6, "csrf": csrf},
                          headers={"Origin": "https://news.example.org",
                                   "X-Forwarded-Host": "news.example.org"})
    assert proxied.status_code == 303
    done = client.post("/dashboard/held/approve", data={"id": story, "csrf": csrf}, headers=origin)
    assert done.status_code == 303 and done.headers["location"].startswith("/dashboard?")
    assert item_status(store, story) == "ready"
    shown = client.get(done.headers["location"])
    assert shown.status_code == 200 and f"story #{story} approved" in shown.text
    client.close()


def test_the_session_cookie_is_strict_and_dies_with_the_token(served) -> None:
    base, store, token = served
    client, csrf = _open(base)
    cookie = client.cookies.jar
    set_cookie = httpx.get(base + "/dashboard?token=tok-123").headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/dashboard" in set_cookie
    page = client.get("/dashboard")  # the cookie alone opens the page again
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert len(list(cookie)) == 1

    token[0] = "tok-456"  # the admin changes HUB_DASHBOARD_TOKEN: every session ends
    assert client.get("/dashboard").status_code == 401
    refused = client.post("/dashboard/routines/resume", data={"name": "tardes", "csrf": csrf},
                          headers={"Origin": base})
    assert refused.status_code == 403 and paused(store, "tardes")
    client.close()


def test_approve_drop_and_resume_do_what_the_commands_do(served) -> None:
    base, store, _ = served
    ids = held_ids(store)
    client, csrf = _open(base)
    post = {"headers": {"Origin": base}}
    approved, dropped = ids[HELD_TITLES[0]], ids[HELD_TITLES[1]]
    for action, story in (("approve", approved), ("drop", dropped)):
        answer = client.post(f"/dashboard/held/{action}", data={"id": story, "csrf": csrf}, **post)
        assert answer.status_code == 303
    with store.read() as s:
        ready, gone = s.get(ItemRow, approved), s.get(ItemRow, dropped)
        assert ready is not None and gone is not None
        # sendable: what a routine run picks up (ready, not yet planned, ready since the approval)
        assert (ready.status, ready.reason, ready.ready_at, ready.planned_at) == ("ready", None, NOW, None)
        assert ready.decisions[-1] == "approved by an admin at 2026-03-05 07:00 UTC"
        assert gone.status == "dropped" and "dropped by an admin" in (gone.reason or "")
    again = client.post("/dashboard/held/drop", data={"id": approved, "csrf": csrf}, **post)
    assert "nothing changed" in client.get(again.headers["location"]).text
    assert item_status(store, approved) == "ready", "only held stories are settled"

    everything = client.post("/dashboard/held/drop", data={"source": "agenda", "csrf": csrf}, **post)
    assert "agenda: 1 dropped" in client.get(everything.headers["location"]).text
    assert item_status(store, ids[HELD_TITLES[2]]) == "dropped"

    resumed = client.post("/dashboard/routines/resume", data={"name": "tardes", "csrf": csrf}, **post)
    assert resumed.status_code == 303 and not paused(store, "tardes")
    page = client.get(resumed.headers["location"]).text
    assert "routine tardes resumed" in page and "Nothing waits for you." in page
    assert client.post("/dashboard/held/approve", data={"csrf": csrf}, **post).status_code == 400
    client.close()


def test_resume_sending_after_a_stop_as_hub_status_resume_does(served) -> None:
    from hub.delivery import account

    base, store, _ = served
    with store.write() as s:
        account.stop(s, NOW, 131031, "Business account restricted")
    client, csrf = _open(base)
    page = client.get("/dashboard").text
    assert "Sending is stopped: Business account restricted" in page
    assert "sending stopped: the WhatsApp account is restricted" not in page, "said once, with its button"
    assert "action='/dashboard/sending/resume'" in page
    done = client.post("/dashboard/sending/resume", data={"csrf": csrf}, headers={"Origin": base})
    assert done.status_code == 303
    with store.read() as s:
        assert account.current(s).state == "running" and account.open_alerts(s) == []
    assert "sending resumed; open alerts cleared" in client.get(done.headers["location"]).text
    client.close()
