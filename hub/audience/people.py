"""Subscribers as an admin and the law see them: add with proof, import, export, forget.

Numbers are normalised to E.164 with ``phonenumbers`` and stored without the plus sign, as
WhatsApp's ``wa_id``. A person whose number Meta never shared is named by a business-scoped user
id (``ES.1349…``) wherever a number is accepted (:mod:`hub.audience.identity`). ``forget`` erases
personal data everywhere the hub keeps it (number, BSUIDs, username, name, words, message ids —
a wamid encodes the recipient's number) and keeps anonymous rows, so the statistics still count
what was sent, delivered and read.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import String, cast, or_
from sqlmodel import Session, SQLModel, col, select

from hub.audience import bulk_import, identity
from hub.audience.consent import record_opt_in, record_opt_out
from hub.delivery.statuses import FORGOTTEN_PREFIX, forgotten_wamid
from hub.errors import HubError
from hub.events import hears_people, subscriber_changed
from hub.storage.tables import ConsentEventRow, DeliveryRow, InboundMessageRow, StatusEventRow, SubscriberRow


class PeopleError(HubError):
    """A number, a file or a request about a person that cannot be acted on."""


def normalise_phone(raw: str, region: str | None = None) -> str:
    """``"+34 612 34 56 78"`` → ``"34612345678"``; raises ``ValueError`` saying why not."""
    text = raw.strip()
    if not text:
        raise ValueError("empty number")
    candidates = [text] if text.startswith("+") or region else [text, "+" + text]
    if text.startswith("00"):
        candidates.insert(0, "+" + text[2:])
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    hint = "" if region or text.startswith("+") else " (write it with its country code, e.g. +34…)"
    raise ValueError(f"{raw!r} is not a valid phone number{hint}")


def normalise_person(raw: str, region: str | None = None) -> str:
    """A number (normalised as :func:`normalise_phone`) or a business-scoped user id, as given."""
    if identity.is_bsuid(raw.strip()):
        return raw.strip()
    return normalise_phone(raw, region)


def find(session: Session, phone: str) -> SubscriberRow | None:
    """The person with this number, or with this business-scoped user id (any they ever had)."""
    return identity.find(session, phone)


def require(session: Session, phone: str) -> SubscriberRow:
    person = find(session, phone)
    if person is None:
        what = "business-scoped user id" if identity.is_bsuid(phone) else "number"
        raise PeopleError(f"no subscriber with {what} {phone}", hint="`hub subscribers list` shows them")
    return person


def add(session: Session, phone: str, now: datetime, *, note: str, name: str | None = None,
        topics: list[str] | None = None, channel: str = "cli") -> SubscriberRow:
    """Subscribe ``phone`` on the admin's word; ``note`` (how the person agreed) is the proof."""
    if not note.strip():
        raise PeopleError("a consent note is required", hint='say how the person agreed, e.g. '
                          '--consent "signed form at the library, 2026-03-02"')
    person = identity.resolve(session, identity.Ids(user_id=phone), now) if identity.is_bsuid(phone) else None
    person = record_opt_in(session, None if person else phone, now, channel=channel, note=note.strip(),
                           name=name, topics=topics, person=person)
    subscriber_changed(session, person, "subscribed")
    return person


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def read_import(text: str, region: str | None = None) -> tuple[list[tuple[int, str, str | None,
                                                                          list[str]]], list[str]]:
    """Lines ``number[,name[,topic topic…]]`` (a header line is allowed) → rows and rejections."""
    rows, rejected = [], []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields or not "".join(fields).strip() or fields[0].strip().startswith("#"):
            continue
        if number == 1 and fields[0].strip().lower() in ("phone", "number", "telefono", "teléfono"):
            continue
        try:
            phone = normalise_phone(fields[0], region)
        except ValueError as exc:
            rejected.append(f"line {number}: {exc}")
            continue
        name = fields[1].strip() if len(fields) > 1 and fields[1].strip() else None
        topics = fields[2].replace(";", " ").split() if len(fields) > 2 else []
        rows.append((number, phone, name, topics))
    return rows, rejected


def import_people(session: Session, text: str, now: datetime, *, note: str,
                  region: str | None = None, skip_invalid: bool = False) -> ImportResult:
    """Import a list; with any invalid line nothing is stored unless ``skip_invalid``.

    People who left by writing BAJA are not re-added by a list (they asked us to stop); ``add``
    one by one, with a fresh consent note, if they agreed again.
    """
    if not note.strip():
        raise PeopleError("a consent note is required for an import",
                          hint='e.g. --consent "newsletter sign-up form, 2025"')
    rows, rejected = read_import(text, region)
    result = ImportResult(rejected=rejected)
    if rejected and not skip_invalid:
        listing = "\n".join(f"  {r}" for r in rejected)
        raise PeopleError(f"{len(rejected)} invalid line(s), nothing imported:\n{listing}",
                          hint="fix them, or pass --skip-invalid to import the valid lines")
    if not hears_people(session):  # nobody to tell one by one: new numbers go in bulk
        rows = _insert_new_in_bulk(session, rows, now, note.strip(), result)
    for number, phone, name, topics in rows:
        existing = find(session, phone)
        if existing is not None and existing.status in ("unsubscribed", "forgotten"):
            result.skipped.append(f"line {number}: {phone[:4]}… left on {existing.opted_out_at:%Y-%m-%d}"
                                  if existing.opted_out_at else f"line {number}: left before")
            continue
        add(session, phone, now, note=note, name=name, topics=topics or None, channel="import")
        result.added.append(phone)
    return result


def _insert_new_in_bulk(session: Session, rows: list[tuple[int, str, str | None, list[str]]],
                        now: datetime, note: str, result: ImportResult
                        ) -> list[tuple[int, str, str | None, list[str]]]:
    """Store the first line of each number not stored yet; returns the lines left to add one by
    one (numbers already stored, and a number's later lines, which update it as before)."""
    stored = bulk_import.stored_numbers(session, list(dict.fromkeys(phone for _, phone, _, _ in rows)))
    new: list[tuple[str, str | None, list[str]]] = []
    rest = []
    for row in rows:
        _, phone, name, topics = row
        if phone in stored:
            rest.append(row)
        else:
            stored.add(phone)
            new.append((phone, name, topics))
            result.added.append(phone)
    bulk_import.insert_new(session, new, now, note=note)
    return rest


def set_topics(session: Session, person: SubscriberRow, topics: list[str], now: datetime,
               note: str) -> None:
    person.topics = list(dict.fromkeys(topics))
    session.add(ConsentEventRow(subscriber_id=person.id, phone=person.phone, user_id=person.user_id,
                                kind="topics", channel="cli", note=note, at=now))
    subscriber_changed(session, person, "topics")


def remove(session: Session, person: SubscriberRow, now: datetime) -> None:
    """Unsubscribe on the admin's word, at once (planned deliveries are skipped)."""
    from hub.audience.inbound import skip_planned

    if person.status == "active":
        record_opt_out(session, person, now, channel="cli")
    skip_planned(session, person, now, "opted out")
    subscriber_changed(session, person, "unsubscribed")


def _plain(row: SQLModel) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.model_dump().items()}


def export(session: Session, phone: str) -> dict[str, Any]:
    """Everything the hub stores about one person (GDPR access), as plain JSON-able data.

    ``phone`` may be their number or any business-scoped user id they had; both lead to all.
    """
    person = find(session, phone)
    numbers, user_ids = _identifiers(session, person, phone)
    inbound = session.exec(select(InboundMessageRow).where(_written_by(numbers, user_ids))
                           .order_by(col(InboundMessageRow.id))).all()
    if person is None and not inbound:
        raise PeopleError(f"nothing stored about {phone}")
    data: dict[str, Any] = {"phone": person.phone if person else phone,
                            "user_ids": user_ids, "subscriber": _plain(person) if person else None,
                            "inbound_messages": [_plain(m) for m in inbound]}
    consent_filter: Any = or_(col(ConsentEventRow.phone).in_(numbers),
                              col(ConsentEventRow.user_id).in_(user_ids))
    if person is not None:
        consent_filter = or_(consent_filter, col(ConsentEventRow.subscriber_id) == person.id)
    data["consent_events"] = [_plain(e) for e in session.exec(
        select(ConsentEventRow).where(consent_filter).order_by(col(ConsentEventRow.at))).all()]
    deliveries = session.exec(select(DeliveryRow).where(DeliveryRow.subscriber_id == person.id)
                              .order_by(col(DeliveryRow.id))).all() if person else []
    data["deliveries"] = [_plain(d) for d in deliveries]
    ids = [d.id for d in deliveries]
    data["status_events"] = [_plain(s) for s in session.exec(
        select(StatusEventRow).where(col(StatusEventRow.delivery_id).in_(ids))
        .order_by(col(StatusEventRow.id))).all()] if ids else []
    return data


def _identifiers(session: Session, person: SubscriberRow | None, given: str) -> tuple[list[str], list[str]]:
    """The numbers and business-scoped user ids that name this person (or ``given`` alone)."""
    numbers = [n for n in {given, person.phone if person else None}
               if n and not identity.is_bsuid(n) and not n.startswith("forgotten-")]
    user_ids = identity.user_ids_of(session, person) if person else []
    if identity.is_bsuid(given) and given not in user_ids:
        user_ids.append(given)
    return sorted(numbers), user_ids


def _written_by(numbers: list[str], user_ids: list[str]) -> Any:
    """Inbound rows from any of these identifiers."""
    return or_(col(InboundMessageRow.phone).in_(numbers), col(InboundMessageRow.user_id).in_(user_ids))


def _carries(wamid: str, phone: str) -> bool:
    """Whether a wamid encodes ``phone`` (Meta's ids are base64 that begins with the number)."""
    text = wamid.removeprefix("wamid.")
    try:
        return phone.encode() in base64.b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return False


def forget(session: Session, phone: str, now: datetime) -> dict[str, int]:
    """Erase a person's data everywhere (``phone``: their number or any BSUID they had):
    numbers, business-scoped user ids and username included; anonymous rows stay for the
    statistics."""
    from hub.audience.inbound import skip_planned

    person = find(session, phone)
    numbers, user_ids = _identifiers(session, person, phone)
    counts = {"inbound_messages": 0, "consent_events": 0, "deliveries": 0, "status_events": 0}
    inbound = session.exec(select(InboundMessageRow).where(or_(
        _written_by(numbers, user_ids),
        *(cast(InboundMessageRow.payload, String).like(f"%{i}%") for i in numbers + user_ids),
    ))).all()
    if person is None and not inbound:
        raise PeopleError(f"nothing stored about {phone}")
    for message in inbound:
        message.message_id = message.phone = message.user_id = message.name = None
        message.text = message.reply_id = message.context_id = None
        message.payload = {}
        counts["inbound_messages"] += 1
    consent_filter: Any = or_(col(ConsentEventRow.phone).in_(numbers),
                              col(ConsentEventRow.user_id).in_(user_ids))
    if person is not None:
        consent_filter = or_(consent_filter, col(ConsentEventRow.subscriber_id) == person.id)
    for event in session.exec(select(ConsentEventRow).where(consent_filter)).all():
        event.phone = event.user_id = event.words = event.message_id = event.note = None
        counts["consent_events"] += 1
    if person is not None:
        skip_planned(session, person, now, "forgotten")
        for delivery in session.exec(select(DeliveryRow).where(DeliveryRow.subscriber_id == person.id)):
            if (delivery.body or {}).get("kind") == "reply":
                delivery.body = {"kind": "reply", "forgotten": True}
            if delivery.wamid and not delivery.wamid.startswith(FORGOTTEN_PREFIX):
                for status in session.exec(select(StatusEventRow).where(
                        or_(col(StatusEventRow.wamid) == delivery.wamid,
                            col(StatusEventRow.delivery_id) == delivery.id))):
                    status.wamid, status.error_detail = None, None
                    counts["status_events"] += 1
                delivery.wamid = forgotten_wamid(delivery.wamid)
            delivery.error_detail = None
            counts["deliveries"] += 1
        for pending in session.exec(select(StatusEventRow).where(
                col(StatusEventRow.delivery_id).is_(None), col(StatusEventRow.wamid).is_not(None))):
            if pending.wamid and any(_carries(pending.wamid, n) for n in numbers):
                pending.wamid, pending.error_detail = forgotten_wamid(pending.wamid), None
                counts["status_events"] += 1
        identity.forget_ids(session, person)
        person.phone = f"forgotten-{person.id}"
        person.name = None
        person.topics = []
        person.status = "forgotten"
        person.last_inbound_at = None
        subscriber_changed(session, person, "forgotten")
    return counts
