"""Faults on demand: an error code, a 5xx, a hang or a dropped connection, for some requests.

A :class:`Fault` matches a share of requests (``rate``), optionally only to some recipients,
optionally only ``times`` times. Latency is fixed or drawn from a distribution. These are the
hooks the reliability work uses to prove the hub survives what Meta and networks do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["error", "status", "http5xx", "timeout", "drop"]


@dataclass
class Latency:
    """Time the simulated API takes to answer: ``fixed`` seconds plus a random part."""

    fixed: float = 0.0
    distribution: Literal["none", "uniform", "exponential", "normal"] = "none"
    spread: float = 0.0  # uniform: up to this much more; exponential: mean; normal: std deviation

    def draw(self, rng: random.Random) -> float:
        extra = 0.0
        if self.distribution == "uniform":
            extra = rng.uniform(0, self.spread)
        elif self.distribution == "exponential" and self.spread > 0:
            extra = rng.expovariate(1 / self.spread)
        elif self.distribution == "normal":
            extra = rng.gauss(0, self.spread)
        return max(0.0, self.fixed + extra)


@dataclass
class Fault:
    """One injected misbehaviour.

    ``error``: answer with Meta's error body for ``code``. ``status``: accept, then report
    ``failed`` with ``code`` in a status webhook. ``http5xx``: a proxy's HTML error page with
    ``http_status``. ``timeout``: answer only after ``hang`` seconds. ``drop``: close the
    connection without answering. For ``timeout`` and ``drop``, ``accept`` says whether the
    message was accepted all the same (the answer was lost, not the message).
    """

    kind: FaultKind = "error"
    code: int | None = None
    details: str | None = None
    rate: float = 1.0
    recipients: frozenset[str] | None = None  # digits only, no "+"
    times: int | None = None
    retry_after: float | None = None
    http_status: int = 502
    hang: float = 30.0
    accept: bool = False
    used: int = field(default=0, init=False)

    def matches(self, recipient: str, rng: random.Random) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.recipients is not None and recipient.lstrip("+") not in self.recipients:
            return False
        return self.rate >= 1.0 or rng.random() < self.rate


class FaultPlan:
    """The faults in force; the first that matches a request applies to it."""

    def __init__(self, seed: int = 0) -> None:
        self.faults: list[Fault] = []
        self.rng = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def pick(self, recipient: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(recipient, self.rng):
                fault.used += 1
                return fault
        return None
