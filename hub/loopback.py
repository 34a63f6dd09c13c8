"""A tiny HTTP/1.1 server on 127.0.0.1 serving fixed documents, with ETags and optional delay.

Used by ``hub demo`` to serve the sample feed for real, and by the tests and benchmarks. It runs
an asyncio loop in a background thread, so hundreds of slow (delayed) answers can be in flight at
once without a thread each. ``ports`` > 1 serves the same documents on several ports, which an
HTTP client counts as different hosts (a benchmark's stand-in for many sites).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass
class Document:
    """What one path answers. ``headers`` may carry ``Location`` (redirects) or
    ``Content-Encoding`` (with an already-encoded ``body``); ``delay`` slows this path only."""

    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


def redirect(location: str, status: int = 301) -> Document:
    """A document that sends the client elsewhere."""
    return Document(b"", content_type="text/plain", status=status, headers={"Location": location})


class LoopbackServer:
    """Serves ``documents`` by path; records requests; answers 304 when the validators match."""

    def __init__(self, documents: dict[str, Document] | None = None, delay: float = 0.0,
                 use_etags: bool = True, ports: int = 1) -> None:
        self.documents: dict[str, Document] = documents or {}
        self.delay = delay
        self.use_etags = use_etags
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.on_request: Callable[[str], None] | None = None
        # Called for a path with no document: (target, headers) -> Document or None (404).
        self.resolver: Callable[[str, dict[str, str]], Document | None] | None = None
        self.in_flight = 0
        self.peak_in_flight = 0
        self.open_connections = 0
        self.peak_connections = 0
        self._ports_wanted = ports
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.base_events.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._run(self._start())

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        if not self._thread.is_alive():
            return self._loop.run_until_complete(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _start(self) -> None:
        for _ in range(self._ports_wanted):
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=2048)
            self._servers.append(server)

    @property
    def ports(self) -> list[int]:
        return [s.sockets[0].getsockname()[1] for s in self._servers]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def base_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for server in self._servers:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.open_connections += 1
        self.peak_connections = max(self.peak_connections, self.open_connections)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self.open_connections -= 1
            self._writers.discard(writer)
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line.strip():
            return False
        method, target, _version = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip()] = value.strip()
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("content-length", "0").isdigit() and int(lowered.get("content-length", "0")):
            await reader.readexactly(int(lowered["content-length"]))
        self.requests.append((target, headers))
        if self.on_request is not None:
            self.on_request(target)
        doc = self.documents.get(target)
        if doc is None and self.resolver is not None:
            doc = self.resolver(target, headers)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            wait = self.delay + (doc.delay if doc else 0.0)
            if wait:
                await asyncio.sleep(wait)
            status, extra, body, ctype = self._answer(doc, lowered)
        finally:
            self.in_flight -= 1
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        if ctype:
            head.append(f"Content-Type: {ctype}")
        head += [f"{k}: {v}" for k, v in extra.items()]
        if status != 304:
            head.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        if status != 304 and method != "HEAD":
            view = memoryview(body)
            for start in range(0, len(view), 65536):  # big bodies in slices: no 50 MB copy
                writer.write(view[start:start + 65536])
                await writer.drain()
        return lowered.get("connection", "").lower() != "close"

    def _answer(self, doc: Document | None,
                headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, str | None]:
        if doc is None:
            return 404, {}, b"not found", "text/plain"
        extra = dict(doc.headers)
        if self.use_etags and doc.status == 200:
            extra.setdefault("ETag", doc.etag)
            if headers.get("if-none-match") == extra["ETag"]:
                return 304, {"ETag": extra["ETag"]}, b"", None
        modified = extra.get("Last-Modified")
        if modified and doc.status == 200 and headers.get("if-modified-since") == modified:
            return 304, {"Last-Modified": modified}, b"", None
        return doc.status, extra, doc.body, doc.content_type
