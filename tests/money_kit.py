"""A hub wired to the Cloud API simulator for the templates and money tests: webhook on loopback,
one FakeClock for both, a routine, and a helper to plan and send as the daemon would."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlmodel import select

from hub.app import App
from hub.audience.consent import record_opt_in
from hub.delivery.send import DispatchReport, dispatch_due
from hub.simulator import SimulatorServer
from hub.storage.tables import ItemRow
from hub.timekeeping.clock import FakeClock

T = TypeVar("T")
SECRET = "money-app-secret"
START = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
WABA = "102290129340398"


def wait_for(condition: Callable[[], T], what: str, timeout: float = 15.0) -> T:
    """Poll a hand-off between threads (a webhook posted) until it shows, or fail."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.02)
    return result


def hub_toml(tmp_path: Path, server: SimulatorServer, extra_hub: str = "", extra: str = "") -> Path:
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\ndatabase_url = "sqlite:///{tmp_path / "hub.db"}"\nsink = "whatsapp"\n{extra_hub}\n'
        '[[routines]]\nname = "mañanas"\nevery = "1 day"\nat = "09:30"\nmode = "each"\nmax_items = 1\n\n'
        # About money, not restraint: the caps loosened, so counts are the plan's and not the clock's.
        '[caps]\nper_subscriber_per_day = "unlimited"\nquiet_hours = "none"\nmin_gap = "none"\n\n'
        "[sinks.whatsapp]\n"
        f'phone_number_id = "{server.simulator.config.phone_number_id}"\nwaba_id = "{WABA}"\n'
        f'base_url = "{server.base_url}"\ntimeout = 5\nper_recipient_seconds = 0\n'
        'template = { name = "news_update", language = "es", body = ["{title}", "{url}"] }\n' + extra,
        encoding="utf-8")
    return config


@dataclass
class Hub:
    app: App
    server: SimulatorServer
    clock: FakeClock

    @property
    def sim(self) -> Any:
        return self.server.simulator

    def join(self, *phones: str) -> None:
        with self.app.store.write() as session:
            for phone in phones:
                record_opt_in(session, phone, self.clock.now(), channel="cli", note="test")

    def story(self, title: str) -> None:
        with self.app.store.write() as session:
            session.add(ItemRow(source="web", guid=title, url=f"https://example.org/{len(title)}",
                                title=title, tags=[], fetched_at=self.clock.now(), ready_at=self.clock.now()))

    def items(self) -> list[ItemRow]:
        with self.app.store.read() as session:
            return list(session.exec(select(ItemRow)))

    def send(self, **kwargs: Any) -> DispatchReport:
        return asyncio.run(dispatch_due(self.app.store, self.app.sink(), self.clock, **kwargs))
