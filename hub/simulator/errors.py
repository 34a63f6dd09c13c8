"""Meta's error bodies, with the keys and types of the real ones (see whatsapp-samples)."""

from __future__ import annotations

import secrets
from typing import Any

from hub.cloudapi.codes import title_for

# Meta's HTTP statuses are not documented per code (act on ``code``); these are the usual ones.
HTTP_STATUS = {190: 401, 0: 401, 130429: 429, 131056: 429, 4: 429, 80007: 429,
               1: 500, 2: 503, 131000: 500, 131016: 503}
SUBCODES = {130429: 2494055}


class ApiError(Exception):
    """A request Meta would refuse: ``code`` and ``details`` go into the error body."""

    def __init__(self, code: int, details: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"({code}) {details}")
        self.code = code
        self.details = details
        self.retry_after = retry_after


def fbtrace_id() -> str:
    return secrets.token_urlsafe(17)[:23]


def error_body(code: int, details: str) -> dict[str, Any]:
    """``{"error": {message, type, code, error_data: {messaging_product, details}, fbtrace_id}}``."""
    error: dict[str, Any] = {
        "message": f"(#{code}) {title_for(code)}",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
    }
    if code in SUBCODES:
        error["error_subcode"] = SUBCODES[code]
    error["fbtrace_id"] = fbtrace_id()
    return {"error": error}


def unknown_object_body(object_id: str, method: str = "post") -> dict[str, Any]:
    """Graph's answer for a phone number id that does not exist (code 100, subcode 33)."""
    return {"error": {
        "message": (f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
                    "loaded due to missing permissions, or does not support this operation. Please read "
                    "the Graph API documentation at https://developers.facebook.com/docs/graph-api"),
        "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": fbtrace_id(),
    }}


def status_error(code: int, details: str) -> dict[str, Any]:
    """One entry of ``statuses[].errors`` for a ``failed`` status webhook."""
    title = title_for(code)
    return {"code": code, "title": title, "message": title, "error_data": {"details": details},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}
