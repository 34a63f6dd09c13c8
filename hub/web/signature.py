"""Meta's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``.

Shared by the webhook (which checks it) and the Cloud API simulator (which signs its posts).
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature-256"


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for ``body``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def is_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """True only for the exact signature of ``body``, compared in constant time.

    A header with non-ASCII characters is simply wrong (``compare_digest`` would raise on it).
    """
    if not header or not header.isascii() or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(body, app_secret), header.strip())


def refusal_reason(header: str | None) -> tuple[str, str]:
    """Why a post with this header was refused, and the fix, for the log: never the secret or digest."""
    if not header:
        return "signature missing", (f"no {HEADER} header: the sender signs nothing; give it the "
                                     "same app secret as the hub (WHATSAPP_APP_SECRET)")
    return "signature wrong", ("the sender's app secret is not the hub's (is WHATSAPP_APP_SECRET, "
                               "or [webhook] app_secret_env, the same on both sides?)")
