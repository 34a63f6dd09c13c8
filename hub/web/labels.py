"""Every label the dashboard shows, in English and Spanish, in one place (``[hub] language``).

Keys are the English texts themselves, as gettext msgids are: :func:`labels_for` returns a
``gettext``-shaped function, so moving these to the babel catalogues later means filling the
``.po`` files with :data:`SPANISH` and returning ``translations(language).gettext`` instead.
Placeholders are ``str.format`` fields, filled after translation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Language = Literal["es", "en"]
LANGUAGES: tuple[Language, ...] = ("es", "en")

SPANISH: dict[str, str] = {
    "dashboard": "panel",
    "Times in {zone}": "Horas en {zone}",
    "Needs you": "Pendiente de ti",
    "Nothing waits for you.": "Nada espera tu decisión.",
    "Held by the glitch guard": "Retenidas por el control de anomalías",
    "{source}: {reason}": "{source}: {reason}",
    "Approve": "Aprobar",
    "Drop": "Descartar",
    "Approve all from {source}": "Aprobar todas de {source}",
    "Drop all from {source}": "Descartar todas de {source}",
    "… and {n} more: hub items held": "… y {n} más: hub items held",
    "Paused by the brake": "Rutinas pausadas por el freno",
    "Held by their template": "Rutinas retenidas por su plantilla",
    "It resumes by itself once Meta approves the template again.":
        "Se reanuda sola cuando Meta vuelva a aprobar la plantilla.",
    "Resume": "Reanudar",
    "Sending is {state}: {reason}": "El envío está {state}: {reason}",
    "paused": "en pausa",
    "stopped": "detenido",
    "Runs": "Envíos",
    "Latest {n} runs": "Últimos {n} envíos",
    "when": "cuándo",
    "routine": "rutina",
    "stories": "noticias",
    "reached": "alcanzados",
    "delivered": "entregados",
    "read": "leídos",
    "left": "bajas",
    "cost": "coste",
    "No run yet.": "Aún no hay envíos.",
    "sent": "enviados",
    "failed": "fallidos",
    "new": "altas",
    "net": "neto",
    "subscribers net": "suscriptores neto",
    "billable {month}": "facturables {month}",
    "cost per read": "coste por lectura",
    "read rate": "tasa de lectura",
    "Messages sent and read per day": "Mensajes enviados y leídos por día",
    "Read rate by hour sent": "Tasa de lectura por hora de envío",
    "Subscribers joining and leaving per day": "Altas y bajas de suscriptores por día",
    "Subscriber growth by topic": "Crecimiento de suscriptores por tema",
    "(all topics)": "(todos los temas)",
    "no data yet": "aún sin datos",
    "last {n} days": "últimos {n} días",
    "Your readers open most between {start}:00 and {end}:00 ({share} of all reads).":
        "Tus lectores abren más entre las {start}:00 y las {end}:00 ({share} de las lecturas).",
    "Done: {what}": "Hecho: {what}",
    "story #{id} approved": "noticia #{id} aprobada",
    "story #{id} dropped": "noticia #{id} descartada",
    "{source}: {n} approved": "{source}: {n} aprobadas",
    "{source}: {n} dropped": "{source}: {n} descartadas",
    "routine {name} resumed": "rutina {name} reanudada",
    "sending resumed; open alerts cleared": "envío reanudado; avisos cerrados",
    "Resume sending": "Reanudar el envío",
    "nothing changed": "nada cambió",
}

CATALOGUES: dict[str, dict[str, str]] = {"en": {}, "es": SPANISH}


def labels_for(language: str) -> Callable[[str], str]:
    """The label function for ``language``: the English key itself when no translation exists."""
    table = CATALOGUES.get(language, {})

    def gettext(message: str) -> str:
        return table.get(message, message)

    return gettext
