"""How autogenerate writes our column types, so a generated script imports cleanly."""

from __future__ import annotations

from typing import Any, Literal

from alembic.autogenerate.api import AutogenContext
from sqlmodel.sql.sqltypes import AutoString

from hub.storage.tables import UTCDateTime


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """``hub.storage.tables.UTCDateTime()`` with its import; sqlmodel's AutoString as a plain
    ``sa.String()``."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        autogen_context.imports.add("import hub.storage.tables")
        return "hub.storage.tables.UTCDateTime()"
    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False
