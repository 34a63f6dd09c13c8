"""Is a store at the newest schema? Answered without Alembic, so opening one costs no import.

The migrations form one numbered chain (``versions/NNNN_name.py``, revision ``NNNN``), so the
newest revision is the highest file name; tests/test_migrations.py checks that Alembic agrees.
Anything else (an empty database, an older or unknown revision) goes through
:func:`hub.storage.migrate.prepare`, which creates, refuses or explains.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

VERSIONS = Path(__file__).parent / "migrations" / "versions"


@cache
def newest_revision() -> str | None:
    """The revision of the highest-numbered migration file."""
    names = sorted(p.name for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
    return names[-1][:4] if names else None


def at_newest(engine: Engine) -> bool:
    """Whether the database's recorded revision is the newest one (False when it has none)."""
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:  # no version table: an empty or pre-migration database
        return False
    return len(rows) == 1 and rows[0][0] == newest_revision()
