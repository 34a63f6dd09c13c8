"""The departure journal: which requested claims may have left this process, so that no other is stranded.

Why: a claim is recorded as requested (``requested_at``, committed) before its request is made,
so that a crash never leads to a resend of something Meta may have taken. But a kill between
that record and the request's bytes leaving would strand the claim for ``in_doubt_after`` (1 h),
waiting for a status that cannot come. The database cannot tell the two cases apart; this
journal can. Just before the request's last bytes are handed to the operating system, the
delivery id is appended to a small file of this worker's (no ``await`` between it and the
socket write, see :mod:`hub.cloudapi.client`; written through a memory map, so not
even a system call is in between, see :class:`Journal`). After a worker dies, a requested claim
of its that is *not* in its journal provably never left: the process died before the append, so
before the write, and it returns to ``planned`` at once (:func:`hub.delivery.claims.release_dead`).
A claim in the journal may have reached Meta and waits for its status, as before.

Why this proof holds:

- A mark is in the kernel's page cache (the file is mapped shared), which survives the death of
  the process (SIGKILL included); only the machine's restart loses it. So each journal starts with the
  boot id, and a journal written under another boot (or missing, or unreadable) proves nothing:
  every requested claim of that worker stays in doubt, as without a journal.
- A line is counted only when whole (``id`` and newline): an append cut short was not followed by
  the socket write. A worker that reappends an id (a template fallback resends) changes nothing.
- Only the journal's own worker writes it, and only while alive; it is read once that worker is
  dead, so nothing is appended while or after it is read.
- Another machine's journals cannot be read: claims a worker elsewhere requested stay in doubt.

The journal holds delivery ids only (no number, no text). It lives in a private folder per
store under the runtime folder (cleared when the machine starts, which the boot id covers too)
and is cut back to its boot line after a run with nothing left in doubt, so it stays small.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
import stat
import tempfile
import weakref
from pathlib import Path

from sqlalchemy.engine import make_url

from hub.storage.store import Store

log = logging.getLogger("hub.delivery.departures")

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
PAGE = 64 * 1024  # the journal's first size; it doubles when full


def boot_id() -> str | None:
    """This boot of the machine (Linux); None where unknown: then no journal proves anything."""
    try:
        return BOOT_ID.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def folder_for(url: str) -> Path | None:
    """The private folder of the journals of workers on this store (None: cannot be made safely)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            return None
        key = str(Path(database).resolve())
    else:
        key = parsed.render_as_string(hide_password=True)
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    private = base / f"hub-departures-{os.getuid()}"
    try:
        private.mkdir(mode=0o700, exist_ok=True)
        own = private.lstat()
        if not stat.S_ISDIR(own.st_mode) or own.st_uid != os.getuid() or own.st_mode & 0o077:
            log.warning("%s is not a folder private to this user: no departure journal", private)
            return None
        folder = private / hashlib.sha256(key.encode()).hexdigest()[:16]
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    return folder


def _file(folder: Path, worker: str) -> Path:
    return folder / (worker.replace("/", "_").replace(":", "@") + ".journal")


class Journal:
    """This worker's journal: :meth:`mark` just before a request's bytes leave.

    Written through a shared memory map of the file, not ``os.write``: a store into memory keeps
    the GIL and makes no system call, so nothing can run between the mark and the socket write
    (a syscall would hand the GIL to another thread for a millisecond or more, and a kill landing
    then strands the message; measured: about one in 20 kills under load). The page stays in the
    page cache after the process dies, where a reader finds it. The map grows before a mark, never
    between a mark and its request.
    """

    def __init__(self, url: str, worker: str) -> None:
        self._map: mmap.mmap | None = None
        self._fd = -1
        self._at = 0
        self.runs = 0  # dispatch runs of this process using it now: cut back only when none
        self.marks = 0  # marks made so far: a cut-back decided on an older count is not made
        folder, boot = folder_for(url), boot_id()
        if folder is None or boot is None:
            return  # every requested claim stays in doubt after a crash: safe, as before
        self.path = _file(folder, worker)
        self._header = f"boot {boot}\n".encode("ascii")
        try:
            # A journal left by an earlier process with this pid (pid reused) is kept if it was
            # written in this boot: its marks only keep more claims in doubt.
            kept = _read_header(self.path) == boot
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | (0 if kept else os.O_TRUNC), 0o600)
            if kept:
                data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
                self._at = len(data.split(b"\0", 1)[0])
                if not data[:self._at].endswith(b"\n"):  # its last line was cut short: end it, so
                    self._at += os.pwrite(self._fd, b"\n", self._at)  # no mark of ours joins it
            else:
                os.write(self._fd, self._header)
                self._at = len(self._header)
            self._grow(max(PAGE, self._at + PAGE))
            weakref.finalize(self, _close_quietly, self._fd)
        except OSError as exc:
            log.warning("no departure journal (%s): claims of a crash wait for their status", exc)
            self.close()

    def _grow(self, size: int) -> None:
        if self._map is not None:
            self._map.close()
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # the new bytes read as zeros: no line
        self._map = mmap.mmap(self._fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def mark(self, delivery_id: int) -> None:
        """Note that the request for ``delivery_id`` may leave now. Call right before it does.

        A failure raises (before anything is noted): the request must not go out unnoted, or a
        crash after it could lead to a duplicate.
        """
        if self._map is None:
            return
        line = b"%d\n" % delivery_id
        if self._at + len(line) > len(self._map):
            self._grow(2 * len(self._map))
        self._map[self._at:self._at + len(line)] = line  # the last thing before the request
        self._at += len(line)
        self.marks += 1

    def restart(self) -> None:
        """Cut back to the boot line: nothing this worker requested is still waiting for a status."""
        if self._map is not None:
            self._map[len(self._header):self._at] = bytes(self._at - len(self._header))
            self._at = len(self._header)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()  # its pages stay in the page cache: nothing is lost by closing
            self._map = None
        if self._fd >= 0:
            _close_quietly(self._fd)
            self._fd = -1


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


_JOURNALS: weakref.WeakKeyDictionary[Store, dict[str, Journal]] = weakref.WeakKeyDictionary()


def journal_for(store: Store, worker: str) -> Journal:
    """The one journal of this process for ``store``, shared by its dispatch runs.

    One, because two writers of one file would overwrite each other's marks; it lives as long as
    the store object does.
    """
    journals = _JOURNALS.setdefault(store, {})
    journal = journals.get(worker)
    if journal is None:
        journal = journals[worker] = Journal(store.url, worker)
    return journal


def _read_header(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            first = handle.readline()
    except OSError:
        return None
    if not first.startswith(b"boot ") or not first.endswith(b"\n"):
        return None
    return first[5:-1].decode("ascii", "replace")


def departed(url: str, worker: str) -> set[int] | None:
    """The delivery ids a dead worker may have sent, from its journal; None when it proves nothing.

    None: no journal, unreadable, or written before the machine last started. Only complete
    lines count (see the module's docstring).
    """
    folder, boot = folder_for(url), boot_id()
    if folder is None or boot is None:
        return None
    try:
        data = _file(folder, worker).read_bytes()
    except OSError:
        return None
    header, _, rest = data.split(b"\0", 1)[0].partition(b"\n")  # zeros: room not written yet
    if header != f"boot {boot}".encode("ascii"):
        return None
    lines = rest.split(b"\n")[:-1]  # the last piece lacks its newline (or is empty)
    return {int(line) for line in lines if line.isdigit()}


def forget(url: str, worker: str) -> None:
    """Remove a dead worker's journal once its claims were judged by it."""
    folder = folder_for(url)
    if folder is not None:
        with contextlib.suppress(OSError):
            _file(folder, worker).unlink()
