"""What the hub does when a person writes: join, leave, choose topics, ask why, get help.

Everything here runs inside the webhook's write transaction, so the inbound message, the
consent event, the subscriber's new state and the planned replies are committed together before
the 200. Replies are never sent from here: they are planned as deliveries (body kind ``reply``,
due now) and go out through the outbox like everything else.

Leaving wins: an unsubscribe keyword anywhere in a short message unsubscribes, at once, and every
delivery still planned for that person is skipped in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from hub.audience import identity
from hub.audience.consent import record_opt_in, record_opt_out
from hub.audience.keywords import FILLER, as_written, match, names, stems, words
from hub.audience.texts import Texts
from hub.config import AudienceConfig
from hub.delivery.plan import insert_ignoring_duplicates
from hub.delivery.render import reply_body
from hub.storage.tables import ConsentEventRow, DeliveryRow, SubscriberRow
from hub.timekeeping.hours import closed_since, is_open, parse_hours
from hub.web.webhook_parse import Inbound

WEEKLY, PAUSE, ALL_TOPICS, TOPIC = "hub:weekly", "hub:pause", "hub:topics:all", "hub:topic:"
SUBSCRIBE_ID, UNSUBSCRIBE_ID = "hub:subscribe", "hub:unsubscribe"
SHORT_LEAVE = 6  # leaving is honoured more readily than anything else
NO_REPLY = ("reaction", "system", "user_preferences")
@dataclass
class Outcome:
    """What handling one inbound did: a short action name, and changes for plugin hooks."""

    action: str
    changes: list[tuple[SubscriberRow, str]] = field(default_factory=list)


class Audience:
    """The subscriber lifecycle, configured by ``[audience]``."""

    def __init__(self, config: AudienceConfig, zone: ZoneInfo) -> None:
        self.config = config
        self.zone = zone
        self.away_hours = parse_hours(config.away.hours) if config.away else None
        self.texts = Texts(config.language, config.all_texts())
        self._topic_words = {tag: [words(tag), words(label)] for tag, label in config.topics.items()}

    # ---- entry point -------------------------------------------------------------------------

    def handle(self, session: Session, inbound: Inbound, inbound_id: int, now: datetime) -> Outcome:
        """Act on one newly stored inbound message; the caller commits."""
        if not ids_of(inbound):
            return Outcome("ignored: no sender (neither a number nor a business-scoped user id)")
        if inbound.type == "user_preferences" or inbound.system_type == "user_preference_changed":
            return self._preference(session, inbound, now)
        if inbound.type.startswith("field:"):
            return Outcome("ignored")
        person = self._person(session, inbound, now)
        if inbound.type in NO_REPLY:
            return Outcome("stored")
        return self._command(session, person, inbound, inbound_id, now)

    # ---- people ------------------------------------------------------------------------------

    def _person(self, session: Session, inbound: Inbound, now: datetime) -> SubscriberRow:
        """The row for whoever wrote (created as a mere contact), with its 24 h window refreshed.

        Number, business-scoped user ids or both: :func:`hub.audience.identity.resolve` links
        them to one person.
        """
        person = identity.resolve(session, ids_of(inbound), now)
        assert person is not None
        if inbound.new_phone and inbound.new_phone != person.phone:
            identity.link(session, person, identity.Ids(phone=inbound.new_phone), now)
        if inbound.name:
            person.name = inbound.name
        if inbound.type != "system":
            wrote = min(inbound.sent_at or now, now)
            if person.last_inbound_at is None or wrote > person.last_inbound_at:
                person.last_inbound_at = wrote
        session.flush()
        return person

    def _command(self, session: Session, person: SubscriberRow, inbound: Inbound, inbound_id: int,
                 now: datetime) -> Outcome:
        cfg = self.config
        reply_id = inbound.reply_id or ""
        said = words(inbound.text)
        tapped = words(reply_id) if reply_id and not reply_id.startswith("hub:") else []
        if reply_id == UNSUBSCRIBE_ID or any(
                match(s, cfg.unsubscribe, SHORT_LEAVE) is not None for s in (said, tapped) if s):
            return self.unsubscribe(session, person, inbound, inbound_id, now)
        if reply_id in (WEEKLY, PAUSE):
            return self._lighter(session, person, inbound, inbound_id, now, weekly=reply_id == WEEKLY)
        if reply_id == ALL_TOPICS or reply_id.startswith(TOPIC):
            return self._toggle(session, person, inbound, inbound_id, now, reply_id)
        if reply_id == SUBSCRIBE_ID:
            return self.subscribe(session, person, inbound, inbound_id, now, said)
        for spoken in (said, tapped):
            if not spoken:
                continue
            if (rest := match(spoken, cfg.subscribe)) is not None:
                return self.subscribe(session, person, inbound, inbound_id, now, rest)
            if (rest := match(spoken, cfg.topics_words)) is not None:
                if topics := self._topics_in(rest):
                    return self._choose(session, person, inbound, inbound_id, now, topics, rest)
                return self._topics_list(session, person, inbound, inbound_id, now, rest)
            if match(spoken, cfg.why_words) is not None:
                return self._why(session, person, inbound, inbound_id, now)
            if match(spoken, cfg.help_words) is not None:
                self._reply(session, person, f"reply:{inbound_id}", self.texts("help"), now,
                            inbound=inbound)
                return Outcome("help")
            for keyword, answer in cfg.quick_replies.items():
                if match(spoken, [keyword]) is not None:
                    self._reply(session, person, f"reply:{inbound_id}", answer, now, inbound=inbound)
                    return Outcome(f"quick reply {keyword}")
        return self._fallback(session, person, inbound, now)

    # ---- joining and leaving -----------------------------------------------------------------

    def subscribe(self, session: Session, person: SubscriberRow, inbound: Inbound, inbound_id: int,
                  now: datetime, rest: list[str]) -> Outcome:
        """Join (or re-join: a new consent) with the topics named after the keyword, if any."""
        topics = self._topics_in(rest)
        unknown = self._unknown_topics(inbound, rest, topics)
        key = f"reply:{inbound_id}"
        if person.status == "active" and person.opted_in_at is not None:
            if topics:
                self._set_topics(session, person, topics, inbound, now)
                text = " ".join(p for p in (unknown, self._topics_line(person)) if p)
                self._reply(session, person, key, text, now, inbound=inbound)
                return Outcome("topics" + (" (unknown topic)" if unknown else ""), [(person, "topics")])
            text = " ".join(p for p in (unknown, self.texts("already_subscribed"),
                                        self._topics_line(person)) if p)
            self._reply(session, person, key, text, now, inbound=inbound)
            return Outcome("already subscribed" + (" (unknown topic)" if unknown else ""))
        record_opt_in(session, person.phone, now, channel="whatsapp", words=inbound.text,
                      message_id=inbound.message_id, name=inbound.name, topics=topics or None,
                      person=person)
        person.rhythm, person.paused_until = "normal", None
        text = self.texts("welcome")
        if unknown:
            text += "\n\n" + unknown + " " + self._topics_line(person)
        elif self.config.topics:
            text += "\n\n" + self._topics_line(person)
        self._reply(session, person, key, text, now, inbound=inbound)
        return Outcome("subscribed" + (" (unknown topic)" if unknown else ""),
                       [(person, "subscribed")])

    def unsubscribe(self, session: Session, person: SubscriberRow, inbound: Inbound | None,
                    inbound_id: int | None, now: datetime, *, channel: str = "whatsapp",
                    confirm: bool = True) -> Outcome:
        """Leave at once: status, consent event and skipped deliveries in this one transaction."""
        if person.status != "active":
            return Outcome("already unsubscribed")
        record_opt_out(session, person, now, channel=channel,
                       words=inbound.text if inbound else None,
                       message_id=inbound.message_id if inbound else None)
        person.rhythm, person.paused_until = "normal", None
        skip_planned(session, person, now, "opted out")
        if confirm and inbound_id is not None:
            days, goodbye = self.config.pause_days, self.texts("goodbye")
            buttons = [{"type": "reply", "reply": {"id": WEEKLY, "title": self.texts("weekly_button")}},
                       {"type": "reply", "reply": {"id": PAUSE,
                                                   "title": self.texts("pause_button", days=days)}}]
            interactive = {"type": "button", "body": {"text": goodbye},
                           "action": {"buttons": buttons}}
            text = (f"{goodbye}\n\n{self.texts('weekly_option')}"
                    f"\n{self.texts('pause_option', days=days)}")
            self._reply(session, person, f"goodbye:{inbound_id}", text, now, interactive,
                        inbound=inbound)
        return Outcome("unsubscribed", [(person, "unsubscribed")])

    def _lighter(self, session: Session, person: SubscriberRow, inbound: Inbound, inbound_id: int,
                 now: datetime, *, weekly: bool) -> Outcome:
        """The one-tap way back offered with the goodbye: a new, recorded consent."""
        if weekly:
            note, answer = "lighter way back: weekly digest only", self.texts("weekly_done")
        else:
            until = now + timedelta(days=self.config.pause_days)
            note = f"lighter way back: pause of {self.config.pause_days} days"
            answer = self.texts("paused_done", date=self.texts.date(until.astimezone(self.zone)))
        record_opt_in(session, person.phone, now, channel="whatsapp", words=inbound.text,
                      message_id=inbound.message_id, name=inbound.name, note=note, person=person)
        person.rhythm = "weekly" if weekly else "normal"
        person.paused_until = None if weekly else now + timedelta(days=self.config.pause_days)
        self._reply(session, person, f"reply:{inbound_id}", answer, now, inbound=inbound)
        return Outcome("weekly" if weekly else "paused", [(person, "subscribed")])

    def _preference(self, session: Session, inbound: Inbound, now: datetime) -> Outcome:
        """WhatsApp's own stop/resume of marketing: stop is an opt-out; resume is noted only.

        Whatever identifiers it carries (a number, a BSUID, both) find the person: a stop is
        never lost because Meta left the number out.
        """
        person = identity.resolve(session, ids_of(inbound), now, create=False)
        if person is None:
            return Outcome("ignored: unknown person")
        choice = inbound.preference or ("stop" if "STOP" in words(inbound.text) else "resume")
        if choice == "stop":
            person.marketing_stopped = True
            outcome = self.unsubscribe(session, person, inbound, None, now,
                                       channel="whatsapp_preferences", confirm=False)
            return Outcome(f"marketing stop: {outcome.action}", outcome.changes)
        person.marketing_stopped = False
        session.add(ConsentEventRow(subscriber_id=person.id, phone=person.phone,
                                    user_id=person.user_id, kind="preference",
                                    channel="whatsapp_preferences", words=inbound.text,
                                    note="resumed marketing messages in WhatsApp", at=now))
        return Outcome("marketing resume (not a subscription by itself)")

    # ---- topics ------------------------------------------------------------------------------

    def _topics_in(self, rest: list[str]) -> list[str]:
        """The configured topics named in ``rest``, by tag or label, singular or plural."""
        said = [stems(w) for w in rest]
        return [tag for tag, forms in self._topic_words.items()
                if any(form and names(said, [stems(w) for w in form]) for form in forms)]

    def _unknown_topics(self, inbound: Inbound, rest: list[str], found: list[str]) -> str:
        """The answer to words after ALTA or TEMAS that name no configured topic ("" if none):
        the topics there are, or that there are none to choose, never silence."""
        covered: set[str] = set()
        for tag in found:
            for form in self._topic_words[tag]:
                for word in form:
                    covered |= stems(word)
        picked = [i for i, word in enumerate(rest) if word not in FILLER and not stems(word) & covered]
        if not picked:
            return ""
        if not self.config.topics:
            return self.texts("topics_none_configured")
        return self.texts("topics_unknown", said=as_written(inbound.text, rest, picked),
                          topics=", ".join(self.config.topics.values()))

    def _topics_line(self, person: SubscriberRow) -> str:
        chosen = [self.config.topics.get(t, t) for t in person.topics or []]
        if chosen:
            return self.texts("topics_mine", topics=", ".join(chosen))
        if self.config.topics:
            return self.texts("topics_all_choosable")
        return self.texts("topics_all")

    def _set_topics(self, session: Session, person: SubscriberRow, topics: list[str],
                    inbound: Inbound, now: datetime) -> None:
        person.topics = list(topics)
        session.add(ConsentEventRow(subscriber_id=person.id, phone=person.phone,
                                    user_id=person.user_id, kind="topics", channel="whatsapp",
                                    words=inbound.text, message_id=inbound.message_id,
                                    note=",".join(topics), at=now))

    def _topics_list(self, session: Session, person: SubscriberRow, inbound: Inbound,
                     inbound_id: int, now: datetime, rest: list[str] | None = None) -> Outcome:
        topics = self.config.topics
        key = f"reply:{inbound_id}"
        if not topics:
            self._reply(session, person, key, self.texts("topics_none_configured"),
                        now, inbound=inbound)
            return Outcome("topics list (none configured)")
        unknown = self._unknown_topics(inbound, rest or [], [])
        chosen = set(person.topics or [])
        intro = next((a for k, a in self.config.quick_replies.items()
                      if words(k) and match(words(k), self.config.topics_words) is not None),
                     self.texts("topics_intro"))
        if unknown:
            intro = f"{unknown}\n\n{intro}"
        t = self.texts
        rows = [{"id": f"{TOPIC}{tag}", "title": label[:24],
                 "description": t("topic_chosen") if tag in chosen else t("topic_tap")}
                for tag, label in topics.items()]
        rows.append({"id": ALL_TOPICS, "title": t("all_topics"),
                     "description": t("all_topics_chosen") if not chosen else t("all_topics_tap")})
        interactive = {"type": "list", "body": {"text": f"{intro}\n\n{self._topics_line(person)}"},
                       "action": {"button": t("topics_button"),
                                  "sections": [{"title": t("topics_section"), "rows": rows}]}}
        lines = [f"• {label}{' ✓' if tag in chosen else ''}" for tag, label in topics.items()]
        text = f"{intro}\n\n" + "\n".join(lines) + f"\n\n{self._topics_line(person)}"
        self._reply(session, person, key, text, now, interactive, inbound=inbound)
        return Outcome("topics list" + (" (unknown topic)" if unknown else ""))

    def _choose(self, session: Session, person: SubscriberRow, inbound: Inbound, inbound_id: int,
                now: datetime, topics: list[str], rest: list[str]) -> Outcome:
        """"TEMAS educación": those topics become the person's choice, as with ALTA and topics."""
        self._set_topics(session, person, topics, inbound, now)
        unknown = self._unknown_topics(inbound, rest, topics)
        text = " ".join(p for p in (unknown, self._topics_line(person)) if p)
        if person.status != "active":
            text += " " + self.texts("start_hint")
        self._reply(session, person, f"reply:{inbound_id}", text, now, inbound=inbound)
        return Outcome("topics", [(person, "topics")])

    def _toggle(self, session: Session, person: SubscriberRow, inbound: Inbound, inbound_id: int,
                now: datetime, reply_id: str) -> Outcome:
        chosen = list(person.topics or [])
        if reply_id == ALL_TOPICS:
            chosen = []
        else:
            tag = reply_id.removeprefix(TOPIC)
            if tag not in self.config.topics:
                return self._fallback(session, person, inbound, now)
            chosen = [t for t in chosen if t != tag] if tag in chosen else [*chosen, tag]
        self._set_topics(session, person, chosen, inbound, now)
        text = self._topics_line(person)
        if person.status != "active":
            text += " " + self.texts("start_hint")
        self._reply(session, person, f"reply:{inbound_id}", text, now, inbound=inbound)
        return Outcome("topics", [(person, "topics")])

    # ---- why, help, away ---------------------------------------------------------------------

    def _why(self, session: Session, person: SubscriberRow, inbound: Inbound, inbound_id: int,
             now: datetime) -> Outcome:
        self._reply(session, person, f"reply:{inbound_id}", self.why_text(session, person),
                    now, inbound=inbound)
        return Outcome("why")

    def why_text(self, session: Session, person: SubscriberRow) -> str:
        """Which message, which routine, which topics matched, and when and how they joined."""
        recent = session.exec(
            select(DeliveryRow).where(DeliveryRow.subscriber_id == person.id,
                                      col(DeliveryRow.status).in_(["sent", "delivered", "read"]))
            .order_by(col(DeliveryRow.sent_at).desc(), col(DeliveryRow.id).desc()).limit(50)
        ).all()
        last = next((d for d in recent if (d.body or {}).get("kind") != "reply"), None)
        joined = session.exec(
            select(ConsentEventRow).where(ConsentEventRow.subscriber_id == person.id,
                                          ConsentEventRow.kind == "opt_in")
            .order_by(col(ConsentEventRow.at).desc())
        ).first()
        t = self.texts
        parts: list[str] = []
        if last is None:
            parts.append(t("why_nothing_yet"))
        else:
            items: list[dict[str, Any]] = list((last.body or {}).get("items") or [])
            titles = ", ".join(t("why_title", title=i["title"]) for i in items if i.get("title"))
            sent = last.sent_at or last.created_at
            when = t.moment(sent.astimezone(self.zone)) if sent else "—"
            if last.routine:
                parts.append(t("why_sent_routine", titles=titles or t("why_a_message"), when=when,
                               routine=last.routine))
            else:
                parts.append(t("why_sent", titles=titles or t("why_a_message"), when=when))
            tags = {tag.lower() for i in items for tag in i.get("tags") or []}
            mine = [topic for topic in person.topics or [] if topic.lower() in tags]
            if mine:
                parts.append(t("why_matches", topics=", ".join(self.config.topics.get(m, m) for m in mine)))
            elif not person.topics:
                parts.append(t("why_all_news"))
        if joined is not None and joined.at is not None:
            day = t.date(joined.at.astimezone(self.zone))
            if joined.words:
                parts.append(t("why_joined_words", date=day, words=joined.words))
            elif joined.note:
                parts.append(t("why_joined_note", date=day, note=joined.note))
            else:
                parts.append(t("why_joined", date=day))
        parts.append(t("why_end"))
        return " ".join(parts)

    def _fallback(self, session: Session, person: SubscriberRow, inbound: Inbound,
                  now: datetime) -> Outcome:
        """Anything else: the away message once per closed period, help at most once a day."""
        actions = []
        away = self.config.away
        if away and self.away_hours and not is_open(self.away_hours, now, self.zone):
            since = closed_since(self.away_hours, now, self.zone).astimezone(self.zone)
            if self._reply(session, person, f"away:{person.id}:{since:%Y-%m-%dT%H:%M}",
                           away.message, now, inbound=inbound):
                actions.append("away")
        day = now.astimezone(self.zone).date().isoformat()
        if self._reply(session, person, f"help:{person.id}:{day}", self.texts("help"), now,
                       inbound=inbound):
            actions.append("help")
        return Outcome(" + ".join(actions) or "no reply (help already sent today)")

    # ---- planning replies --------------------------------------------------------------------

    def _reply(self, session: Session, person: SubscriberRow, key: str, text: str, now: datetime,
               interactive: dict[str, Any] | None = None, *, inbound: Inbound | None = None) -> bool:
        """Plan a reply, due now, through the outbox; False when ``key`` was already planned."""
        session.flush()
        body = reply_body(text, interactive, inbound.message_id if inbound else None)
        return insert_ignoring_duplicates(session, [{
            "key": key, "subscriber_id": person.id, "item_id": None, "routine": None,
            "body": body, "status": "planned", "created_at": now, "due_at": now, "attempts": 0,
        }]) > 0


def ids_of(inbound: Inbound) -> identity.Ids:
    """Every identifier one inbound gives for its sender."""
    return identity.Ids(phone=inbound.phone, user_id=inbound.user_id,
                        parent_user_id=inbound.parent_user_id,
                        previous=inbound.previous_user_ids, username=inbound.username)


def skip_planned(session: Session, person: SubscriberRow, now: datetime, reason: str) -> int:
    """Mark every delivery still planned for ``person`` skipped, so none is sent afterwards."""
    session.flush()
    result = session.connection().execute(
        update(DeliveryRow)
        .where(col(DeliveryRow.subscriber_id) == person.id, col(DeliveryRow.status) == "planned")
        .values(status="skipped", reason=reason, updated_at=now)
    )
    return max(result.rowcount or 0, 0)
