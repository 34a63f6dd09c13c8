"""One shared async HTTP client for the Graph API: httpx's API over aiohttp's connection pool.

Why not a plain ``httpx.AsyncClient``: its pool serialises badly under many requests in flight
(encode/httpx#3215); on this machine it managed ~40 req/s at 200 in flight and 100 ms latency,
while httpx on the ``httpx-aiohttp`` transport managed ~500-900 (benchmarks/dispatch.py).
:class:`GraphClient` goes one step further for the one request the hub repeats thousands of times
a second: it builds the ``httpx.Request`` itself and hands it to the transport, skipping the
client's per-request cookie, auth, redirect and header merging (about a third of the hub's CPU
per message at 1,000 msg/s). Requests and responses are still httpx's own types.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from hub import __version__

USER_AGENT = f"WhatsAppNewsHub/{__version__}"


def make_client(*, connections: int, timeout: float, base_url: str = "") -> httpx.AsyncClient:
    """A general client keeping up to ``connections`` requests in flight on kept-alive connections."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits), base_url=base_url,
        timeout=httpx.Timeout(timeout), headers={"User-Agent": USER_AGENT},
    )


class GraphClient:
    """POSTs JSON bodies to one Graph API endpoint with a bearer token, many at once."""

    def __init__(self, url: str, token: str, *, connections: int, timeout: float) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._transport = AiohttpTransport(limits=limits)
        self._url = httpx.URL(url)
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                         "Accept": "application/json", "User-Agent": USER_AGENT}
        self._timeout = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}

    async def post_json(self, payload: dict[str, Any]) -> httpx.Response:
        """Send ``payload``; the whole answer is read before returning. Raises ``httpx.TransportError``."""
        request = httpx.Request("POST", self._url, headers=self._headers,
                                content=json.dumps(payload).encode(), extensions={"timeout": self._timeout})
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


def reached_server(exc: httpx.TransportError) -> bool:
    """Whether a failed request may have reached the API (so it may have been accepted).

    Only a failure to connect proves the request never left; a timeout or a dropped connection
    after sending leaves the message in doubt.
    """
    if isinstance(exc, httpx.ConnectError):
        return False
    cause = exc.__cause__
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - aiohttp ships with httpx-aiohttp
        return not isinstance(exc, httpx.ConnectTimeout)
    return not isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
