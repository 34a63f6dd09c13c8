"""Joining, choosing topics, asking why, leaving — as a person on WhatsApp would live it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from hub.config import AudienceConfig, AwayConfig
from hub.delivery.plan import plan_each
from hub.delivery.send import dispatch_due
from hub.storage.tables import ConsentEventRow, DeliveryRow, InboundMessageRow, ItemRow
from tests.audience_kit import (
    NAME,
    PHONE,
    TOPICS,
    Hub,
    RecordingSink,
    Switch,
    button_reply,
    list_reply,
    preference,
    template_button,
)
from whatsapp_news_hub_plugins.sinks.console import ConsoleSink


def _news(hub: Hub, title: str, tags: list[str], routine: str = "mañanas") -> int:
    """Plan one story for everyone it matches, as a routine would."""
    with hub.store.write() as session:
        item = ItemRow(source="web", guid=title, url=f"https://example.org/{len(title)}", title=title,
                       summary="…", tags=tags, fetched_at=hub.clock.now())
        session.add(item)
        session.flush()
        return plan_each(session, [item], hub.clock.now(), routine=routine)


def _consents(hub: Hub) -> list[ConsentEventRow]:
    with hub.store.read() as session:
        return session.exec(select(ConsentEventRow).order_by(ConsentEventRow.id)).all()


def test_subscribe_with_topics_records_consent_and_sends_the_welcome(hub: Hub, capsys) -> None:
    hub.say("¡Alta!  Deportes, CULTURA por favor")
    person = hub.person()
    assert (person.status, person.name, sorted(person.topics)) == ("active", NAME, ["cultura", "deportes"])
    [event] = _consents(hub)
    with hub.store.read() as session:
        inbound = session.exec(select(InboundMessageRow)).one()
    assert (event.kind, event.channel, event.phone, event.words, event.message_id) == (
        "opt_in", "whatsapp", PHONE, "¡Alta!  Deportes, CULTURA por favor", inbound.message_id)
    assert event.at == hub.clock.now()
    report = asyncio.run(dispatch_due(hub.store, ConsoleSink(ConsoleSink.Options()), hub.clock))
    assert report.sent == 1
    printed = capsys.readouterr().out
    assert "Te has suscrito" in printed and "BAJA" in printed and "Deportes, Cultura" in printed
    assert PHONE not in printed  # the console shows masked numbers


@pytest.mark.parametrize("said", ["alta", "ALTA.", "Álta", "  alta deportes ", "quiero el alta",
                                  "Suscribirme", "START", "subscribe"])
def test_subscribe_keywords_tolerate_case_accents_punctuation_and_extra_words(hub: Hub, said: str) -> None:
    hub.say(said)
    assert hub.person().status == "active"


def test_topics_list_and_a_tap_toggles_a_topic(hub: Hub) -> None:
    hub.say("ALTA deportes")
    hub.say("temas")
    body = hub.deliveries()[-1].body
    rows = body["interactive"]["action"]["sections"][0]["rows"]
    assert body["interactive"]["type"] == "list"
    assert [r["id"] for r in rows] == [f"hub:topic:{t}" for t in TOPICS] + ["hub:topics:all"]
    assert all(len(r["title"]) <= 24 for r in rows)
    assert "Deportes ✓" in body["text"]
    hub.post(list_reply("hub:topic:cultura", "Cultura", hub.clock.now()))
    assert hub.person().topics == ["deportes", "cultura"]
    hub.post(list_reply("hub:topic:deportes", "Deportes", hub.clock.now()))
    assert hub.person().topics == ["cultura"]
    assert "Tus temas: Cultura" in hub.replies()[-1]
    hub.post(list_reply("hub:topics:all", "Todos los temas", hub.clock.now()))
    assert hub.person().topics == []
    assert [e.kind for e in _consents(hub)] == ["opt_in", "topics", "topics", "topics"]


def test_temas_with_words_sets_the_topics_like_alta_does(tmp_path: Path, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback,
              audience=AudienceConfig(topics={**TOPICS, "educacion": "Educación"}))
    hub.say("ALTA")
    hub.say("TEMAS educacion")
    assert hub.person().topics == ["educacion"]
    assert "Tus temas: Educación" in hub.replies()[-1]
    hub.say("temas Deporte y OBRA")  # singular, any case: still the configured topics
    assert hub.person().topics == ["deportes", "obras"]
    hub.say("Temas: educaciónes")
    assert hub.person().topics == ["educacion"]
    hub.say("temas")  # no words: the list to tap, as before
    assert hub.deliveries()[-1].body["interactive"]["type"] == "list"
    hub.say("temas de cocina")  # nothing configured by that name: the list, topics unchanged
    assert hub.person().topics == ["educacion"]
    assert hub.deliveries()[-1].body["interactive"]["type"] == "list"
    assert [e.kind for e in _consents(hub)] == ["opt_in", "topics", "topics", "topics"]


def test_alta_with_a_singular_topic_takes_the_plural_one(hub: Hub) -> None:
    hub.say("alta deporte")
    assert hub.person().topics == ["deportes"]


def test_why_names_the_message_the_routine_and_the_matching_topic(hub: Hub) -> None:
    hub.say("ALTA deportes")
    assert _news(hub, "El equipo local asciende", ["deportes", "noticias"]) == 1
    assert _news(hub, "Concierto en la plaza", ["cultura"]) == 0  # not their topic
    hub.dispatch()
    hub.clock.advance(hours=2)
    hub.say("¿Por qué?")
    answer = hub.replies()[-1]
    assert "«El equipo local asciende»" in answer
    assert "rutina «mañanas»" in answer
    assert "Coincide con tus temas: Deportes" in answer
    assert "«ALTA deportes»" in answer  # how and when they joined
    hub.say("why")
    assert len(hub.replies()) == 3


def test_baja_stops_a_planned_delivery_at_once_and_confirms_once(hub: Hub, capsys) -> None:
    hub.say("ALTA")
    hub.dispatch()  # the welcome
    assert _news(hub, "Pleno municipal", ["noticias"]) == 1
    hub.clock.advance(minutes=1)
    hub.say("Baja")
    planned = [d for d in hub.deliveries() if d.body.get("kind") == "item"]
    assert [(d.status, d.reason) for d in planned] == [("skipped", "opted out")]
    person = hub.person()
    assert (person.status, person.opted_out_at) == ("unsubscribed", hub.clock.now())
    assert [e.kind for e in _consents(hub)] == ["opt_in", "opt_out"]
    capsys.readouterr()
    report = asyncio.run(dispatch_due(hub.store, ConsoleSink(ConsoleSink.Options()), hub.clock))
    printed = capsys.readouterr().out
    assert report.sent == 1 and "Pleno municipal" not in printed and "no recibirás más" in printed
    confirmation = hub.deliveries()[-1].body
    assert [b["reply"]["id"] for b in confirmation["interactive"]["action"]["buttons"]] == [
        "hub:weekly", "hub:pause"]
    hub.say("BAJA")  # again: nothing new is sent
    assert hub.dispatch().sent == 0
    assert _news(hub, "Otra noticia", ["noticias"]) == 0  # never planned for them again


@pytest.mark.parametrize("way_out", ["STOP", "stop!", "darme de baja", "Unsubscribe please"])
def test_every_way_of_saying_stop_unsubscribes(hub: Hub, way_out: str) -> None:
    hub.say("ALTA")
    hub.say(way_out)
    assert hub.person().status == "unsubscribed"


def test_the_templates_stop_button_unsubscribes(hub: Hub) -> None:
    hub.say("ALTA")
    hub.post(template_button("Stop promotions", "Stop promotions", hub.clock.now()))
    assert hub.person().status == "unsubscribed"


def test_whatsapps_own_stop_unsubscribes_without_a_confirmation_and_resume_is_only_noted(hub: Hub) -> None:
    hub.say("ALTA")
    hub.dispatch()
    _news(hub, "Fiestas", ["noticias"])
    hub.post(preference("stop", hub.clock.now()))
    person = hub.person()
    assert (person.status, person.marketing_stopped) == ("unsubscribed", True)
    assert hub.dispatch().sent == 0  # no news, and no free-form confirmation for a non-message
    hub.post(preference("resume", hub.clock.now() + timedelta(minutes=1)))
    person = hub.person()
    assert (person.status, person.marketing_stopped) == ("unsubscribed", False)
    assert [e.kind for e in _consents(hub)] == ["opt_in", "opt_out", "preference"]


def test_the_lighter_way_back_is_a_new_recorded_consent(hub: Hub) -> None:
    hub.say("ALTA")
    hub.say("BAJA")
    hub.post(button_reply("hub:pause", "Pausa de 30 días", hub.clock.now()))
    person = hub.person()
    assert person.status == "active" and person.paused_until == hub.clock.now() + timedelta(days=30)
    events = _consents(hub)
    assert [e.kind for e in events] == ["opt_in", "opt_out", "opt_in"]
    assert "pause of 30 days" in events[-1].note and events[-1].words == "Pausa de 30 días"
    hub.dispatch()
    _news(hub, "Durante la pausa", ["noticias"])
    assert hub.dispatch().sent == 0
    assert hub.deliveries()[-1].reason == "paused"
    hub.clock.advance(days=31)
    _news(hub, "Después de la pausa", ["noticias"])
    assert hub.dispatch().sent == 1


def test_weekly_rhythm_sends_at_most_one_story_a_week(hub: Hub) -> None:
    hub.say("ALTA")
    hub.say("BAJA")
    hub.post(button_reply("hub:weekly", "Resumen semanal", hub.clock.now()))
    assert (hub.person().status, hub.person().rhythm) == ("active", "weekly")
    hub.dispatch()
    _news(hub, "Uno", ["noticias"])
    _news(hub, "Dos", ["noticias"])
    assert hub.dispatch().sent == 1
    hub.clock.advance(days=8)
    _news(hub, "Tres", ["noticias"])
    assert hub.dispatch().sent == 1


def test_resubscribing_after_leaving_is_a_new_consent(hub: Hub) -> None:
    hub.say("ALTA cultura")
    hub.say("BAJA")
    hub.clock.advance(days=3)
    hub.say("alta")
    assert hub.person().status == "active" and hub.person().topics == ["cultura"]
    opt_ins = [e for e in _consents(hub) if e.kind == "opt_in"]
    assert len(opt_ins) == 2 and opt_ins[1].at == hub.clock.now()


def test_every_inbound_message_refreshes_the_window_and_no_reply_goes_after_24_hours(hub: Hub) -> None:
    hub.say("hola")
    assert hub.person().last_inbound_at == hub.clock.now()
    hub.clock.advance(hours=25)  # the help reply was never sent: its window closed
    assert hub.dispatch().sent == 0
    assert hub.deliveries()[0].reason == "outside 24 h window"


def test_help_at_most_once_a_day_and_quick_replies(tmp_path: Path, loopback: Switch) -> None:
    hub = Hub(tmp_path / "hub.db", loopback,
              audience=AudienceConfig(quick_replies={"HORARIO": "Abrimos de 9 a 14."}))
    hub.say("hola")
    hub.say("¿hay alguien?")
    assert len(hub.replies()) == 1
    hub.say("Horario")
    hub.say("horario?")
    assert hub.replies()[-2:] == ["Abrimos de 9 a 14.", "Abrimos de 9 a 14."]
    hub.say("AYUDA")  # asked for: always answered
    hub.clock.advance(days=1)
    hub.say("hola otra vez")
    assert len(hub.replies()) == 5


def test_away_message_once_per_closed_period(tmp_path: Path, loopback: Switch) -> None:
    away = AwayConfig(hours="Mon-Fri 09:00-18:00", message="Ahora no hay nadie; te respondemos mañana.")
    hub = Hub(tmp_path / "hub.db", loopback, audience=AudienceConfig(away=away))
    hub.clock.set(datetime(2026, 3, 6, 19, 0, tzinfo=UTC))  # Friday 20:00 in Madrid: closed
    hub.say("una pregunta")
    hub.clock.advance(hours=20)  # Saturday: same closed period
    hub.say("¿hola?")
    aways = [t for t in hub.replies() if t.startswith("Ahora no hay nadie")]
    assert len(aways) == 1
    hub.clock.set(datetime(2026, 3, 9, 10, 0, tzinfo=UTC))  # Monday 11:00: open
    hub.say("buenos días")
    assert len([t for t in hub.replies() if t.startswith("Ahora")]) == 1
    hub.clock.set(datetime(2026, 3, 9, 18, 30, tzinfo=UTC))  # Monday 19:30: a new closed period
    hub.say("gracias")
    assert len([t for t in hub.replies() if t.startswith("Ahora")]) == 2


def test_a_reply_planned_before_baja_is_not_sent_after_it(hub: Hub) -> None:
    hub.say("ALTA")  # welcome planned, not yet sent
    hub.say("BAJA")
    sink = RecordingSink()
    hub.dispatch(sink)
    assert [m.text[:5] for m in sink.sent] == ["Hecho"]  # only the confirmation
    welcome = hub.deliveries()[0]
    assert (welcome.status, welcome.reason) == ("skipped", "opted out")


def test_a_subscribers_deliveries_are_only_planned_after_consent(hub: Hub) -> None:
    hub.say("hola")  # a contact, not a subscriber
    assert _news(hub, "Noticia", ["noticias"]) == 0
    with hub.store.read() as session:
        assert all(d.body["kind"] == "reply" for d in session.exec(select(DeliveryRow)))
