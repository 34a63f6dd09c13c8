"""Run an ASGI app on a real uvicorn server in a background thread, on 127.0.0.1.

For tests, benchmarks and ``hub demo``: the same server ``hub serve`` runs, on a free port, stopped
cleanly when the ``with`` block ends. (uvicorn binds the port itself: a socket handed to it
pre-bound loses TCP_NODELAY on accepted connections, which costs ~40 ms per request.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL (``http://127.0.0.1:<port>``)."""
    config = uvicorn.Config(app, host=host, port=0, log_level="warning", access_log=False, log_config=None,
                            lifespan="auto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    ready = threading.Event()
    for _ in range(1000):
        if server.started or not thread.is_alive():
            break
        ready.wait(0.01)
    if not server.started:
        server.should_exit = True
        thread.join(timeout=5)
        raise RuntimeError(f"uvicorn did not start on {host}")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
