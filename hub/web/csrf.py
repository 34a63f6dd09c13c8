"""The dashboard's session cookie and CSRF token, both bound to the dashboard token.

Opening the page with the token sets a cookie ``nonce.mac`` (HttpOnly, SameSite=Strict, path
``/dashboard``); every form carries a second MAC of the same nonce. A button's POST is accepted
only with a valid cookie, the matching form token, and an ``Origin`` naming this very host, so a
page elsewhere can neither forge a click nor read the token. Changing ``HUB_DASHBOARD_TOKEN``
voids every session at once, as the MACs are keyed with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

COOKIE = "hub_dashboard"


def _mac(token: str, purpose: str, nonce: str) -> str:
    key = token.encode("utf-8", "surrogateescape")
    return hmac.new(key, f"{purpose}:{nonce}".encode(), hashlib.sha256).hexdigest()


def new_session(token: str) -> tuple[str, str]:
    """A fresh cookie value and its nonce."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_mac(token, 'session', nonce)}", nonce


def session_nonce(cookie: str | None, token: str | None) -> str | None:
    """The nonce of a cookie this token issued, else None."""
    if not cookie or not token or "." not in cookie:
        return None
    nonce, mac = cookie.rsplit(".", 1)
    return nonce if hmac.compare_digest(mac.encode(), _mac(token, "session", nonce).encode()) else None


def csrf_token(token: str, nonce: str) -> str:
    """The value every form of this session carries."""
    return _mac(token, "csrf", nonce)


def csrf_valid(provided: str | None, token: str, nonce: str) -> bool:
    if not provided:
        return False
    return hmac.compare_digest(provided.encode("utf-8", "surrogateescape"), csrf_token(token, nonce).encode())


def same_origin(origin: str | None, *hosts: str | None) -> bool:
    """Whether a POST's ``Origin`` names the host it was sent to (scheme aside: a TLS proxy).

    ``hosts`` are the ``Host`` header and, behind a reverse proxy, ``X-Forwarded-Host``: a form
    on another site can set neither, so either may vouch for the page's own address.
    """
    if not origin or origin == "null":
        return False
    netloc = urlsplit(origin).netloc.lower()
    return any(h and netloc == h.split(",")[0].strip().lower() for h in hosts)
