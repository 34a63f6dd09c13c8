"""Which request bodies the simulated messages endpoint accepts, and Meta's error for the others.

Only the message types the hub sends are simulated (text, image, interactive buttons and lists,
template); anything else is refused. Missing parameters are 131008, invalid values 131009,
unknown or over-long parameters 100, a template that does not exist in that language 132001,
and a wrong number of template parameters 132000 (codes from Meta's error-codes page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hub.cloudapi import limits
from hub.simulator.errors import ApiError

SIMULATED_TYPES = ("text", "image", "interactive", "template")
OTHER_TYPES = ("audio", "video", "document", "sticker", "location", "contacts", "reaction")
TOP_LEVEL = {"messaging_product", "recipient_type", "to", "recipient", "type", "context",
             "biz_opaque_callback_data", *SIMULATED_TYPES, *OTHER_TYPES}
_PHONE = re.compile(r"^\+?\d{6,15}$")
BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")
_BAD_PARAM = re.compile(r"[\n\t]| {5,}")


@dataclass(frozen=True)
class TemplateSpec:
    """An approved template as the simulator knows it: its languages and what it expects."""

    languages: tuple[str, ...] = ("es",)
    body_params: int = 0
    header_image: bool = False
    url_button_index: int | None = None
    quick_replies: int = 0
    category: str = "marketing"
    status: str = "APPROVED"  # PAUSED or DISABLED templates are refused (132015, 132016)


def _require(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj or obj[key] is None:
        raise ApiError(131008, f"The parameter {where}{key} is required.")
    return obj[key]


def _string(value: Any, where: str, limit: int | None = None, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ApiError(131009, f"Param {where} must be a string.")
    if not empty and not value.strip():
        raise ApiError(131009, f"Param {where} must not be empty.")
    if limit is not None and len(value) > limit:
        raise ApiError(100, f"Param {where} must be at most {limit} characters long.")
    return value


def _object(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(131009, f"Param {where} must be a JSON object.")
    for key in value:
        if key not in allowed:
            raise ApiError(100, f'Unexpected key "{key}" on param "{where}".')
    return value


def _list(value: Any, where: str, low: int, high: int) -> list[Any]:
    if not isinstance(value, list):
        raise ApiError(131009, f"Param {where} must be an array.")
    if not low <= len(value) <= high:
        raise ApiError(131009, f"Param {where} must have between {low} and {high} elements.")
    return value


def check_message(body: Any, templates: dict[str, TemplateSpec]) -> str:
    """Raise :class:`ApiError` unless Meta would accept ``body``; return the message type."""
    body = _object(body, "<root>", TOP_LEVEL)
    if body.get("messaging_product") != "whatsapp":
        raise ApiError(100, "The parameter messaging_product is required and must be 'whatsapp'.")
    if "recipient_type" in body and body["recipient_type"] != "individual":
        raise ApiError(100, "Param recipient_type must be 'individual' (groups are not simulated).")
    address(body)
    kind: str = body.get("type", "text")  # Meta's default type is text
    if kind in OTHER_TYPES:
        raise ApiError(131051, f"Message type {kind} is not simulated.")
    if kind not in SIMULATED_TYPES:
        raise ApiError(100, f"Param type must be one of {{{', '.join(SIMULATED_TYPES + OTHER_TYPES)}}}.")
    for other in SIMULATED_TYPES:
        if other != kind and other in body:
            raise ApiError(100, f'Unexpected key "{other}" for a message of type {kind}.')
    if "biz_opaque_callback_data" in body:
        _string(body["biz_opaque_callback_data"], "biz_opaque_callback_data", limits.CALLBACK_DATA)
    if "context" in body:
        _string(_require(_object(body["context"], "context", {"message_id"}), "message_id", "context."),
                "context.message_id")
    payload = _require(body, kind, "")
    {"text": _text, "image": _image, "interactive": _interactive}.get(kind, _no_check)(payload)
    if kind == "template":
        _template(payload, templates)
    return kind


def address(body: dict[str, Any]) -> str:
    """Whom a request is for: the digits of ``to`` (it wins when both are given), else the
    business-scoped user id in ``recipient``; raises Meta's error when neither is valid."""
    if "to" in body or "recipient" not in body:
        to = _string(_require(body, "to", ""), "to")
        if not _PHONE.match(to):
            raise ApiError(131009, "Param to must be a phone number with its country code, "
                                   "e.g. +34612345678.")
        return re.sub(r"\D", "", to)
    recipient = _string(body["recipient"], "recipient")
    if not BSUID.match(recipient):
        raise ApiError(131009, "Param recipient must be a business-scoped user ID, "
                               "e.g. US.13491208655302741918.")
    return recipient


def _no_check(_: Any) -> None:
    return None


def _text(text: Any) -> None:
    text = _object(text, "text", {"body", "preview_url"})
    _string(_require(text, "body", "text."), "text['body']", limits.TEXT_BODY)
    if "preview_url" in text and not isinstance(text["preview_url"], bool):
        raise ApiError(131009, "Param text['preview_url'] must be a boolean.")


def _media(media: Any, where: str, *, caption: bool) -> None:
    allowed = {"id", "link", "caption"} if caption else {"id", "link"}
    media = _object(media, where, allowed)
    if ("id" in media) == ("link" in media):
        raise ApiError(131008, f"Param {where} needs exactly one of id or link.")
    if "link" in media:
        link = _string(media["link"], f"{where}['link']")
        if not link.startswith(("http://", "https://")):
            raise ApiError(131009, f"Param {where}['link'] must be an http(s) URL.")
    if "caption" in media:
        _string(media["caption"], f"{where}['caption']", limits.CAPTION, empty=True)


def _image(image: Any) -> None:
    _media(image, "image", caption=True)


def _unique(titles: list[str], where: str) -> None:
    if len(set(titles)) != len(titles):
        raise ApiError(131009, f"Param {where} titles must be unique.")


def _interactive(inter: Any) -> None:
    inter = _object(inter, "interactive", {"type", "header", "body", "footer", "action"})
    kind = _require(inter, "type", "interactive.")
    if kind not in ("button", "list"):
        raise ApiError(131009, "Param interactive['type'] must be button or list (others are not simulated).")
    body = _object(_require(inter, "body", "interactive."), "interactive['body']", {"text"})
    _string(_require(body, "text", "interactive.body."), "interactive['body']['text']",
            limits.BUTTONS_BODY if kind == "button" else 4096)
    if "footer" in inter:
        footer = _object(inter["footer"], "interactive['footer']", {"text"})
        _string(_require(footer, "text", "interactive.footer."), "interactive['footer']['text']",
                limits.FOOTER)
    if "header" in inter:
        header = _object(inter["header"], "interactive['header']", {"type", "text", "image"})
        htype = _require(header, "type", "interactive.header.")
        if htype == "text":
            _string(_require(header, "text", "interactive.header."), "interactive['header']['text']",
                    limits.HEADER_TEXT)
        elif htype == "image" and kind == "button":
            _media(_require(header, "image", "interactive.header."), "interactive['header']['image']",
                   caption=False)
        else:
            raise ApiError(131009, f"Param interactive['header']['type'] {htype!r} is not valid here.")
    action = _require(inter, "action", "interactive.")
    if kind == "button":
        action = _object(action, "interactive['action']", {"buttons"})
        buttons = _list(_require(action, "buttons", "interactive.action."),
                        "interactive['action']['buttons']", 1, limits.BUTTON_COUNT)
        titles = []
        for n, button in enumerate(buttons):
            where = f"interactive['action']['buttons'][{n}]"
            button = _object(button, where, {"type", "reply"})
            if button.get("type") != "reply":
                raise ApiError(131009, f"Param {where}['type'] must be reply.")
            reply = _object(_require(button, "reply", f"{where}."), f"{where}['reply']", {"id", "title"})
            _string(_require(reply, "id", f"{where}.reply."), f"{where}['reply']['id']", limits.BUTTON_ID)
            titles.append(_string(_require(reply, "title", f"{where}.reply."), f"{where}['reply']['title']",
                                  limits.BUTTON_TITLE))
        _unique(titles, "interactive['action']['buttons']")
        return
    action = _object(action, "interactive['action']", {"button", "sections"})
    _string(_require(action, "button", "interactive.action."), "interactive['action']['button']",
            limits.LIST_BUTTON)
    sections = _list(_require(action, "sections", "interactive.action."), "interactive['action']['sections']",
                     1, limits.SECTION_COUNT)
    rows_total = 0
    titles = []
    for n, section in enumerate(sections):
        where = f"interactive['action']['sections'][{n}]"
        section = _object(section, where, {"title", "rows"})
        if "title" in section or len(sections) > 1:
            _string(_require(section, "title", f"{where}."), f"{where}['title']", limits.SECTION_TITLE)
        rows = _list(_require(section, "rows", f"{where}."), f"{where}['rows']", 1, limits.ROW_COUNT)
        rows_total += len(rows)
        for m, row in enumerate(rows):
            rwhere = f"{where}['rows'][{m}]"
            row = _object(row, rwhere, {"id", "title", "description"})
            _string(_require(row, "id", f"{rwhere}."), f"{rwhere}['id']", limits.ROW_ID)
            titles.append(_string(_require(row, "title", f"{rwhere}."), f"{rwhere}['title']",
                                  limits.ROW_TITLE))
            if "description" in row:
                _string(row["description"], f"{rwhere}['description']", limits.ROW_DESCRIPTION)
    if rows_total > limits.ROW_COUNT:
        raise ApiError(131009, f"A list message has at most {limits.ROW_COUNT} rows in all.")


def _template(tpl: Any, templates: dict[str, TemplateSpec]) -> None:
    tpl = _object(tpl, "template", {"name", "language", "components"})
    name = _string(_require(tpl, "name", "template."), "template['name']")
    language = _object(_require(tpl, "language", "template."), "template['language']", {"code", "policy"})
    code = _string(_require(language, "code", "template.language."), "template['language']['code']")
    if "policy" in language and language["policy"] != "deterministic":
        raise ApiError(131009, "Param template['language']['policy'] must be deterministic.")
    spec = templates.get(name)
    if spec is None or code not in spec.languages:
        raise ApiError(132001, f"template name ({name}) does not exist in {code}")
    if spec.status == "PAUSED":
        raise ApiError(132015, f"Template {name} is paused due to low quality so it cannot be sent.")
    if spec.status != "APPROVED":
        raise ApiError(132016, f"Template {name} is {spec.status.lower()} and cannot be sent.")
    components = _list(tpl.get("components", []), "template['components']", 0, 20)
    header = body = 0
    url_buttons: list[int] = []
    quick = 0
    for n, comp in enumerate(components):
        where = f"template['components'][{n}]"
        comp = _object(comp, where, {"type", "sub_type", "index", "parameters"})
        ctype = _require(comp, "type", f"{where}.")
        params = _list(comp.get("parameters", []), f"{where}['parameters']", 0, 20)
        if ctype == "header":
            for p, param in enumerate(params):
                pwhere = f"{where}['parameters'][{p}]"
                param = _object(param, pwhere, {"type", "image", "text"})
                if param.get("type") == "image":
                    _media(_require(param, "image", f"{pwhere}."), f"{pwhere}['image']", caption=False)
                elif param.get("type") == "text":
                    _string(_require(param, "text", f"{pwhere}."), f"{pwhere}['text']", limits.HEADER_TEXT)
                else:
                    raise ApiError(131009, f"Param {pwhere}['type'] is not valid.")
            header += len(params)
        elif ctype == "body":
            for p, param in enumerate(params):
                pwhere = f"{where}['parameters'][{p}]"
                param = _object(param, pwhere, {"type", "text"})
                if param.get("type") != "text":
                    raise ApiError(131009, f"Param {pwhere}['type'] must be text (others are not simulated).")
                text = _string(_require(param, "text", f"{pwhere}."), f"{pwhere}['text']",
                               limits.TEMPLATE_PARAM)
                if _BAD_PARAM.search(text):
                    raise ApiError(100, "Param text cannot have new-line/tab characters or more than "
                                        "4 consecutive spaces.")
            body += len(params)
        elif ctype == "button":
            sub = _require(comp, "sub_type", f"{where}.")
            index = _require(comp, "index", f"{where}.")
            if not (isinstance(index, str) and index.isdigit() and len(index) == 1) and not (
                    isinstance(index, int) and 0 <= index <= 9):
                raise ApiError(131009, f"Param {where}['index'] must be a number from 0 to 9.")
            if len(params) != 1:
                raise ApiError(132000, f"Button at index {index} expects 1 parameter, got {len(params)}.")
            param = _object(params[0], f"{where}['parameters'][0]", {"type", "text", "payload"})
            if sub == "url":
                _string(_require(param, "text", f"{where}.parameters[0]."),
                        f"{where}['parameters'][0]['text']")
                url_buttons.append(int(index))
            elif sub == "quick_reply":
                _string(_require(param, "payload", f"{where}.parameters[0]."),
                        f"{where}['parameters'][0]['payload']")
                quick += 1
            else:
                raise ApiError(131009, f"Param {where}['sub_type'] must be url or quick_reply.")
        else:
            raise ApiError(131009, f"Param {where}['type'] must be header, body or button.")
    expected_header = 1 if spec.header_image else 0
    if header != expected_header or body != spec.body_params:
        raise ApiError(132000, f"number of localizable_params ({body + header}) does not match the expected "
                               f"number of params ({spec.body_params + expected_header})")
    expected_urls = [] if spec.url_button_index is None else [spec.url_button_index]
    if url_buttons != expected_urls or quick > spec.quick_replies:
        raise ApiError(132000, "button parameters do not match the template's buttons")
