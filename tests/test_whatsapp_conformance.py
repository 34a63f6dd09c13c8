"""Every message shape the sink builds validates against Meta's OpenAPI ``Message`` schema.

The spec is read from ``../shared/reference`` (never copied here). Three corrections, each a
known flaw of the spec, not of our messages: each message type is ``allOf`` [base,
{``additionalProperties: false``}], which JSON Schema reads as "no properties at all" unless the
parts are merged first; ``recipient_type`` and the template ``language.policy`` are marked
required but are optional in the API (absent from Meta's own examples); the template button
``index`` pattern ``^[2-6, 11-14]$`` is broken (Meta sends "0"…"9"). A fourth: the spec leaves
out ``biz_opaque_callback_data``, which the send-messages page documents (at most 512
characters) and the status webhook echoes, so it is added as such. A fifth: the spec predates
business-scoped user ids, so ``recipient`` (a BSUID or parent BSUID, for a person whose number
Meta does not share) is added, and a message needs ``to`` or ``recipient``, not always ``to``.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from hub.cloudapi import limits
from hub.cloudapi import messages as wa
from hub.contracts import OutgoingMessage
from whatsapp_news_hub_plugins.sinks.whatsapp import WhatsAppOptions, WhatsAppSink

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")

SPEC = "reference/whatsapp-business-messaging-openapi-v23.0.yaml"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LONG = "Palabra " * 1500  # 12,000 characters: longer than every limit


@cache
def _message_schema(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schemas = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)["components"]["schemas"]
    schemas = copy.deepcopy(schemas)
    schemas["BaseMessageProperties"]["required"].remove("recipient_type")
    schemas["LanguageObject"]["required"].remove("policy")
    schemas["TemplateComponent"]["properties"]["index"]["pattern"] = "^[0-9]$"
    schemas["BaseMessageProperties"]["properties"]["biz_opaque_callback_data"] = {
        "type": "string", "maxLength": limits.CALLBACK_DATA}
    schemas["BaseMessageProperties"]["required"].remove("to")
    schemas["BaseMessageProperties"]["properties"]["recipient"] = {
        "type": "string", "pattern": r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$"}
    message = _resolve({"$ref": "#/components/schemas/Message"}, schemas, ())
    return {"allOf": [message, {"anyOf": [{"required": ["to"]}, {"required": ["recipient"]}]}]}


def _resolve(node: Any, schemas: dict[str, Any], seen: tuple[str, ...]) -> Any:
    """Inline ``$ref`` and merge ``allOf`` parts into one object schema."""
    if isinstance(node, list):
        return [_resolve(n, schemas, seen) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return {}
        return _resolve(schemas[name], schemas, (*seen, name))
    node = {k: _resolve(v, schemas, seen) for k, v in node.items() if k != "discriminator"}
    if "allOf" in node:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in node.pop("allOf"):
            for key, value in part.get("properties", {}).items():
                before = merged["properties"].get(key)
                merged["properties"][key] = value if before is None else {"allOf": [before, value]}
            merged["required"] += [r for r in part.get("required", []) if r not in merged["required"]]
            if part.get("additionalProperties") is False:
                merged["additionalProperties"] = False
        node = {**merged, **{k: v for k, v in node.items() if k not in merged}}
    return node


@pytest.fixture
def validate(shared: Path):
    schema = _message_schema(shared / SPEC)
    validator = jsonschema.Draft202012Validator(schema)

    def check(body: dict[str, Any]) -> None:
        errors = sorted(validator.iter_errors(body), key=lambda e: e.path)
        assert not errors, "\n".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])
    return check


def _sink(**template: Any) -> WhatsAppSink:
    return WhatsAppSink(WhatsAppOptions(
        phone_number_id="1234567890",
        template={"name": "news_update", "language": "es", "body": ["{title}", "{summary}"], **template},
        digest_template={"name": "news_digest", "language": "es", "body": ["{heading}", "{titles}"],
                         "header_image": True, "default_image_url": "https://example.org/logo.png",
                         "button_url": "{path}"},
    ))


def _message(kind: str = "item", wrote_hours_ago: float | None = None, **extra: Any) -> OutgoingMessage:
    items = extra.pop("items", [{"title": "Pleno " + LONG, "url": "https://example.org/n/1/?a=1",
                                 "summary": LONG, "image_url": "https://example.org/i.jpg"}])
    last = NOW - timedelta(hours=wrote_hours_ago) if wrote_hours_ago is not None else None
    phone, user_id = extra.pop("phone", "34612345678"), extra.pop("user_id", None)
    return OutgoingMessage(delivery_id=42, phone=phone, text=extra.pop("text", LONG), items=items,
                           last_inbound_at=last, now=NOW, body={"kind": kind, "heading": "Hoy", **extra},
                           user_id=user_id)


def test_text_message_in_window(validate) -> None:
    body = _sink().build(_message(wrote_hours_ago=2, items=[{"title": "t", "url": "https://e.org/"}]))
    assert body["type"] == "text" and body["to"] == "+34612345678"
    assert len(body["text"]["body"]) <= limits.TEXT_BODY and body["text"]["preview_url"] is True
    assert body["biz_opaque_callback_data"] == "hub:delivery:42"
    validate(body)


def test_image_with_caption_in_window(validate) -> None:
    body = _sink().build(_message(wrote_hours_ago=2))
    assert body["type"] == "image" and len(body["image"]["caption"]) <= limits.CAPTION
    assert body["image"]["caption"].endswith("…")
    validate(body)


def test_template_for_one_story_outside_window(validate) -> None:
    body = _sink(header_image=True, button_url="{path}", button_index=1).build(_message(wrote_hours_ago=30))
    template = body["template"]
    assert body["type"] == "template" and template["language"] == {"code": "es"}
    header, text, button = template["components"]
    assert header["parameters"][0]["image"]["link"] == "https://example.org/i.jpg"
    assert all("\n" not in p["text"] and len(p["text"]) <= 300 for p in text["parameters"])
    assert button == {"type": "button", "sub_type": "url", "index": "1",
                      "parameters": [{"type": "text", "text": "n/1/?a=1"}]}
    validate(body)


def test_template_for_a_digest(validate) -> None:
    items = [{"title": f"Noticia {n}", "url": f"https://example.org/n/{n}/"} for n in range(3)]
    body = _sink().build(_message("digest", items=items))
    assert body["template"]["name"] == "news_digest"
    header, text, button = body["template"]["components"]
    assert header["parameters"][0]["image"]["link"] == "https://example.org/logo.png"
    assert [p["text"] for p in text["parameters"]] == ["Hoy", "1. Noticia 0 · 2. Noticia 1 · 3. Noticia 2"]
    validate(body)


def test_digest_text_in_window(validate) -> None:
    validate(_sink().build(_message("digest", wrote_hours_ago=1)))


def test_reply_buttons_truncated_to_limits(validate) -> None:
    buttons = [{"id": "x" * 300, "title": "Suscribirme a deportes"},
               {"id": "b", "title": "Suscribirme a deportes y más"}, {"id": "c", "title": "Cultura"},
               {"id": "d", "title": "Sobra"}]
    body = _sink().build(_message("interactive", wrote_hours_ago=1, buttons=buttons, header=LONG,
                                  footer=LONG))
    inter = body["interactive"]
    replies = [b["reply"] for b in inter["action"]["buttons"]]
    assert len(replies) == 3 and len(replies[0]["id"]) == limits.BUTTON_ID
    assert all(len(r["title"]) <= limits.BUTTON_TITLE for r in replies)
    assert len({r["title"] for r in replies}) == 3
    assert len(inter["body"]["text"]) <= limits.BUTTONS_BODY and len(inter["footer"]["text"]) <= 60
    validate(body)


def test_list_truncated_to_limits(validate) -> None:
    sections = [{"title": "Secciones del periódico municipal", "rows": [
        {"id": f"row-{s}-{r}", "title": f"Tema muy largo número {r}", "description": LONG}
        for r in range(6)]} for s in range(3)]
    body = _sink().build(_message("interactive", wrote_hours_ago=1, sections=sections,
                                  button="Elegir los temas que me interesan", header="Temas"))
    action = body["interactive"]["action"]
    rows = [row for section in action["sections"] for row in section["rows"]]
    assert len(rows) == limits.ROW_COUNT and len(action["button"]) <= limits.LIST_BUTTON
    assert all(len(r["title"]) <= limits.ROW_TITLE and len(r["description"]) <= 72 for r in rows)
    assert all(len(s["title"]) <= limits.SECTION_TITLE for s in action["sections"])
    validate(body)


def test_builders_directly(validate) -> None:
    validate(wa.text_message("+34 612 345 678", "hola"))
    validate(wa.image_message("34612345678", "https://e.org/a.png"))
    validate(wa.template_message("34612345678", wa.TemplateCall("news_update", "es", ["a\n\tb", ""],
                                                                quick_replies=("BAJA",))))
    validate(wa.list_message("34612345678", "x", "Ver", [("", [wa.Row("1", "Uno")])]))


def test_the_schema_rejects_what_meta_rejects(validate) -> None:
    """The merged schema is not vacuous: unknown keys, over-long titles and bad indexes fail."""
    good = wa.buttons_message("34612345678", "x", [("a", "Uno")])
    bad_key = {**wa.text_message("34612345678", "x"), "bogus": 1}
    long_title = copy.deepcopy(good)
    long_title["interactive"]["action"]["buttons"][0]["reply"]["title"] = "x" * 21
    bad_index = wa.template_message("34612345678", wa.TemplateCall("t", "es", url_suffix="a"))
    bad_index["template"]["components"][0]["index"] = "12"
    for body in (bad_key, long_title, bad_index):
        with pytest.raises(AssertionError):
            validate(body)


def test_reply_bodies_from_the_webhook_go_out_as_planned(validate) -> None:
    """The audience's replies (hub.delivery.render.reply_body): the list, the buttons, the plain text."""
    from hub.delivery.render import reply_body as made

    def reply_body(*args: Any) -> dict[str, Any]:
        return {k: v for k, v in made(*args).items() if k != "kind"}

    rows = [{"id": f"hub:topic:t{n}", "title": f"Tema {n} " + LONG, "description": LONG} for n in range(9)]
    listing = reply_body("Temas:\n• Tema 0", {
        "type": "list", "body": {"text": LONG},
        "action": {"button": "Elegir temas", "sections": [{"title": "Temas", "rows": rows}]}}, "wamid.IN1")
    body = _sink().build(_message("reply", wrote_hours_ago=0.01, **listing))
    assert body["type"] == "interactive" and body["interactive"]["type"] == "list"
    assert body["context"] == {"message_id": "wamid.IN1"}
    assert [r["id"] for r in body["interactive"]["action"]["sections"][0]["rows"]] == [r["id"] for r in rows]
    validate(body)
    goodbye = reply_body("Hecho.", {"type": "button", "body": {"text": "Hecho."}, "action": {"buttons": [
        {"type": "reply", "reply": {"id": "hub:weekly", "title": "Resumen semanal"}},
        {"type": "reply", "reply": {"id": "hub:pause", "title": "Pausa de 30 días"}}]}})
    body = _sink().build(_message("reply", wrote_hours_ago=0.01, **goodbye))
    assert [b["reply"]["id"] for b in body["interactive"]["action"]["buttons"]] == ["hub:weekly", "hub:pause"]
    assert "context" not in body
    validate(body)
    body = _sink().build(_message("reply", wrote_hours_ago=0.01, **reply_body("¡Bienvenida!")))
    assert body["type"] == "text" and body["text"]["body"] == "¡Bienvenida!"
    validate(body)


def test_a_reply_is_never_turned_into_a_template() -> None:
    message = _message("reply", wrote_hours_ago=25, text="Hola")
    with pytest.raises(ValueError, match="24-hour window"):
        _sink().build(message)


BSUID = "ES.13491208655302741918"


@pytest.mark.parametrize("shape", ["text", "image", "template", "digest", "buttons", "list", "reply"])
def test_every_shape_goes_to_a_business_scoped_user_id_by_recipient(validate, shape: str) -> None:
    """A person without a number gets ``recipient`` and no ``to``; with a number, ``to`` only."""
    nobody = {"phone": "", "user_id": BSUID}
    one = [{"title": "t", "url": "https://e.org/"}]
    message = {
        "text": lambda: _message(wrote_hours_ago=2, items=one, **nobody),
        "image": lambda: _message(wrote_hours_ago=2, **nobody),
        "template": lambda: _message(wrote_hours_ago=30, **nobody),
        "digest": lambda: _message("digest", **nobody),
        "buttons": lambda: _message("interactive", wrote_hours_ago=1, buttons=[{"id": "a", "title": "Uno"}],
                                    **nobody),
        "list": lambda: _message("interactive", wrote_hours_ago=1, **nobody,
                                 sections=[{"title": "T", "rows": [{"id": "r", "title": "Uno"}]}]),
        "reply": lambda: _message("reply", wrote_hours_ago=0.01, text="¡Hola!", **nobody),
    }[shape]()
    body = _sink().build(message)
    assert body["recipient"] == BSUID and "to" not in body
    validate(body)
    known = _sink().build(OutgoingMessage(**{**message.__dict__, "phone": "34612345678"}))
    assert known["to"] == "+34612345678" and "recipient" not in known
    validate(known)


def test_the_extended_schema_still_wants_someone_to_send_to(validate) -> None:
    body = wa.text_message(BSUID, "hola")
    assert body["recipient"] == BSUID
    validate(body)
    del body["recipient"]
    with pytest.raises(AssertionError):
        validate(body)
    with pytest.raises(AssertionError):
        validate({**body, "recipient": "not a bsuid"})
