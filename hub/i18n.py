"""Gettext catalogues, one per language, shipped as ``.po`` files and read with babel.

``hub/locale/<language>/LC_MESSAGES/hub.po`` are ordinary gettext catalogues (msgids are the
English source texts, marked with :func:`N_` where they are defined). They are compiled in
memory with babel the first time a language is asked for, so a fresh clone installed with
``pip install -e .`` needs no build step, and translators edit the ``.po`` files with any
gettext tool.
"""

from __future__ import annotations

import gettext
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from io import BytesIO
from typing import Literal

Language = Literal["es", "en"]
LANGUAGES: tuple[Language, ...] = ("es", "en")
DOMAIN = "hub"


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues without translating it yet (gettext's convention)."""
    return message


def catalogue_path(language: str) -> Traversable:
    """Where the ``.po`` file of ``language`` lives inside the installed package."""
    return resources.files("hub").joinpath("locale", language, "LC_MESSAGES", f"{DOMAIN}.po")


@cache
def translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalogue of ``language`` (one of :data:`LANGUAGES`)."""
    from babel.messages.mofile import write_mo  # imported on first use: CLI start-up stays quick
    from babel.messages.pofile import read_po

    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {language!r} (expected one of: {', '.join(LANGUAGES)})")
    with catalogue_path(language).open("rb") as po:
        catalogue = read_po(po, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)

