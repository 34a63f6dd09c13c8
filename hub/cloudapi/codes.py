"""What to do about each Cloud API error ``code`` (Meta: act on the code, never on HTTP status).

The WhatsApp sink (and the webhook, for failed statuses) turns a code into the
:class:`hub.contracts.Action` the delivery engine obeys; the engine itself knows no code. The table
follows "Errors" in the team's Cloud API notes (Meta's error-codes page). Unknown codes
fail the one delivery: retrying something not understood could loop or spam.
"""

from __future__ import annotations

from hub.contracts import Action

RETRY_CODES = frozenset({4, 80007, 131016, 131057, 131000, 1, 2})
TABLE: dict[int, Action] = {
    **{code: Action.RETRY for code in RETRY_CODES},
    130429: Action.SLOW_DOWN,            # the number's throughput: every send waits, this one retries
    131056: Action.WAIT_PERSON,          # pair rate: only this recipient waits
    131049: Action.WAIT_DAY,             # per-user marketing limit: not before 24 h
    131047: Action.TEMPLATE,             # outside the 24-hour window: the template instead
    131050: Action.MARKETING_STOPPED,    # the person stopped marketing messages: never retry
    131062: Action.FAIL,                 # sent by BSUID, and this message cannot go to one: never retried
    190: Action.PAUSE,                   # the token is bad: hold all sending until it works
    0: Action.PAUSE,
    131031: Action.STOP,                 # the account is restricted: stop, alert a human
    368: Action.STOP,
}

TITLES: dict[int, str] = {
    0: "AuthException",
    1: "API Unknown",
    2: "API Service",
    4: "Application request limit reached",
    10: "Permission Denied",
    100: "Invalid parameter",
    190: "Access token has expired",
    368: "Temporarily blocked for policies violations",
    80007: "Rate limit issues",
    130429: "Rate limit hit",
    130472: "User's number is part of an experiment",
    130497: "Business account is restricted from messaging users in this country",
    131000: "Something went wrong",
    131005: "Access denied",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131016: "Service unavailable",
    131021: "Recipient cannot be sender",
    131026: "Message Undeliverable",
    131031: "Business Account locked",
    131042: "Business eligibility payment issue",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving marketing "
            "messages on WhatsApp from your business.",
    131051: "Unsupported message type",
    131053: "Media upload error",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131062: "Business-scoped user ID (BSUID) recipients are not supported for this message",
    131057: "Account in maintenance mode",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
    132005: "Translated text too long",
    132007: "Template Format Character Policy Violated",
    132012: "Parameter format does not match format in the created template",
    132015: "Template is Paused",
    132016: "Template is Disabled",
    133010: "Account not registered",
}


def action_for(code: int | None) -> Action:
    """The action for an API error code; ``None`` (no code: network, bare 5xx) is a retry.
    Unknown codes fail the one delivery: retrying something not understood could loop or spam."""
    if code is None:
        return Action.RETRY
    return TABLE.get(code, Action.FAIL)


def title_for(code: int) -> str:
    return TITLES.get(code, "Error")


def label(code: int | str | None) -> str:
    """A code as an admin reads it: ``131062 (Business-scoped user ID … not supported …)``."""
    if code is None:
        return "none"
    number = int(code) if isinstance(code, int) or str(code).isdigit() else None
    return f"{code} ({TITLES[number]})" if number in TITLES else str(code)
