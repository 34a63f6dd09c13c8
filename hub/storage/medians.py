"""Exact medians of many groups of numbers, in bounded memory.

``hub stats`` shows the median time to read per run, day, hour and item: one number per read
message and grouping. An exact median needs every number, so up to ``SPILL_AT`` of them are
kept in lists; past that they move to a private temporary SQLite database (on disk, deleted
when closed), whose sort runs on disk. Small stores never touch the disk; a million reads do
not hold a million floats. Both paths give the same floats as :func:`statistics.median`.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Iterator

SPILL_AT = 50_000  # numbers held in memory before they move to disk (~1.6 MB as Python floats)
FLUSH_EVERY = 10_000


class Medians:
    """Numbers added per group; each group's exact median once they are all in."""

    def __init__(self, spill_at: int | None = None) -> None:
        self.spill_at = spill_at or SPILL_AT
        self.lists: list[list[float]] = []
        self.sizes: list[int] = []
        self.held = 0
        self.db: sqlite3.Connection | None = None
        self.pending: list[tuple[int, float]] = []
        self.done: dict[int, float] | None = None

    def group(self) -> Group:
        """A new, empty group (its values go through this collection)."""
        self.lists.append([])
        self.sizes.append(0)
        return Group(self, len(self.lists) - 1)

    def add(self, group: int, value: float) -> None:
        self.sizes[group] += 1
        self.done = None
        if self.db is None:
            self.lists[group].append(value)
            self.held += 1
            if self.held >= self.spill_at:
                self._spill()
            return
        self.pending.append((group, value))
        if len(self.pending) >= FLUSH_EVERY:
            self._flush()

    def median(self, group: int) -> float | None:
        if not self.sizes[group]:
            return None
        if self.db is None:
            return statistics.median(self.lists[group])
        if self.done is None:
            self.done = dict(self._medians_on_disk())
        return self.done[group]

    def close(self) -> None:
        """Drop the disk copy; medians already computed stay readable."""
        if self.db is not None:
            if self.done is None:
                self.done = dict(self._medians_on_disk())
            self.db.close()

    def _spill(self) -> None:
        # "" opens a private temporary database on disk, removed when the connection closes.
        self.db = sqlite3.connect("")
        self.db.execute("CREATE TABLE n (g INTEGER NOT NULL, v REAL NOT NULL)")
        for group, values in enumerate(self.lists):
            self.db.executemany("INSERT INTO n VALUES (?, ?)", ((group, v) for v in values))
            values.clear()
        self.held = 0

    def _flush(self) -> None:
        assert self.db is not None
        self.db.executemany("INSERT INTO n VALUES (?, ?)", self.pending)
        self.pending = []

    def _medians_on_disk(self) -> Iterator[tuple[int, float]]:
        """One sorted pass: each group's middle value, or the mean of its two middle values."""
        self._flush()
        assert self.db is not None
        group, index, low = -1, 0, 0.0
        for g, value in self.db.execute("SELECT g, v FROM n ORDER BY g, v"):
            if g != group:
                group, index = g, 0
            size = self.sizes[g]
            half = size // 2
            if size % 2 and index == half:
                yield g, value
            elif not size % 2 and index == half - 1:
                low = value
            elif not size % 2 and index == half:
                yield g, (low + value) / 2
            index += 1


class Group:
    """One group's handle: ``append`` a number, ``len``, and its ``median``."""

    def __init__(self, owner: Medians, index: int) -> None:
        self.owner, self.index = owner, index

    def append(self, value: float) -> None:
        self.owner.add(self.index, value)

    def __len__(self) -> int:
        return self.owner.sizes[self.index]

    def median(self) -> float | None:
        return self.owner.median(self.index)
