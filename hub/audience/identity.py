"""Who a person is, whatever identifiers Meta gives: a number, business-scoped user ids, or both.

Meta names a WhatsApp user by their phone number (``wa_id``), by a business-scoped user id (BSUID,
``ES.13491208655302741918``), by a parent BSUID shared across portfolios (``ES.ENT.1181…``), or by
several of these at once. A person who adopts a username may write with a BSUID only; a new
number brings a new BSUID. Here all of them lead to one subscriber row:

- a number is ``subscribers.phone``; every BSUID and parent BSUID ever seen is a ``person_ids``
  row pointing at the subscriber (``subscribers.user_id`` keeps the latest, to send to);
- a message carrying several identifiers links them; when they had been two rows (someone joined
  with a number and wrote later from a username account before Meta showed both together), the
  rows are merged into one — and an opt-out on either side is never lost;
- a username is display data only: it changes at will and never identifies anyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from hub.storage.tables import ConsentEventRow, DeliveryRow, PersonIdRow, SubscriberRow

_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")


def is_bsuid(text: str) -> bool:
    """Whether ``text`` is a business-scoped user id (or a parent one), e.g. ``ES.1349…``."""
    return bool(_BSUID.match(text))


def is_parent(user_id: str) -> bool:
    """A parent BSUID (shared across a company's portfolios) has ``ENT`` after the country."""
    return bool(_BSUID.match(user_id)) and user_id[3:7] == "ENT."


@dataclass(frozen=True)
class Ids:
    """The identifiers one webhook gave for one person; any of them may be missing."""

    phone: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    previous: tuple[str, ...] = ()  # BSUIDs this person had before (a number or id change)
    username: str | None = None

    def user_ids(self) -> list[str]:
        return [i for i in (self.user_id, self.parent_user_id, *self.previous) if i]

    def __bool__(self) -> bool:
        return bool(self.phone or self.user_ids())


def find(session: Session, ident: str) -> SubscriberRow | None:
    """The subscriber a number (digits, as stored) or any BSUID they ever had names, if any."""
    if is_bsuid(ident):
        owner = session.exec(select(PersonIdRow.subscriber_id).where(PersonIdRow.value == ident)).first()
        if owner is None:
            return session.exec(select(SubscriberRow).where(SubscriberRow.user_id == ident)).first()
        return session.get(SubscriberRow, owner)
    return session.exec(select(SubscriberRow).where(SubscriberRow.phone == ident)).first()


def user_ids_of(session: Session, person: SubscriberRow) -> list[str]:
    """Every BSUID and parent BSUID known for ``person``, oldest first."""
    known = list(session.exec(select(PersonIdRow.value).where(PersonIdRow.subscriber_id == person.id)
                              .order_by(col(PersonIdRow.id))).all())
    if person.user_id and person.user_id not in known:
        known.append(person.user_id)
    return known


def resolve(session: Session, ids: Ids, now: datetime, *, create: bool = True) -> SubscriberRow | None:
    """The one subscriber ``ids`` name, with every identifier in them linked to it.

    None when nobody is known and ``create`` is false (or ``ids`` is empty); with ``create``, an
    unknown person becomes a mere contact (``status="contact"``), as anyone who writes does.
    """
    if not ids:
        return None
    found = _rows(session, ids)
    if not found:
        if not create:
            return None
        person = SubscriberRow(phone=ids.phone, status="contact", created_at=now, topics=[])
        session.add(person)
        session.flush()
    else:
        person = next((p for p in found if ids.phone and p.phone == ids.phone), found[0])
        for other in found:
            if other.id != person.id:
                merge(session, person, other, now)
    link(session, person, ids, now)
    return person


def link(session: Session, person: SubscriberRow, ids: Ids, now: datetime) -> None:
    """Attach every identifier in ``ids`` to ``person`` (a new number replaces the old one)."""
    assert person.id is not None, "flush the person before linking identifiers to it"
    if ids.phone and person.phone != ids.phone:
        holder = session.exec(select(SubscriberRow).where(SubscriberRow.phone == ids.phone)).first()
        if holder is not None and holder.id != person.id:
            merge(session, person, holder, now)  # the new number was someone's row: the same person
        person.phone = ids.phone
    known = set(session.exec(select(PersonIdRow.value).where(
        col(PersonIdRow.value).in_(ids.user_ids()))).all())
    for value in dict.fromkeys(ids.user_ids()):
        if value not in known:
            session.add(PersonIdRow(subscriber_id=person.id, value=value, seen_at=now,
                                    kind="parent_bsuid" if is_parent(value) else "bsuid"))
    if ids.user_id:
        person.user_id = ids.user_id
    elif ids.parent_user_id and not person.user_id:
        person.user_id = ids.parent_user_id
    if ids.username:
        person.username = ids.username
    session.flush()


def _rows(session: Session, ids: Ids) -> list[SubscriberRow]:
    """The distinct subscribers any of ``ids`` already names, oldest first."""
    owners: set[int] = set()
    if ids.phone:
        owners.update(i for i in session.exec(select(SubscriberRow.id).where(
            SubscriberRow.phone == ids.phone)).all() if i is not None)
    if ids.user_ids():
        owners.update(session.exec(select(PersonIdRow.subscriber_id).where(
            col(PersonIdRow.value).in_(ids.user_ids()))).all())
    if not owners:
        return []
    return list(session.exec(select(SubscriberRow).where(col(SubscriberRow.id).in_(owners))
                             .order_by(col(SubscriberRow.id))).all())


def _last_change(person: SubscriberRow) -> datetime | None:
    moments = [m for m in (person.opted_in_at, person.opted_out_at) if m is not None]
    return max(moments) if moments else None


def merge(session: Session, keep: SubscriberRow, other: SubscriberRow, now: datetime) -> None:
    """Make ``other`` part of ``keep``: one person, one row, one consent state.

    The consent state is the one changed last; on a tie, or when ``other`` left after ``keep``
    joined, leaving wins — an opt-out is never lost to a merge. ``other``'s history (deliveries,
    consent events, identifiers) moves to ``keep``; its row is deleted.
    """
    from hub.audience.inbound import skip_planned

    theirs, ours = _last_change(other), _last_change(keep)
    take_theirs = theirs is not None and (ours is None or theirs > ours or (
        theirs == ours and other.status == "unsubscribed"))
    if take_theirs:
        keep.status, keep.opted_in_at, keep.opted_out_at = other.status, other.opted_in_at, other.opted_out_at
        keep.topics = list(other.topics or [])
        keep.rhythm, keep.paused_until = other.rhythm, other.paused_until
    keep.marketing_stopped = keep.marketing_stopped or other.marketing_stopped
    keep.created_at = min(d for d in (keep.created_at, other.created_at) if d is not None)
    keep.last_inbound_at = _latest(keep.last_inbound_at, other.last_inbound_at)
    keep.last_sent_at = _latest(keep.last_sent_at, other.last_sent_at)
    keep.name = keep.name or other.name
    keep.username = keep.username or other.username
    keep.user_id = keep.user_id or other.user_id
    number, other.phone = other.phone, None
    session.flush()  # the number is unique: free it before giving it to ``keep``
    if keep.phone is None and number is not None and not number.startswith("forgotten-"):
        keep.phone = number
    session.flush()
    _move_history(session, keep, other, now)
    session.add(ConsentEventRow(subscriber_id=keep.id, phone=keep.phone, user_id=keep.user_id,
                                kind="merged", channel="whatsapp", at=now,
                                note=f"subscriber #{other.id} was the same person "
                                     "(one message carried both identifiers)"))
    if keep.status != "active":
        skip_planned(session, keep, now, "opted out")
    session.delete(other)
    session.flush()


def _move_history(session: Session, keep: SubscriberRow, other: SubscriberRow, now: datetime) -> None:
    """Re-point ``other``'s rows at ``keep``; a story both rows were to receive goes once."""
    mine = session.exec(select(DeliveryRow.item_id, DeliveryRow.run_id).where(
        DeliveryRow.subscriber_id == keep.id)).all()
    items = {i for i, _ in mine if i is not None}
    runs = {r for _, r in mine if r is not None}
    twice = [d.id for d in session.exec(select(DeliveryRow).where(
        DeliveryRow.subscriber_id == other.id, DeliveryRow.status == "planned")).all()
        if (d.item_id is not None and d.item_id in items) or (d.run_id is not None and d.run_id in runs)]
    connection = session.connection()
    if twice:
        connection.execute(update(DeliveryRow).where(col(DeliveryRow.id).in_(twice)).values(
            status="skipped", reason="duplicate: the same person", updated_at=now))
    for table in (DeliveryRow, ConsentEventRow, PersonIdRow):
        connection.execute(update(table).where(col(table.subscriber_id) == other.id)
                           .values(subscriber_id=keep.id))
    session.expire_all()


def _latest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def forget_ids(session: Session, person: SubscriberRow) -> list[str]:
    """Erase every BSUID and the username of ``person``; returns the BSUIDs erased (to find their
    traces elsewhere)."""
    values = user_ids_of(session, person)
    for row in session.exec(select(PersonIdRow).where(PersonIdRow.subscriber_id == person.id)).all():
        session.delete(row)
    person.user_id = None
    person.username = None
    return values


def describe(person: SubscriberRow, *, full: bool = False) -> str:
    """How a person is shown: their number, else their BSUID, masked unless ``full``."""
    from hub.privacy import mask_person

    if full:
        return f"+{person.phone}" if person.phone else (person.user_id or "?")
    return mask_person(person.phone, person.user_id)

