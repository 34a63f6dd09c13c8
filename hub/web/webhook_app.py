"""The webhook app as a configured hub serves it: secrets from the environment, replies sent at once.

``hub serve`` runs it alone; ``hub run`` mounts it beside its own pages; ``hub demo`` and the tests
serve it on loopback.
"""

from __future__ import annotations

from starlette.applications import Starlette

from hub.app import App
from hub.timekeeping.clock import Clock


def webhook_app(app: App, *, send: bool = True, clock: Clock | None = None) -> Starlette:
    """The configured webhook app; the secrets are read from the environment here, or it refuses.

    With ``send`` (and a sink configured), replies planned by the webhook are sent at once.
    ``clock`` (tests, ``hub demo``) is the time the webhook and its replier see.
    """
    from hub.config import secret_from_env
    from hub.delivery.replier import Replier
    from hub.web.group_commit import prefer_prompt_commits
    from hub.web.webhook import build_app

    cfg = app.config.webhook
    secret = secret_from_env(cfg.app_secret_env, purpose="the App Secret that signs webhooks")
    token = secret_from_env(cfg.verify_token_env, purpose="the webhook verify token")
    prefer_prompt_commits()
    replier = None
    if send and app.config.delivering_sink() is not None:
        replier = Replier(app.store, app.sink, clock=clock)
    return build_app(app.store, app.config.audience, app.config.tz, app_secret=secret,
                     verify_token=token, max_body_bytes=cfg.max_body_bytes, path=cfg.path,
                     body_timeout=cfg.body_timeout,
                     pm=app.pm, replier=replier, clock=clock)
