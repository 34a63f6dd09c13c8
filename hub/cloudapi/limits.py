"""Meta's length and count limits for the message shapes the hub sends (characters, items)."""

from __future__ import annotations

TEXT_BODY = 4096
CAPTION = 1024
BUTTONS_BODY = 1024
LIST_BODY = 1024  # the list page says 4096, the OpenAPI BodyObject says 1024: keep both happy
FOOTER = 60
HEADER_TEXT = 60
BUTTON_COUNT = 3
BUTTON_ID = 256
BUTTON_TITLE = 20
LIST_BUTTON = 20
SECTION_COUNT = 10
SECTION_TITLE = 24
ROW_COUNT = 10  # across all sections together
ROW_ID = 200
ROW_TITLE = 24
ROW_DESCRIPTION = 72
TEMPLATE_PARAM = 1024  # Meta does not publish a per-parameter limit; the body's limit bounds it
CALLBACK_DATA = 512
URL_SUFFIX = 2000
