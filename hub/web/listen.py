"""Serving in the foreground (``hub serve``): a busy port is one line, and the port is told once bound.

uvicorn alone says "listening" only in its own log, fails on a busy port with its own line and
exit code, and cannot say which port ``--port 0`` chose before it is bound. Here the port is
tried first, so a busy one is a :class:`PortBusy` naming the option to change, and ``on_ready``
hears the real port once uvicorn listens.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

from hub.errors import HubError, PortBusy


def check_port_free(host: str, port: int, option: str) -> None:
    """Raise :class:`PortBusy` when ``host:port`` cannot be bound (port 0 always can)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise HubError(f"cannot listen on {host}:{port}: {exc.strerror}",
                               hint=f"change it with {option}") from None
            raise PortBusy(f"port {port} on {host} is already in use (another hub?)",
                           hint=f"pass {option} N with a free port, or {option} 0 for any free one"
                           ) from None


def serve_foreground(asgi: Any, host: str, port: int, *, option: str,
                     on_ready: Callable[[int], None]) -> None:
    """Serve ``asgi`` until Ctrl-C/SIGTERM; ``on_ready(port)`` once it really listens."""
    check_port_free(host, port, option)
    # No access log: the verification handshake carries the verify token in its query string.
    server = uvicorn.Server(uvicorn.Config(asgi, host=host, port=port, log_level="warning",
                                           access_log=False, log_config=None))

    async def tell_when_listening() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.05)
        on_ready(server.servers[0].sockets[0].getsockname()[1])

    async def main() -> None:
        teller = asyncio.create_task(tell_when_listening())
        try:
            await server.serve()
        finally:
            teller.cancel()

    try:
        asyncio.run(main())
    except SystemExit as exc:  # uvicorn's exit when the port was taken after the check
        if not server.started:
            raise PortBusy(f"could not listen on {host}:{port}",
                           hint=f"pass {option} N with a free port") from exc
        raise
