"""Fetching like a good citizen: validators and 304, redirects, back-off, limits, encodings."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from datetime import timedelta
from importlib import resources

import brotli
import pytest

from hub import __version__
from hub.app import App
from hub.intake.fetch import Fetcher, FetchError, FetchPolicy, make_client
from hub.intake.pipeline import FAILING_AFTER, backoff_delay, poll_once
from hub.loopback import Document, LoopbackServer, redirect
from hub.timekeeping.clock import FakeClock
from tests.backend import open_db
from tests.conftest import write_config


def _sample() -> bytes:
    return resources.files("hub").joinpath("samples/feed.xml").read_bytes()


def _config(url: str, every: str = "10 minutes") -> str:
    return (f'[hub]\ndatabase_url = "sqlite:///hub.db"\n\n[[sources]]\ntype = "rss"\nname = "blog"\n'
            f'url = "{url}"\nevery = "{every}"\nallow_private = true\n')


def _poll(project, clock=None, **kwargs):
    app = App(project / "hub.toml")
    return asyncio.run(poll_once(app.config, app.store, app.registry, clock=clock, **kwargs))


def _row(project) -> dict:
    db = open_db(project / "hub.db")
    return dict(db.execute("SELECT * FROM sources WHERE name = 'blog'").fetchone())


def test_second_poll_sends_validators_gets_304_and_parses_nothing(hub_cli, project, feed_server) -> None:
    validators = {"ETag": '"v1"', "Last-Modified": "Wed, 01 Apr 2026 08:00:00 GMT"}
    feed_server.documents["/feed.xml"] = Document(_sample(), headers=dict(validators))
    write_config(hub_cli.config, _config(feed_server.url("/feed.xml")))
    assert "5 new item(s) stored" in hub_cli("poll", "--once").output

    # Same validators, but the body is now garbage: any parsing would fail the poll.
    feed_server.documents["/feed.xml"] = Document(b"<<< not a feed", headers=dict(validators))
    second = hub_cli("poll", "--once", "--force")
    assert second.exit_code == 0, second.output
    assert "blog: not modified" in second.output
    sent = feed_server.requests[-1][1]
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Wed, 01 Apr 2026 08:00:00 GMT"
    row = _row(project)
    assert row["last_status"] == 304 and row["state"] == "ok" and row["polls"] == 2


def test_last_modified_alone_is_enough_for_a_304(project, feed_server) -> None:
    feed_server.use_etags = False
    lm = {"Last-Modified": "Wed, 01 Apr 2026 08:00:00 GMT"}
    feed_server.documents["/feed.xml"] = Document(_sample(), headers=lm)
    write_config(project / "hub.toml", _config(feed_server.url("/feed.xml")))
    _poll(project)
    report = _poll(project, force=True)
    assert report.sources[0].not_modified
    assert "If-None-Match" not in feed_server.requests[-1][1]


def test_permanent_redirect_updates_the_stored_url_and_says_so(hub_cli, project, feed_server) -> None:
    feed_server.documents["/old.xml"] = redirect("/new.xml", 301)
    feed_server.documents["/new.xml"] = Document(_sample())
    write_config(hub_cli.config, _config(feed_server.url("/old.xml")))
    first = hub_cli("poll", "--once")
    assert first.exit_code == 0, first.output
    assert f"moved permanently to {feed_server.url('/new.xml')}" in first.output
    assert _row(project)["url"] == feed_server.url("/new.xml")

    hub_cli("poll", "--once", "--force")
    assert feed_server.requests[-1][0] == "/new.xml"  # the old address is not asked again
    assert [p for p, _ in feed_server.requests].count("/old.xml") == 1


def test_temporary_redirect_is_followed_but_not_stored(project, feed_server) -> None:
    feed_server.documents["/feed.xml"] = redirect("/today.xml", 302)
    feed_server.documents["/today.xml"] = Document(_sample())
    write_config(project / "hub.toml", _config(feed_server.url("/feed.xml")))
    report = _poll(project)
    assert report.stored == 5
    assert _row(project)["url"] is None


def test_changing_the_url_in_hub_toml_forgets_the_old_state(project, feed_server) -> None:
    feed_server.documents["/old.xml"] = redirect("/moved.xml", 308)
    feed_server.documents["/moved.xml"] = Document(_sample())
    feed_server.documents["/other.xml"] = Document(_sample())
    write_config(project / "hub.toml", _config(feed_server.url("/old.xml")))
    _poll(project)
    write_config(project / "hub.toml", _config(feed_server.url("/other.xml")))
    _poll(project, force=True)
    assert feed_server.requests[-1][0] == "/other.xml"
    assert "If-None-Match" not in feed_server.requests[-1][1]


def test_failures_back_off_then_mark_the_source_failing_then_recover(hub_cli, project, feed_server) -> None:
    clock = FakeClock()
    feed_server.documents["/feed.xml"] = Document(b"oops", status=500, content_type="text/plain")
    write_config(hub_cli.config, _config(feed_server.url("/feed.xml")))
    waits = []
    for attempt in range(1, FAILING_AFTER + 2):
        report = _poll(project, clock=clock)
        assert "HTTP 500" in report.sources[0].error
        row = _row(project)
        assert row["consecutive_failures"] == attempt
        assert row["state"] == ("failing" if attempt >= FAILING_AFTER else "new")
        waits.append(row["next_poll_at"])
        # Not due again before the back-off has passed …
        clock.advance(minutes=9)
        assert _poll(project, clock=clock).sources[0].skipped
        clock.set(clock.now() + timedelta(minutes=10 * 2 ** (attempt - 1)))
    assert backoff_delay(timedelta(minutes=10), 1) == timedelta(minutes=10)
    assert backoff_delay(timedelta(minutes=10), 3) == timedelta(minutes=40)
    assert backoff_delay(timedelta(minutes=10), 30) == timedelta(hours=6)
    shown = hub_cli("sources")
    assert "blog [rss] FAILING" in shown.output
    assert "HTTP 500" in shown.output and "4 in a row" in shown.output and "failing since" in shown.output

    feed_server.documents["/feed.xml"] = Document(_sample())
    assert _poll(project, clock=clock).stored == 5
    row = _row(project)
    assert (row["state"], row["consecutive_failures"], row["last_error"]) == ("ok", 0, None)
    assert "blog [rss] OK" in hub_cli("sources").output


def test_retry_after_pushes_the_next_poll_out(project, feed_server) -> None:
    clock = FakeClock()
    feed_server.documents["/feed.xml"] = Document(b"slow down", status=429, content_type="text/plain",
                                                  headers={"Retry-After": "7200"})
    write_config(project / "hub.toml", _config(feed_server.url("/feed.xml")))
    _poll(project, clock=clock)
    clock.advance(minutes=90)
    assert _poll(project, clock=clock).sources[0].skipped
    clock.advance(minutes=31)
    assert not _poll(project, clock=clock).sources[0].skipped


def test_gone_marks_the_source_failing_at_once(project, feed_server) -> None:
    feed_server.documents["/feed.xml"] = Document(b"gone", status=410, content_type="text/plain")
    write_config(project / "hub.toml", _config(feed_server.url("/feed.xml")))
    _poll(project)
    assert _row(project)["state"] == "failing"


def test_each_source_keeps_its_own_interval(project, feed_server) -> None:
    clock = FakeClock()
    feed_server.documents["/a.xml"] = Document(_sample())
    feed_server.documents["/b.xml"] = Document(_sample().replace(b"villanueva-", b"b-"))
    write_config(project / "hub.toml", (
        '[hub]\ndatabase_url = "sqlite:///hub.db"\n'
        f'[[sources]]\ntype = "rss"\nname = "fast"\nurl = "{feed_server.url("/a.xml")}"\n'
        'allow_private = true\n'
        'every = "5 minutes"\n'
        f'[[sources]]\ntype = "rss"\nname = "slow"\nurl = "{feed_server.url("/b.xml")}"\n'
        'allow_private = true\nevery = "1 hour"\n'))
    _poll(project, clock=clock)
    clock.advance(minutes=6)
    report = {s.name: s for s in _poll(project, clock=clock).sources}
    assert not report["fast"].skipped and report["slow"].skipped
    report = {s.name: s for s in _poll(project, clock=clock, force=True).sources}
    assert not report["slow"].skipped


def test_user_agent_names_the_hub_and_its_version(project, feed_server) -> None:
    feed_server.documents["/feed.xml"] = Document(_sample())
    write_config(project / "hub.toml", _config(feed_server.url("/feed.xml")))
    _poll(project)
    assert f"WhatsAppNewsHub/{__version__}" in feed_server.requests[0][1]["User-Agent"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_compressed_feeds_are_decoded(project, feed_server, encoding) -> None:
    body = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[encoding](_sample())
    feed_server.documents["/feed.xml"] = Document(body, headers={"Content-Encoding": encoding})
    write_config(project / "hub.toml", _config(feed_server.url("/feed.xml")))
    assert _poll(project).stored == 5
    assert encoding in feed_server.requests[0][1]["Accept-Encoding"]


def _get_many(server: LoopbackServer, paths: list[str], policy: FetchPolicy) -> list:
    async def run() -> list:
        async with make_client(policy) as client:
            fetcher = Fetcher(client, policy, allow_private=True)  # the loopback server
            return await asyncio.gather(*(fetcher.get(server.url(p)) for p in paths),
                                        return_exceptions=True)
    return asyncio.run(run())


def test_per_host_limit_caps_parallel_requests(feed_server) -> None:
    feed_server.delay = 0.05
    for i in range(8):
        feed_server.documents[f"/{i}.xml"] = Document(b"<rss/>")
    results = _get_many(feed_server, [f"/{i}.xml" for i in range(8)], FetchPolicy(per_host=2))
    assert all(r.status == 200 for r in results)
    assert feed_server.peak_in_flight == 2


def test_total_timeout_covers_a_slow_answer(feed_server) -> None:
    feed_server.documents["/slow.xml"] = Document(b"<rss/>", delay=2.0)
    [error] = _get_many(feed_server, ["/slow.xml"], FetchPolicy(total_timeout=0.3))
    assert isinstance(error, FetchError) and "no complete answer within 0.3 s" in str(error)


def test_redirect_loops_stop(feed_server) -> None:
    feed_server.documents["/a"] = redirect("/b", 302)
    feed_server.documents["/b"] = redirect("/a", 302)
    [error] = _get_many(feed_server, ["/a"], FetchPolicy())
    assert isinstance(error, FetchError) and "more than 5 redirects" in str(error)


def test_waiting_behind_the_per_host_limit_does_not_count_as_a_timeout(feed_server) -> None:
    for i in range(3):
        feed_server.documents[f"/{i}.xml"] = Document(b"<rss/>", delay=0.2)
    policy = FetchPolicy(per_host=1, total_timeout=0.5)
    results = _get_many(feed_server, ["/0.xml", "/1.xml", "/2.xml"], policy)
    assert [r.status for r in results] == [200, 200, 200]
    assert feed_server.peak_in_flight == 1


def test_many_sources_are_parsed_in_a_process_pool(project, feed_server) -> None:
    feeds = ""
    for i in range(9):
        feed_server.documents[f"/{i}.xml"] = Document(_sample().replace(b"villanueva-", f"f{i}-".encode()))
        feeds += (f'[[sources]]\ntype = "rss"\nname = "s{i}"\nurl = "{feed_server.url(f"/{i}.xml")}"\n'
                  'allow_private = true\n')
    feed_server.documents["/8.xml"] = Document(b"<html>not a feed</html>", content_type="text/html")
    write_config(project / "hub.toml", '[hub]\ndatabase_url = "sqlite:///hub.db"\n' + feeds)
    report = _poll(project, workers=2)
    assert report.stored == 40
    assert "not a readable feed" in report.sources[8].error


def test_retry_after_in_seconds_or_as_a_date() -> None:
    from datetime import UTC, datetime

    from hub.intake.fetch import parse_retry_after

    now = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 01 Apr 2026 09:00:00 GMT", now) == 3600.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
