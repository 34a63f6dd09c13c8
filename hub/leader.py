"""Exactly one scheduler at a time: the process holding the lock polls and plans routine runs.

On PostgreSQL the lock is a session advisory lock held on a dedicated connection: when its
process dies, the server ends the session and frees the lock, and another ``hub run`` takes over
at its next try. On SQLite (one machine) it is an exclusive ``flock`` on a file beside the
database, freed by the kernel when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger("hub.leader")

ADVISORY_KEY = 0x4855_4253  # "HUBS": one key per database, shared by every hub process
_OWNED = text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 "
              "AND objid = :k AND objsubid = 1 AND pid = pg_backend_pid() AND granted)")


class Leadership:
    """``held()`` answers whether this process may schedule, trying to take the lock if not."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine, self.url = engine, url
        self._connection: Any = None
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
            if self._connection.execute(_OWNED, {"k": ADVISORY_KEY}).scalar():
                return True
            self._drop()
        connection = self.engine.connect()
        connection.detach()  # closing it must end the session (and the lock), not pool it
        got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        connection.commit()
        if got:
            self._connection = connection
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
