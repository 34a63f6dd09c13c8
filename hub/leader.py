"""Exactly one scheduler at a time: the process holding the lock polls and plans routine runs.

On PostgreSQL the lock is a session advisory lock held on a dedicated connection: when its
process dies, the server ends the session and frees the lock, and another ``hub run`` takes over
at its next try. The lock's key is the pair ("HUBS", a hash of the current schema), so hubs
kept in different schemas of one database (several deployments on one server) each have their
own scheduler. On SQLite (one machine) it is an exclusive ``flock`` on a file beside the
database, freed by the kernel when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import zlib
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger("hub.leader")

ADVISORY_CLASS = 0x4855_4253  # "HUBS": first half of the key, shared by every hub process
_SCHEMA = text("SELECT current_schema()")
_TRY = text("SELECT pg_try_advisory_lock(CAST(:c AS integer), CAST(:o AS integer))")
# The two-integer form shows in pg_locks as classid, objid and objsubid = 2.
_OWNED = text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
              "AND classid::bigint = :c AND objid::bigint = :o AND objsubid = 2 "
              "AND pid = pg_backend_pid() AND granted)")


def schema_key(schema: str | None) -> int:
    """The second half of the key: a stable, non-negative 31-bit hash of the schema's name."""
    return zlib.crc32((schema or "").encode("utf-8")) & 0x7FFF_FFFF


class Leadership:
    """``held()`` answers whether this process may schedule, trying to take the lock if not."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine, self.url = engine, url
        self._connection: Any = None
        self._key: dict[str, int] = {}
        self._file: Any = None
        self.holding = False

    def held(self) -> bool:
        """Keep or take the lock without waiting; False while another process holds it."""
        try:
            holding = self._postgres() if self.engine.dialect.name == "postgresql" else self._file_lock()
        except Exception as exc:  # a lost connection: not the leader until it comes back
            log.warning("scheduler lock unavailable: %s", exc)
            self._drop()
            holding = False
        if holding != self.holding:
            log.info("%s the scheduler lock: %s", "took" if holding else "lost",
                     "this process polls and runs the routines" if holding else "another process does")
        self.holding = holding
        return holding

    def _postgres(self) -> bool:
        if self._connection is not None:
            # Still ours? A connection SQLAlchemy silently replaced would hold nothing.
            owned = self._connection.execute(_OWNED, self._key).scalar()
            self._connection.commit()  # not left idle in a transaction between checks
            if owned:
                return True
            self._drop()
        connection = self.engine.connect()
        connection.detach()  # closing it must end the session (and the lock), not pool it
        key = {"c": ADVISORY_CLASS, "o": schema_key(connection.execute(_SCHEMA).scalar())}
        got = connection.execute(_TRY, key).scalar()
        connection.commit()
        if got:
            self._connection, self._key = connection, key
            return True
        connection.close()
        return False

    def _file_lock(self) -> bool:
        if self._file is not None:
            return True
        database = make_url(self.url).database
        path = Path(f"{database}.scheduler.lock") if database and database != ":memory:" else None
        if path is None:
            return True  # an in-memory store belongs to this process alone
        handle = path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None

    def release(self) -> None:
        self._drop()
        self.holding = False
