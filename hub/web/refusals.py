"""One log line per kind of refused webhook post, not one per post.

A refused post is logged so an admin sees why nothing arrived (a secret that differs, a proxy
that rewrites bodies); a flood of them — a scanner, a sender stuck retrying — must not bury the
log. Each kind is logged at once, then at most once every ``every`` seconds, saying how many
more like it came in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RefusalLog:
    """Logs refused posts at WARNING, each kind at most once per ``every`` seconds."""

    def __init__(self, log: logging.Logger, every: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.log, self.every, self.monotonic = log, every, monotonic
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def refused(self, status: int, kind: str, detail: str = "") -> None:
        """Note one refused post; ``kind`` groups the lines, ``detail`` adds to this one."""
        now = self.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.every:
            self._quiet[kind] = self._quiet.get(kind, 0) + 1
            return
        self._last[kind] = now
        more = self._quiet.pop(kind, 0)
        since = f" ({more} more like it in the last {now - last:.0f} s)" if more and last is not None else ""
        self.log.warning("webhook post refused (%d): %s%s%s", status, kind,
                         f": {detail}" if detail else "", since)
