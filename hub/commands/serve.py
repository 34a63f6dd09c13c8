"""``hub serve``: the webhook alone, on uvicorn (the daemon mounts the same app)."""

from __future__ import annotations

import click

from hub.app import App
from hub.web.webhook_app import webhook_app


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: [webhook] host).")
@click.option("--port", type=int, default=None, help="Port (default: [webhook] port).")
@click.option("--no-send", is_flag=True,
              help="Only plan replies (welcome, confirmations); `hub send` or the daemon sends them.")
@click.pass_obj
def serve(app: App, host: str | None, port: int | None, no_send: bool) -> None:
    """Run the webhook that receives statuses and what people write (Ctrl-C stops it)."""
    from hub.web.listen import serve_foreground

    asgi = webhook_app(app, send=not no_send)
    cfg = app.config.webhook
    host, port = host or cfg.host, port if port is not None else cfg.port
    serve_foreground(asgi, host, port, option="--port",
                     on_ready=lambda real: click.echo(f"Webhook listening on http://{host}:{real}{cfg.path}"))
