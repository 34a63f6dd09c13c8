"""Hostile documents are refused or neutralised in under a second, with bounded memory.

Each case is a full poll of one source against the loopback server. The poll runs twice: once
timed as is, once under tracemalloc (which slows allocation-heavy parsing several times) to
measure the peak of memory Python allocated.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc

import brotli
import pytest

from hub.app import App
from hub.intake.pipeline import poll_once
from hub.loopback import Document
from tests.backend import open_db
from tests.conftest import write_config

MB = 1024 * 1024


def _billion_laughs() -> bytes:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    ]
    return (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + "\n".join(entities).encode()
            + b"\n]>\n<rss version=\"2.0\"><channel><title>t</title><item><title>&lol9;</title>"
            b"<guid>laughs</guid></item></channel></rss>")


def _quadratic_blowup() -> bytes:
    entity = b"A" * 100_000
    refs = b"&a;" * 2000
    return (b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "' + entity + b'">]>\n'
            b'<rss version="2.0"><channel><title>t</title><item><title>' + refs
            + b"</title><guid>blowup</guid><description>" + refs + b"</description></item></channel></rss>")


def _feed_of_size(size: int) -> bytes:
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>'
    return head + b"x" * (size - len(head))


BIG = _feed_of_size(50 * MB)
CASES = {
    "billion-laughs": Document(_billion_laughs()),
    "quadratic-blowup": Document(_quadratic_blowup()),
    "50MB-body": Document(BIG),
    "50MB-gzip-bomb": Document(gzip.compress(BIG, 9), headers={"Content-Encoding": "gzip"}),
    "50MB-brotli-bomb": Document(brotli.compress(BIG), headers={"Content-Encoding": "br"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_document_is_refused_or_neutralised_fast(project, feed_server, case) -> None:
    doc = CASES[case]
    if "bomb" in case:
        assert len(doc.body) < 200_000  # a few KB on the wire, 50 MB once decoded
    feed_server.documents["/feed.xml"] = doc
    feed_server.use_etags = False  # the second poll must fetch and parse again
    write_config(project / "hub.toml", (
        '[hub]\ndatabase_url = "sqlite:///hub.db"\n[[sources]]\ntype = "rss"\nname = "evil"\n'
        f'url = "{feed_server.url("/feed.xml")}"\nallow_private = true\n'))
    app = App(project / "hub.toml")
    config, store, registry = app.config, app.store, app.registry

    started = time.perf_counter()
    report = asyncio.run(poll_once(config, store, registry))
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    again = asyncio.run(poll_once(config, store, registry, force=True))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert again.sources[0].error == report.sources[0].error

    print(f"{case}: {elapsed:.3f} s, peak {peak / MB:.1f} MB")
    assert elapsed < 1.0, f"{case} took {elapsed:.2f} s"
    assert peak < 40 * MB, f"{case} peaked at {peak / MB:.0f} MB"
    result = report.sources[0]
    titles = [r[0] for r in open_db(project / "hub.db").execute("SELECT title FROM items")]
    if case.startswith("50MB"):
        assert result.error and "body refused" in result.error and "10,485,760-byte limit" in result.error
        assert titles == []
    else:  # neutralised: parsed without expanding anything
        assert result.error is None, result.error
        assert any("DOCTYPE/ENTITY declarations were removed" in w for w in result.warnings)
        assert all(len(t) < 10_000 for t in titles)
        assert "lol" * 100 not in "".join(titles) and "A" * 1000 not in "".join(titles)


def test_entity_outside_a_doctype_is_made_inert() -> None:
    from hub.intake.xmlsafe import defuse_xml

    trick = b'<!DOCTYPE rss [<!ENTITY a "]>"><!ENTITY b "bbbb">]><rss>&b;</rss>'
    cleaned, changed = defuse_xml(trick)
    assert changed and b"<!ENTITY" not in cleaned.upper()


def test_feed_with_nothing_readable_is_a_source_failure_with_a_reason(project, feed_server) -> None:
    feed_server.documents["/feed.xml"] = Document(b"\x00\x01 binary junk", content_type="application/xml")
    write_config(project / "hub.toml", (
        '[hub]\ndatabase_url = "sqlite:///hub.db"\n[[sources]]\ntype = "rss"\nname = "junk"\n'
        f'url = "{feed_server.url("/feed.xml")}"\nallow_private = true\n'))
    app = App(project / "hub.toml")
    report = asyncio.run(poll_once(app.config, app.store, app.registry))
    assert "not a readable feed" in report.sources[0].error
