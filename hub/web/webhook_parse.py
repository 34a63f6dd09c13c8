"""Meta's webhook JSON → plain records the hub acts on, without trusting any field to exist.

The envelope (``object``, ``entry[].changes[].field/value``) must be there, or the post is not a
WhatsApp webhook (400). Inside it everything is optional: an unknown message type or change field
becomes a record of type ``unknown``/``field:<name>`` that is stored and otherwise ignored. A
person is named by ``wa_id``/``from`` (the number, when Meta shares it), ``user_id``/``from_user_id``
(the business-scoped user id), ``parent_user_id``, or several of these; ``profile.username`` is
kept for display only. A message without a number is stored with ``phone=None``. A failed
status's Cloud API error code is turned here into the :class:`~hub.contracts.Action` the delivery
engine acts on (:mod:`hub.cloudapi.codes`), as the WhatsApp sink does for a failed send.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.cloudapi.codes import action_for
from hub.cloudapi.templates import TemplateUpdate, parse_template_update
from hub.delivery.statuses import StatusUpdate


class BadShape(ValueError):
    """The body is JSON but not a WhatsApp Business webhook."""


@dataclass
class Inbound:
    """One thing a person sent (or a change we keep without understanding it)."""

    key_source: str  # what makes it unique: "msg:<id>", "pref:…", "raw:<json>"
    type: str
    message_id: str | None = None
    phone: str | None = None
    user_id: str | None = None
    name: str | None = None
    parent_user_id: str | None = None
    username: str | None = None  # display only, never an identity
    previous_user_ids: tuple[str, ...] = ()  # a system message: the BSUIDs this person had before
    new_phone: str | None = None  # a system message: the number this person changed to
    text: str | None = None
    reply_id: str | None = None
    context_id: str | None = None
    sent_at: datetime | None = None
    preference: str | None = None  # "stop" | "resume" for user_preferences
    system_type: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contact:
    """One ``contacts[]`` entry: who Meta says wrote, with whatever identifiers it shares."""

    name: str | None = None
    phone: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None


@dataclass
class Parsed:
    inbound: list[Inbound] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    templates: list[TemplateUpdate] = field(default_factory=list)


def timestamp(value: Any, now: datetime) -> datetime:
    """Meta's unix seconds (a string in messages, a number in user_preferences) → UTC datetime."""
    try:
        seconds = float(value)
        return datetime.fromtimestamp(seconds, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now


def digits(value: Any) -> str | None:
    """A wa_id as stored: digits only, or None when there is none (or far too many to be one)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value) if isinstance(value, str) or abs(value) < 10**MAX_ID else ""
    only = "".join(c for c in text[:4 * MAX_ID] if c.isdigit())
    return only if only and len(only) <= MAX_ID else None


MAX_DEPTH = 64  # Meta's webhooks are under 10 levels deep; storing or re-encoding deeper JSON recurses


MAX_ID = 256  # Meta's ids are under 100 characters; longer is no id (and overflows an index)
# An escaped surrogate (maybe half a pair), a NUL, or a surrogate encoded in bytes (ED A0 80, CESU):
_UNSTORABLE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]|\\u0000|\x00|\xed[\xa0-\xbf]")
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")  # after decoding, pairs are joined: these are alone


def _storable(data: Any) -> Any:
    """The same JSON with each lone surrogate and each NUL replaced by U+FFFD.

    JSON lets them through, but no UTF-8 encoder takes a lone surrogate and PostgreSQL's text
    takes no NUL; replacing keeps the message.
    """
    if isinstance(data, str):
        return _UNSTORABLE.sub("\ufffd", data)
    if isinstance(data, list):
        return [_storable(item) for item in data]
    if isinstance(data, dict):
        return {_storable(key): _storable(value) for key, value in data.items()}
    return data


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (Python reads them; PostgreSQL's json refuses them): a 400."""
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def _finite(text: str) -> float | str:
    """A JSON number as a float, or as its own text when it overflows to infinity (``1e400``)."""
    value = float(text)
    return value if math.isfinite(value) else text


def _too_deep(data: Any) -> bool:
    """True when containers nest deeper than MAX_DEPTH (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, dict | list))
    return False


def parse(body: bytes, now: datetime) -> Parsed:
    """Parse a webhook body; raises ``BadShape`` (or ``ValueError`` for broken JSON)."""
    try:
        data = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    except RecursionError:  # '[[[[…' thousands deep: the decoder's stack ran out
        raise BadShape(f"nested deeper than {MAX_DEPTH} levels") from None
    if _too_deep(data):
        raise BadShape(f"nested deeper than {MAX_DEPTH} levels")
    if _UNSTORABLE_BYTES.search(body):
        data = _storable(data)
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        raise BadShape("expected an object with an 'entry' list")
    if data.get("object") not in (None, "whatsapp_business_account"):
        raise BadShape(f"unexpected object {data.get('object')!r}")
    parsed = Parsed()
    for entry in data["entry"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            raise BadShape("each entry must be an object with a 'changes' list")
        for change in entry.get("changes", []):
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                raise BadShape("each change must be an object with a 'value' object")
            _parse_change(str(change.get("field") or "messages"), change["value"], now, parsed)
    return parsed


def _parse_change(field_name: str, value: dict[str, Any], now: datetime, parsed: Parsed) -> None:
    contacts = _contacts(value.get("contacts"))
    if field_name == "messages":
        for raw in _dicts(value.get("messages")):
            parsed.inbound.append(_message(raw, contacts, now))
        for raw in _dicts(value.get("statuses")):
            update = parse_status(raw, now)
            if update is not None:
                parsed.statuses.append(update)
        if not value.get("messages") and not value.get("statuses"):
            parsed.inbound.append(_unknown(f"field:{field_name}", value))
    elif field_name == "user_preferences":
        for raw in _dicts(value.get("user_preferences")):
            phone = digits(raw.get("wa_id"))
            user_id = _id(raw.get("user_id"))
            choice = str(raw.get("value") or "").lower()
            moment = timestamp(raw.get("timestamp"), now)
            contact = _contact_for(contacts, phone, user_id)
            parsed.inbound.append(Inbound(
                key_source=f"pref:{phone}:{raw.get('user_id')}:{raw.get('timestamp')}:{choice}",
                type="user_preferences", phone=phone or contact.phone,
                user_id=user_id or contact.user_id,
                parent_user_id=_id(raw.get("parent_user_id")) or contact.parent_user_id,
                username=contact.username, name=contact.name, text=_str(raw.get("detail")),
                preference=choice, sent_at=moment, payload={"category": raw.get("category")},
            ))
    elif field_name == "message_template_status_update" and (found := parse_template_update(value, now)):
        parsed.templates.append(found)
        parsed.inbound.append(_unknown(f"field:{field_name}", value))  # kept, as every change is
    else:
        parsed.inbound.append(_unknown(f"field:{field_name}", value))


def _contacts(raw: Any) -> dict[str, Contact]:
    """wa_id, user id and parent user id → the contact they belong to."""
    found: dict[str, Contact] = {}
    for entry in _dicts(raw):
        profile = _obj(entry.get("profile"))
        contact = Contact(name=_str(profile.get("name")), phone=digits(entry.get("wa_id")),
                          user_id=_id(entry.get("user_id")),
                          parent_user_id=_id(entry.get("parent_user_id")),
                          username=_str(profile.get("username")))
        for ident in (contact.phone, contact.user_id, contact.parent_user_id):
            if ident:
                found[ident] = contact
    return found


def _contact_for(contacts: dict[str, Contact], phone: str | None, user_id: str | None,
                 parent: str | None = None) -> Contact:
    """The contact the sender's identifiers name; else the only contact, unless it is someone else."""
    for ident in (phone, user_id, parent):
        if ident and ident in contacts:
            return contacts[ident]
    distinct = set(contacts.values())
    if len(distinct) == 1:
        only = next(iter(distinct))
        clash = bool((phone and only.phone and only.phone != phone)
                     or (user_id and only.user_id and only.user_id != user_id))
        if not clash:
            return only
    return Contact()


def _message(raw: dict[str, Any], contacts: dict[str, Contact], now: datetime) -> Inbound:
    kind = _id(raw.get("type")) or "unknown"
    phone = digits(raw.get("from"))
    user_id = _id(raw.get("from_user_id"))
    parent = _id(raw.get("from_parent_user_id"))
    contact = _contact_for(contacts, phone, user_id, parent)
    context = _obj(raw.get("context"))
    message = Inbound(
        key_source=f"msg:{raw.get('id')}" if raw.get("id") else "raw:" + _canonical(raw),
        type=kind, message_id=_id(raw.get("id")), phone=phone or contact.phone,
        user_id=user_id or contact.user_id, parent_user_id=parent or contact.parent_user_id,
        username=contact.username, name=contact.name, context_id=_id(context.get("id")),
        sent_at=timestamp(raw.get("timestamp"), now), payload=raw,
    )
    body = _obj(raw.get(kind))
    if kind == "text":
        message.text = _str(body.get("body"))
    elif kind == "interactive":
        reply_type = _str(body.get("type")) or ""
        reply = _obj(body.get(reply_type))
        message.reply_id, message.text = _id(reply.get("id")), _str(reply.get("title"))
        if reply_type == "nfm_reply":
            message.text = _str(reply.get("body"))
    elif kind == "button":
        message.reply_id, message.text = _id(body.get("payload")), _str(body.get("text"))
    elif kind == "reaction":
        message.text, message.context_id = _str(body.get("emoji")), _id(body.get("message_id"))
    elif kind in ("image", "video", "audio", "document", "sticker"):
        message.text = _str(body.get("caption"))
    elif kind == "system":
        message.text, message.system_type = _str(body.get("body")), _str(body.get("type"))
        # A new number (user_changed_number) or a new BSUID (user_changed_user_id): the same person.
        message.previous_user_ids = tuple(i for i in (_id(body.get("previous_user_id")),
                                                      _id(body.get("previous_parent_user_id"))) if i)
        message.user_id = _id(body.get("user_id")) or message.user_id
        message.parent_user_id = _id(body.get("parent_user_id")) or message.parent_user_id
        message.new_phone = digits(body.get("wa_id")) or digits(body.get("new_wa_id"))
    elif kind == "unsupported" or kind == "unknown":
        errors = _dicts(raw.get("errors"))
        message.text = _str(errors[0].get("title")) if errors else None
    return message


def _unknown(kind: str, value: dict[str, Any]) -> Inbound:
    return Inbound(key_source="raw:" + _canonical(value), type=kind, payload=value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id(value: Any) -> str | None:
    """An identifier (message id, user id, button id): a string short enough to be one, else None."""
    text = _str(value)
    return text if text is not None and len(text) <= MAX_ID else None


def parse_status(raw: dict[str, Any], now: datetime) -> StatusUpdate | None:
    """One ``statuses[]`` entry → :class:`StatusUpdate`, or None when it has no id or status."""
    wamid, status = raw.get("id"), raw.get("status")
    if _id(wamid) is None or _id(status) is None:
        return None
    assert isinstance(wamid, str) and isinstance(status, str)
    code, detail = None, None
    errors = raw.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = _error_code(first.get("code"))
        data = _obj(first.get("error_data"))
        parts = [str(p) for p in (first.get("title"), data.get("details")) if p]
        detail = ": ".join(dict.fromkeys(parts))[:2000] or None
    pricing = _obj(raw.get("pricing"))
    opaque = raw.get("biz_opaque_callback_data")
    status = status.lower()
    return StatusUpdate(
        wamid=wamid, status=status, at=timestamp(raw.get("timestamp"), now),
        biz_opaque=str(opaque) if opaque not in (None, "") else None, error_code=code,
        error_detail=detail, category=_str(pricing.get("category")),
        billable=pricing["billable"] if isinstance(pricing.get("billable"), bool) else None,
        pricing_type=_str(pricing.get("type")), pricing_model=_str(pricing.get("pricing_model")),
        action=action_for(code) if status == "failed" else None,
    )


def _error_code(value: Any) -> int | None:
    """An error code that fits the store's integer column (PostgreSQL's is 32 bits), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and -2**31 <= value < 2**31:
        return value
    return None
