"""One shared async HTTP client for the Graph API: httpx's API over aiohttp's connection pool.

Why not a plain ``httpx.AsyncClient``: its pool serialises badly under many requests in flight
(encode/httpx#3215); on this machine it managed ~40 req/s at 200 in flight and 100 ms latency,
while httpx on an aiohttp transport managed ~500-900 (benchmarks/dispatch.py).
:class:`GraphClient` goes further for the one request the hub repeats thousands of times a
second: it posts through aiohttp itself with the URL and headers prepared once, and gives back an
``httpx.Response`` (failures as ``httpx`` errors), so callers keep httpx's API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import yarl
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict

from hub import __version__

USER_AGENT = f"WhatsAppNewsHub/{__version__}"


class GraphClient:
    """POSTs JSON bodies to one Graph API endpoint with a bearer token, many at once.

    The answer is an ``httpx.Response`` and failures are ``httpx.TransportError``s, as from any
    httpx client; underneath, one ``aiohttp.ClientSession`` with a prepared URL and headers does the
    work. Going through an httpx transport over aiohttp (``httpx-aiohttp``) instead converted every
    request and answer between the two libraries' types and cost about half the hub's CPU per message.
    """

    def __init__(self, url: str, token: str, *, connections: int, timeout: float) -> None:
        self._url = yarl.URL(url)
        self._headers = CIMultiDict({"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                     "Accept": "application/json", "User-Agent": USER_AGENT})
        self._timeout = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout, connect=timeout)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._request = httpx.Request("POST", url)  # what each answer says it answers (for its errors)

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=self._connections)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Accept-Encoding",), auto_decompress=False)
        return self._session

    async def post_json(self, payload: dict[str, Any],
                        departing: Callable[[], None] | None = None) -> httpx.Response:
        """Send ``payload``; the whole answer is read before returning. Raises ``httpx.TransportError``.

        ``departing`` is called right before the body is written to the socket (see
        :class:`_Departing`); if it raises, nothing of the body is written.
        """
        session = self._session or self._open()
        body = json.dumps(payload).encode()
        data: bytes | _Departing = body if departing is None else _Departing(body, departing)
        try:
            async with session.post(self._url, data=data, headers=self._headers,
                                    allow_redirects=False) as answer:
                content = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _as_httpx(exc) from exc
        return httpx.Response(answer.status, headers=answer.raw_headers, content=content,
                              request=self._request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _Departing(aiohttp.BytesPayload):
    """A JSON body that calls ``departing`` just before it is written to the connection.

    Why here: a server acts on a request only once its body is complete (``Content-Length``),
    so the moment a request may reach Meta is the write of its body, which aiohttp makes in
    ``write_with_length`` → ``StreamWriter.write`` → ``transport.write`` with no ``await`` in
    between when no trace hook or compression is set (neither is, here). The headers may already
    have gone: a request cut off after them is never taken. If ``departing`` raises, the body is
    not written and the request fails (in doubt for the sink, as for any network failure).
    """

    def __init__(self, body: bytes, departing: Callable[[], None]) -> None:
        super().__init__(body, content_type="application/json")
        self._departing = departing

    async def write(self, writer: AbstractStreamWriter) -> None:
        self._departing()
        await writer.write(self._value)

    async def write_with_length(self, writer: AbstractStreamWriter, content_length: int | None) -> None:
        self._departing()
        await writer.write(self._value if content_length is None else self._value[:content_length])


def _as_httpx(exc: BaseException) -> httpx.TransportError:
    """The httpx error a failed aiohttp request stands for (its ``__cause__`` is set by the caller)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc))
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc))
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(str(exc) or "timed out waiting for the answer")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(str(exc))
    return httpx.NetworkError(str(exc) or type(exc).__name__)


def reached_server(exc: httpx.TransportError) -> bool:
    """Whether a failed request may have reached the API (so it may have been accepted).

    Only a failure to connect proves the request never left; a timeout or a dropped connection
    after sending leaves the message in doubt.
    """
    if isinstance(exc, httpx.ConnectError):
        return False
    cause = exc.__cause__
    return not isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
