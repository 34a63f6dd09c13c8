"""Which addresses a source may reach: public ones, unless it says ``allow_private = true``.

A feed URL (or a redirect) naming 127.0.0.1, the local network, or a cloud's metadata service
(169.254.169.254) would let whoever controls a feed make the hub read internal pages. Host names
are resolved here and every address they resolve to is checked, before any connection is made.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from hub.errors import SourceError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateAddress(SourceError):
    """The URL leads to a loopback, private, link-local or otherwise non-public address."""


def is_public(address: Address) -> bool:
    """Globally routable unicast; an IPv4-mapped IPv6 address is judged by its IPv4 part."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def check_public(url: str) -> None:
    """Raise :class:`PrivateAddress` unless every address ``url``'s host resolves to is public."""
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    if not host:
        raise PrivateAddress(f"{url!r} names no host")
    for address in await resolve(host, parts.port or (443 if parts.scheme == "https" else 80)):
        if not is_public(address):
            raise PrivateAddress(
                f"refused: {host} is a private or local address ({address}); set "
                "allow_private = true on this source if the hub is meant to read it")


async def resolve(host: str, port: int) -> list[Address]:
    """The addresses ``host`` stands for: itself when it is an IP literal, else DNS's answers."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []  # unresolvable: the connection attempt fails and says so
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
