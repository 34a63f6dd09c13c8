"""HTTP fetching shared by every source: polite, bounded, conditional.

One :class:`Fetcher` (one ``httpx.AsyncClient``) serves a whole poll. Each request:

- sends the stored validators (``If-None-Match`` / ``If-Modified-Since``), so an unchanged
  document costs a 304 and no parsing;
- waits its turn behind a per-origin semaphore (scheme, host and port, as browsers count);
- is bounded in time (connect timeout, and a total deadline over every redirect hop) and in size:
  the body is read as a stream and decoded here (gzip, deflate, brotli), so the cap applies to the
  *decoded* size and a few-KB gzip bomb is refused after ``max_bytes`` of output, not after it
  has filled the memory;
- follows redirects itself, so a chain of permanent ones (301/308) is reported as the new URL to
  store, while temporary ones (302/303/307) are followed and forgotten.

- goes only to public addresses: every address a host name resolves to is checked before
  connecting, at each redirect hop too, so a feed cannot point the hub at 127.0.0.1, the local
  network or a cloud metadata service (169.254.169.254) unless its source says
  ``allow_private = true`` (:mod:`hub.netguard`);
- notes how long the server asks to be left alone (``Cache-Control: max-age``, ``Expires``),
  which the poll honours when it schedules the next one.

Errors are :class:`FetchError` (a ``SourceError``) carrying the HTTP status and any
``Retry-After``, which the poll's back-off honours. Behind the one client, connections live in
several small pools chosen by origin (:class:`ShardedTransport`), because one httpcore pool
holding hundreds of connections spends more time on its bookkeeping than on the requests.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ssl
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import certifi
import httpx

from hub import __version__
from hub.errors import SourceError
from hub.netguard import PrivateAddress, check_public

if TYPE_CHECKING:
    from hub.contracts import SourceState

try:  # brotli is optional for httpx too; without it we simply do not ask for "br"
    import brotli
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

USER_AGENT = f"WhatsAppNewsHub/{__version__} (+https://github.com/whatsapp-news-hub)"
ACCEPT_ENCODING = "gzip, deflate, br" if brotli is not None else "gzip, deflate"
PERMANENT = {301, 308}
REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class FetchPolicy:
    """How far a poll may go with any one server. Defaults follow Miniflux's proven ones."""

    connect_timeout: float = 10.0
    total_timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    per_host: int = 4
    max_redirects: int = 5
    max_connections: int = 1000
    user_agent: str = USER_AGENT


class FetchError(SourceError):
    """A fetch failed; ``status`` is the HTTP status when the server answered."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[object, ...]:  # keep status across process pools
        return (_rebuild_fetch_error, (self.message, self.status, self.retry_after))


def _rebuild_fetch_error(message: str, status: int | None, retry_after: float | None) -> FetchError:
    return FetchError(message, status=status, retry_after=retry_after)


class BodyTooLarge(FetchError):
    """The (decoded) body went past ``max_bytes``; the rest was not read."""


@dataclass
class Fetched:
    """One answer: the final URL and status, decoded body, headers, and what moved."""

    url: str
    status: int
    body: bytes = b""
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    moved_to: str | None = None  # the new URL after a chain of permanent redirects
    redirects: list[tuple[int, str]] = field(default_factory=list)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        content_type: str = self.headers.get("Content-Type", "")
        return content_type


def make_client(policy: FetchPolicy) -> httpx.AsyncClient:
    """The poll's one client: our User-Agent, the encodings we can decode, no automatic redirects."""
    return httpx.AsyncClient(
        headers={"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        follow_redirects=False,
        timeout=httpx.Timeout(policy.total_timeout, connect=policy.connect_timeout),
        transport=ShardedTransport(policy),
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~50 ms; do it once per process, not per pool or poll."""
    return ssl.create_default_context(cafile=certifi.where())


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several connection pools behind one client, chosen by origin.

    httpcore's pool does work proportional to its open connections on every request
    (encode/httpx#3215), so one pool holding 500 connections spends more time on bookkeeping
    than a 304 takes. Sharding by origin keeps each pool small; a host's connections stay in
    one shard, so keep-alive and the per-host limit behave as with a single pool.
    """

    def __init__(self, policy: FetchPolicy, shards: int = 16) -> None:
        per_shard = max(1, policy.max_connections // shards)
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        self._shards = [httpx.AsyncHTTPTransport(verify=_tls_context(), limits=limits)
                        for _ in range(shards)]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        shard = hash((url.scheme, url.host, url.port)) % len(self._shards)
        return await self._shards[shard].handle_async_request(request)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class Fetcher:
    """Fetches URLs for one poll through one client, politely and within bounds.

    ``allow_private`` lets this fetcher reach loopback and private addresses; the poll gives
    each source its own view (:meth:`for_source`) sharing the client and the per-host gates.
    ``wait_hint`` is the longest freshness a server declared for a document fetched with
    validators (seconds): the poll does not ask again sooner.
    """

    def __init__(self, client: httpx.AsyncClient, policy: FetchPolicy | None = None, *,
                 allow_private: bool = False) -> None:
        self.client = client
        self.policy = policy or FetchPolicy()
        self.allow_private = allow_private
        self.wait_hint: float | None = None
        self._hosts: dict[tuple[str, str, int | None], asyncio.Semaphore] = {}

    def for_source(self, *, allow_private: bool) -> Fetcher:
        """A view for one source: same client and host gates, its own address policy and hints."""
        view = Fetcher(self.client, self.policy, allow_private=allow_private)
        view._hosts = self._hosts
        return view

    def ask_to_wait(self, seconds: float) -> None:
        """Record that the document's publisher asks not to be polled for ``seconds``."""
        if seconds > 0 and (self.wait_hint is None or seconds > self.wait_hint):
            self.wait_hint = seconds

    def _gate(self, url: str) -> asyncio.Semaphore:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        gate = self._hosts.get(key)
        if gate is None:
            gate = self._hosts[key] = asyncio.Semaphore(self.policy.per_host)
        return gate

    async def get(
        self,
        url: str,
        *,
        state: SourceState | None = None,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> Fetched:
        """GET ``url``; with ``state``, send its validators and store the new ones on a 200.

        A 304 comes back as ``Fetched(status=304)`` with an empty body. Any other status of 400
        or more, a timeout, a refused connection or an oversized body raises :class:`FetchError`.
        """
        limit = max_bytes or self.policy.max_bytes
        deadline = timeout or self.policy.total_timeout
        request_headers = dict(headers or {})
        if state is not None:
            if state.etag:
                request_headers["If-None-Match"] = state.etag
            if state.last_modified:
                request_headers["If-Modified-Since"] = state.last_modified
        try:
            fetched = await self._follow(url, request_headers, auth, limit, deadline)
        except PrivateAddress as exc:
            raise FetchError(f"{url}: {exc}") from None
        except TimeoutError:
            raise FetchError(f"{url}: no complete answer within {deadline:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {_describe(exc)}") from None
        if state is not None and fetched.status == 200:
            if state.etag and fetched.headers.get("ETag") == state.etag:
                fetched.status, fetched.body = 304, b""  # a 200 with the same ETag is no change
                return fetched
            state.etag = fetched.headers.get("ETag")
            state.last_modified = fetched.headers.get("Last-Modified")
        if state is not None and fetched.status in (200, 304):
            fresh = freshness(fetched.headers)
            if fresh:
                self.ask_to_wait(fresh)
        return fetched

    async def _follow(self, url: str, headers: dict[str, str], auth: httpx.Auth | tuple[str, str] | None,
                      limit: int, deadline: float) -> Fetched:
        """Every hop, in turn; ``deadline`` counts time spent talking, not waiting for the gate."""
        redirects: list[tuple[int, str]] = []
        moved_to: str | None = None
        all_permanent = True
        current = url
        loop = asyncio.get_running_loop()
        spent = 0.0
        for _hop in range(self.policy.max_redirects + 1):
            async with self._gate(current), asyncio.timeout(deadline - spent):
                started = loop.time()
                if not self.allow_private:
                    await check_public(current)  # before connecting, at every hop
                request = self.client.build_request("GET", current, headers=headers)
                response = await self.client.send(request, auth=auth, stream=True)
                try:
                    status = response.status_code
                    if status in REDIRECTS and "Location" in response.headers:
                        target = urljoin(current, response.headers["Location"])
                        if urlsplit(target).scheme not in ("http", "https"):
                            raise FetchError(f"{current}: redirect to a non-HTTP URL {target!r}",
                                             status=status)
                        redirects.append((status, target))
                        all_permanent = all_permanent and status in PERMANENT
                        if all_permanent:
                            moved_to = target
                        current = target
                        spent += loop.time() - started
                        continue
                    if status == 304:
                        return Fetched(current, status, b"", response.headers, moved_to, redirects)
                    if status >= 400:
                        raise FetchError(f"{current}: HTTP {status} {response.reason_phrase}".rstrip(),
                                         status=status,
                                         retry_after=parse_retry_after(
                                             response.headers.get("Retry-After"),
                                             _http_date(response.headers.get("Date"))))
                    body = await read_capped(response, limit)
                    return Fetched(current, status, body, response.headers, moved_to, redirects)
                finally:
                    await response.aclose()
        raise FetchError(f"{url}: more than {self.policy.max_redirects} redirects")


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """Read and decode ``response`` as a stream; stop with ``BodyTooLarge`` past ``limit`` bytes."""
    encodings = [e.strip().lower() for e in response.headers.get("Content-Encoding", "").split(",")
                 if e.strip() and e.strip().lower() != "identity"]
    declared = response.headers.get("Content-Length")
    if not encodings and declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(response, limit, f"it announces {int(declared):,} bytes")
    decoders = [_decoder(e, limit, str(response.url)) for e in reversed(encodings)]
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        data = raw
        for decode in decoders:
            data = decode(data)
        size += len(data)
        if size > limit:
            raise _too_large(response, limit, "the decoded body is bigger")
        chunks.append(data)
    return b"".join(chunks)


def _too_large(response: httpx.Response, limit: int, why: str) -> BodyTooLarge:
    return BodyTooLarge(f"{response.url}: body refused: {why} than the {limit:,}-byte limit",
                        status=response.status_code)


def _decoder(encoding: str, limit: int, url: str) -> Callable[[bytes], bytes]:
    """A chunk decoder that never produces more than ``limit + 1`` bytes from one input chunk."""
    if encoding in ("gzip", "x-gzip", "deflate"):
        wbits = zlib.MAX_WBITS | 16 if encoding != "deflate" else zlib.MAX_WBITS
        decompressor, first = zlib.decompressobj(wbits), True

        def inflate(data: bytes) -> bytes:
            nonlocal decompressor, first
            d = decompressor
            if first and encoding == "deflate" and data:
                first = False
                if data[0] & 0x0F != 8:  # raw deflate, no zlib header (old IIS and friends)
                    d = decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                out = d.decompress(data, limit + 1)
                if len(out) > limit or not d.unconsumed_tail:
                    return out
                parts, size = [out], len(out)
                while d.unconsumed_tail and size <= limit:
                    more = d.decompress(d.unconsumed_tail, limit + 1 - size)
                    parts.append(more)
                    size += len(more)
                return b"".join(parts)
            except zlib.error as exc:
                raise FetchError(f"{url}: corrupt {encoding} body: {exc}") from None

        return inflate
    if encoding == "br" and brotli is not None:
        unbrotli = brotli.Decompressor()

        def debrotli(data: bytes) -> bytes:
            try:
                parts = [unbrotli.process(data, output_buffer_limit=limit + 1)]
                size = len(parts[0])
                while not unbrotli.can_accept_more_data() and size <= limit:
                    more = unbrotli.process(b"", output_buffer_limit=limit + 1 - size)
                    if not more:
                        break
                    parts.append(more)
                    size += len(more)
                return b"".join(parts)
            except brotli.error as exc:
                raise FetchError(f"{url}: corrupt brotli body: {exc}") from None

        return debrotli
    raise FetchError(f"{url}: the server used a Content-Encoding we did not ask for: {encoding!r}")


def freshness(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds the server says its answer stays fresh: ``Cache-Control: max-age`` (or
    ``s-maxage``), else ``Expires`` (against the server's ``Date`` when it sends one)."""
    control = headers.get("Cache-Control", "").lower()
    ages = {}
    for part in control.split(","):
        name, _, value = part.strip().partition("=")
        ages[name.strip()] = value.strip().strip('"')
    if "no-store" in ages or "no-cache" in ages:
        return None
    for name in ("s-maxage", "max-age"):
        if ages.get(name, "").isdigit():
            return float(ages[name])
    expires = _http_date(headers.get("Expires"))
    if expires is None:
        return None
    base = _http_date(headers.get("Date")) or now or datetime.now(UTC)
    return max(0.0, (expires - base).total_seconds())


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _describe(exc: httpx.HTTPError) -> str:
    text = str(exc) or "no answer"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {text}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"{type(exc).__name__}: {text}"
