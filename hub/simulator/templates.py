"""The simulated account's templates as Meta lists them, and its template status webhook.

Built from the simulator's own :class:`~hub.simulator.shapes.TemplateSpec` options, so what
``GET message_templates`` says is exactly what the messages endpoint accepts.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from hub.simulator.shapes import TemplateSpec
from hub.simulator.webhooks import Business


def template_id(name: str, language: str) -> str:
    return str(10**14 + zlib.crc32(f"{name}:{language}".encode()))


def template_entries(templates: dict[str, TemplateSpec]) -> list[dict[str, Any]]:
    """One ``data[]`` entry per template and language, in Meta's shape, ordered by name."""
    entries = []
    for name in sorted(templates):
        spec = templates[name]
        body = " ".join(f"{{{{{n}}}}}" for n in range(1, spec.body_params + 1))
        components: list[dict[str, Any]] = []
        if spec.header_image:
            components.append({"type": "HEADER", "format": "IMAGE"})
        components.append({"type": "BODY", "text": f"Novedades: {body}".strip()})
        buttons: list[dict[str, Any]] = [{"type": "QUICK_REPLY", "text": f"Opción {n + 1}"}
                                         for n in range(spec.quick_replies)]
        if spec.url_button_index is not None:
            buttons.insert(spec.url_button_index, {"type": "URL", "text": "Leer",
                                                   "url": "https://example.org/{{1}}"})
        if buttons:
            components.append({"type": "BUTTONS", "buttons": buttons})
        for language in spec.languages:
            entries.append({"id": template_id(name, language), "name": name, "language": language,
                            "status": spec.status, "category": spec.category.upper(),
                            "quality_score": {"score": "GREEN" if spec.status == "APPROVED" else "RED"},
                            "components": components})
    return entries


def template_status_payload(business: Business, name: str, spec: TemplateSpec, status: str,
                            reason: str | None) -> dict[str, Any]:
    """Meta's ``message_template_status_update`` webhook for the first language of ``name``."""
    language = spec.languages[0]
    value: dict[str, Any] = {
        "event": status, "message_template_id": int(template_id(name, language)),
        "message_template_name": name, "message_template_language": language,
        "reason": reason or "NONE", "message_template_category": spec.category.upper(),
    }
    if status == "DISABLED":
        value["disable_info"] = {"disable_date": str(int(time.time()))}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": business.waba_id, "time": int(time.time()),
                       "changes": [{"value": value, "field": "message_template_status_update"}]}]}
