"""``hub serve``: the webhook alone, on uvicorn (the daemon mounts the same app)."""

from __future__ import annotations

import click

from hub.app import App
from hub.clock import Clock


def webhook_app(app: App, *, send: bool = True, clock: Clock | None = None):  # noqa: ANN201 - Starlette
    """The configured webhook app; the secrets are read from the environment here, or it refuses.

    With ``send`` (and a sink configured), replies planned by the webhook are sent at once.
    ``clock`` (tests, ``hub demo``) is the time the webhook and its replier see.
    """
    from hub.config import secret_from_env
    from hub.group_commit import prefer_prompt_commits
    from hub.replier import Replier
    from hub.webhook import build_app

    cfg = app.config.webhook
    secret = secret_from_env(cfg.app_secret_env, purpose="the App Secret that signs webhooks")
    token = secret_from_env(cfg.verify_token_env, purpose="the webhook verify token")
    prefer_prompt_commits()
    replier = None
    if send and app.config.delivering_sink() is not None:
        replier = Replier(app.store, app.sink, clock=clock)
    return build_app(app.store, app.config.audience, app.config.tz, app_secret=secret,
                     verify_token=token, max_body_bytes=cfg.max_body_bytes, path=cfg.path,
                     pm=app.pm, replier=replier, clock=clock)


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: [webhook] host).")
@click.option("--port", type=int, default=None, help="Port (default: [webhook] port).")
@click.option("--no-send", is_flag=True,
              help="Only plan replies (welcome, confirmations); `hub send` or the daemon sends them.")
@click.pass_obj
def serve(app: App, host: str | None, port: int | None, no_send: bool) -> None:
    """Run the webhook that receives statuses and what people write (Ctrl-C stops it)."""
    import uvicorn

    asgi = webhook_app(app, send=not no_send)
    cfg = app.config.webhook
    host, port = host or cfg.host, port if port is not None else cfg.port
    click.echo(f"Webhook listening on http://{host}:{port}{cfg.path}")
    # No access log: the verification handshake carries the verify token in its query string.
    uvicorn.run(asgi, host=host, port=port, log_level="warning", access_log=False)
