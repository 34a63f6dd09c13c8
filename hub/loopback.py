"""A tiny HTTP server on 127.0.0.1 serving fixed documents, with ETags and optional delay.

Used by ``hub demo`` to serve the sample feed for real, and by the tests and benchmarks.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Document:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


class LoopbackServer:
    """Serves ``documents`` by path; counts requests; answers 304 when the ETag matches."""

    def __init__(self, documents: dict[str, Document] | None = None, delay: float = 0.0,
                 use_etags: bool = True) -> None:
        self.documents: dict[str, Document] = documents or {}
        self.delay = delay
        self.use_etags = use_etags
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.on_request: Callable[[str], None] | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests.append((self.path, dict(self.headers)))
                if server.delay:
                    time.sleep(server.delay)
                doc = server.documents.get(self.path)
                if doc is None:
                    self._answer(404, b"not found", "text/plain", {})
                    return
                if server.use_etags and self.headers.get("If-None-Match") == doc.etag:
                    self._answer(304, b"", None, {"ETag": doc.etag})
                    return
                headers = dict(doc.headers)
                if server.use_etags:
                    headers.setdefault("ETag", doc.etag)
                self._answer(doc.status, doc.body, doc.content_type, headers)

            def _answer(self, status: int, body: bytes, ctype: str | None,
                        headers: dict[str, str]) -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for key, value in headers.items():
                    self.send_header(key, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
