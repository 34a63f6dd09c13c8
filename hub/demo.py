"""``hub demo``: the whole hub at work on this machine, with no account and no config of your own.

Everything listens on 127.0.0.1: the Cloud API simulator stands in for Meta (it plays the
people's phones and posts signed webhooks), a small server offers the sample feed, the hub's
webhook app runs on uvicorn, and the store is a fresh SQLite file. A fake clock, moved forward by
the demo, lets one day of news (two routine runs) pass in seconds; the only waiting is for the
real hand-offs between those servers (a webhook posted, a reply sent), each bounded.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TypeVar

import click
from sqlmodel import col, func, select

from hub.app import App
from hub.delivery.send import dispatch_due
from hub.intake.pipeline import poll_once
from hub.loopback import Document, LoopbackServer
from hub.pricing.country import country_of
from hub.pricing.money import show
from hub.pricing.spent import spent
from hub.privacy import mask_any
from hub.routines import Routines
from hub.simulator import SimulatorConfig, SimulatorServer
from hub.stats import build_report
from hub.stats_tables import render_tables
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, SubscriberRow
from hub.timekeeping.clock import FakeClock
from hub.web.asgi_server import serve_in_thread
from hub.web.pages import DASHBOARD_TOKEN_ENV
from hub.web.webhook_app import webhook_app

T = TypeVar("T")
START = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)  # 09:30 in Madrid, the demo's time zone
TOKEN_ENV, SECRET_ENV, VERIFY_ENV = "HUB_DEMO_TOKEN", "HUB_DEMO_APP_SECRET", "HUB_DEMO_VERIFY_TOKEN"
HANDOFF = 20.0  # seconds: the most any one hand-off between the demo's servers may take


@dataclass(frozen=True)
class Person:
    phone: str
    name: str
    says: str


PEOPLE = [
    Person("34600000001", "Lucía", "ALTA"),
    Person("34600000002", "Andrés", "ALTA cultura"),
    Person("34600000003", "Carmen", "Hola, ALTA deportes"),
    Person("34600000004", "Javier", "alta obras"),
    Person("34600000005", "Nuria", "ALTA cultura deportes"),
    Person("34600000006", "Pablo", "¡Alta!"),
    Person("34600000007", "Elena", "ALTA deportes"),
    Person("34600000008", "Óscar", "alta cultura obras"),
    # A WhatsApp username hides Sara's number: Meta names her by a business-scoped user id only.
    Person("ES.20481632641282565120", "Sara", "ALTA deportes"),
]
USERNAMES = {"ES.20481632641282565120": "@sara"}
LEAVER, NO_NUMBER = PEOPLE[1], PEOPLE[-1]


def run_demo(keep: Path | None = None) -> None:
    """Run the demo, narrating each step; ``keep`` keeps its folder (config and store) there."""
    folder = keep or Path(tempfile.mkdtemp(prefix="hub-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        Demo(folder).run()
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


class Demo:
    """The servers, the hub and the fake clock of one demo run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.clock = FakeClock(START)
        self._reached_before = 0
        token, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        # Demo-only variable names: a real WHATSAPP_TOKEN in this shell is never read or changed.
        os.environ.update({TOKEN_ENV: token, SECRET_ENV: secret, VERIFY_ENV: secrets.token_urlsafe(8)})
        self.sim_config = SimulatorConfig(
            token=token, app_secret=secret, clock=self.clock, read_share=0.7, read_after=25 * 60, seed=7,
            phones={p.phone: p.name for p in PEOPLE}, usernames=dict(USERNAMES))

    def say(self, text: str) -> None:
        local = self.clock.now().astimezone(self.app.config.tz) if hasattr(self, "app") else None
        stamp = f"[{local:%H:%M}] " if local else ""
        click.echo(f"{stamp}{text}")

    def run(self) -> None:
        samples = resources.files("hub").joinpath("samples")
        feed = Document(samples.joinpath("feed.xml").read_bytes())
        later = Document(samples.joinpath("feed-later.xml").read_bytes())
        started = time.perf_counter()
        with SimulatorServer(self.sim_config) as sim, LoopbackServer({"/feed.xml": feed}) as feeds:
            self.sim = sim
            self.app = App(self._write_config(sim, feeds.url("/feed.xml")))
            self.app.config.database_url_from_env = False  # never the admin's HUB_DATABASE_URL
            with serve_in_thread(webhook_app(self.app, clock=self.clock)) as base_url:
                webhook = f"{base_url}{self.app.config.webhook.path}"
                sim.simulator.poster.url = webhook
                self._intro(sim.base_url, feeds.url("/feed.xml"), webhook)
                self.routines = Routines(self.app.config, self.app.store, self.clock)
                self._schedule()
                self._people_join()
                self.clock.advance(minutes=5)
                self._poll("Polling the sample feed")
                self._routine_run(hours=2, minutes=25)  # to 12:00, the routine's slot
                self.clock.advance(hours=1, minutes=10)
                self._leave(LEAVER)
                self._leave(NO_NUMBER)
                feeds.documents["/feed.xml"] = later
                self.clock.advance(hours=2, minutes=25)
                self._poll("The feed has changed; polling again")
                self._routine_run(minutes=25)  # to 16:00
                sim.drain_webhooks(HANDOFF)
            self.app.store.dispose()
        self._stats(time.perf_counter() - started)

    # -- the steps -----------------------------------------------------------------------------

    def _write_config(self, sim: SimulatorServer, feed_url: str) -> Path:
        path = self.folder / "hub.toml"
        path.write_text(
            "# Written by `hub demo`: the Cloud API simulator and the feed lived on 127.0.0.1.\n"
            f'[hub]\ndatabase_url = "sqlite:///{(self.folder / "demo.db").as_posix()}"\n'
            'sink = "whatsapp"\ntimezone = "Europe/Madrid"\n\n'
            f'[[sources]]\ntype = "rss"\nname = "villanueva"\nurl = "{feed_url}"\n'
            'allow_private = true\ntags = ["noticias"]\n\n'
            '[[filters]]\ntype = "dedup"\nbackfill = 5\nbackfill_within = "7 days"\n\n'
            '[[routines]]\nname = "noticias"\nevery = "4 hours"\nmode = "each"\nmax_items = 2\n\n'
            "[sinks.whatsapp]\n"
            f'phone_number_id = "{sim.simulator.config.phone_number_id}"\n'
            f'base_url = "{sim.base_url}"\ntoken_env = "{TOKEN_ENV}"\napp_secret_env = "{SECRET_ENV}"\n\n'
            "[audience]\n"
            'topics = { deportes = "Deportes", cultura = "Cultura", obras = "Obras" }\n\n'
            f'[webhook]\napp_secret_env = "{SECRET_ENV}"\nverify_token_env = "{VERIFY_ENV}"\n',
            encoding="utf-8")
        return path

    def _intro(self, api: str, feed: str, webhook: str) -> None:
        click.echo("WhatsApp News Hub demo: the whole flow on this machine (127.0.0.1 only), "
                   "on a fast clock.")
        click.echo(f"  Cloud API simulator  {api}  (stands in for graph.facebook.com and the phones)")
        click.echo(f"  sample feed          {feed}")
        click.echo(f"  hub webhook          {webhook}  (the simulator posts signed webhooks here)")
        click.echo(f"  store                {self.folder / 'demo.db'}\n")

    def _schedule(self) -> None:
        self.routines.tick()  # the first tick only schedules: nothing was polled yet
        for status in self.routines.status():
            when = status.next_run_at.astimezone(self.app.config.tz) if status.next_run_at else None
            self.say(f"Routine «{status.config.name}»: every {status.config.every}, next run at "
                     f"{when:%H:%M}." if when else f"Routine «{status.config.name}» is not scheduled.")

    def _people_join(self) -> None:
        self.say(f"{len(PEOPLE)} people write to the news number:")
        for person in PEOPLE:
            self.sim.run(functools.partial(self.sim.simulator.inbound_text, person.phone, person.says,
                                           person.name))
        wanted = {p.phone for p in PEOPLE}
        _wait(lambda: wanted <= {m.to for m in self.sim.simulator.accepted}, "the welcome messages")
        with self.app.store.read() as session:
            rows = {r.phone or r.user_id: r for r in session.exec(select(SubscriberRow))}
        for person in PEOPLE:
            row = rows[person.phone]
            topics = ", ".join(row.topics or []) or "everything"
            hidden = f" ({USERNAMES[person.phone]}, number hidden)" if person.phone in USERNAMES else ""
            click.echo(f"  {person.name:<7} {mask_any(person.phone)}  «{person.says}»".ljust(48)
                       + f"→ {row.status}, topics: {topics}{hidden}")
        click.echo(f"  Consent recorded for each; {len(PEOPLE)} welcome messages arrived at their phones.\n")

    def _poll(self, what: str) -> None:
        config, store, registry = self.app.config, self.app.store, self.app.registry
        report = asyncio.run(poll_once(config, store, registry, clock=self.clock, force=True))
        self.say(f"{what}: {report.stored} new item(s) stored.")

    def _routine_run(self, **until: float) -> None:
        self.clock.advance(**until)
        for run in self.routines.tick():
            self.say(f"Routine «{run.routine}» run #{run.run_id}: {len(run.item_ids)} item(s) chosen, "
                     f"{run.stats.planned if run.stats else 0} message(s) planned "
                     "(each person: their topics, at most 2).")
        self._dispatch()
        self.sim.drain_webhooks(HANDOFF)
        with self.app.store.read() as session:
            news = select(DeliveryRow.status, func.count()).where(col(DeliveryRow.routine).is_not(None))
            counts = dict(session.exec(news.group_by(DeliveryRow.status)).all())
        reached = sum(counts.get(s, 0) for s in ("sent", "delivered", "read"))
        # Counted in the store: the webhook's replier may also have sent some (claims keep it once).
        sent = reached - self._reached_before
        self._reached_before = reached
        click.echo(f"        {sent} sent through the simulated Cloud API. News so far: {reached} reached, "
                   f"{counts.get('delivered', 0) + counts.get('read', 0)} delivered, "
                   f"{counts.get('read', 0)} read (statuses arrived by webhook).\n")

    def _dispatch(self) -> None:
        """Send what is due; a person's next story waits their 6-second gap, so time moves on."""
        for _ in range(20):
            asyncio.run(dispatch_due(self.app.store, self.app.sink(), self.clock))
            if not self._count("planned"):
                break
            self.clock.advance(seconds=7)
        _wait(lambda: not self._count("sending"), "sends in flight")  # the replier may hold one

    def _count(self, status: str) -> int:
        with self.app.store.read() as session:
            return session.exec(select(func.count()).select_from(DeliveryRow).where(
                DeliveryRow.status == status)).one()

    def _leave(self, person: Person) -> None:
        before = len(self.sim.simulator.received_by(person.phone))
        self.sim.run(lambda: self.sim.simulator.inbound_text(person.phone, "BAJA", person.name))
        _wait(lambda: len(self.sim.simulator.received_by(person.phone)) > before, "the goodbye")
        how = " from a username account (by business-scoped user id)" if person.phone in USERNAMES else ""
        self.say(f"{person.name} {mask_any(person.phone)} writes «BAJA»{how}: unsubscribed at once, "
                 "one confirmation sent; nothing more will be sent to them.\n")

    def _stats(self, elapsed: float) -> None:
        store = Store(f"sqlite:///{(self.folder / 'demo.db').as_posix()}")
        card = self.app.config.rate_card()
        try:
            with store.read() as session:
                report = build_report(session, self.app.config.tz)
                cost = spent(session, card, self.app.config.tz)
                reached = session.exec(select(func.count()).select_from(DeliveryRow).where(
                    col(DeliveryRow.status).in_(("sent", "delivered", "read")))).one()
                countries = {country_of(p) for p in session.exec(select(SubscriberRow.phone))}
        finally:
            store.dispose()
        click.echo("Statistics (what `hub stats` shows):\n")
        click.echo(render_tables(report))
        unlisted = sorted(c for c in countries if c and c not in card.rates)
        note = (f" ({', '.join(unlisted)} not on the rate card: priced at its highest rate; "
                "see docs/whatsapp.md)" if unlisted else "")
        click.echo(f"\nCost: {cost.total.billable} paid templates, ≈ {show(cost.total.cost, card.currency)}; "
                   f"{reached - cost.total.billable} free inside the window{note}")
        click.echo(f"\nDemo finished in {elapsed:.1f} s; one day of news passed on the demo's clock.")
        click.echo(f"Dashboard: `hub run` serves it at http://127.0.0.1:{self.app.config.webhook.port}"
                   f"/dashboard?token=<token> once {DASHBOARD_TOKEN_ENV}=<token> is set in its "
                   "environment.")
        click.echo("Keep this demo's config and store with `hub demo --keep DIR`, then "
                   "`hub --config DIR/hub.toml stats`.")


def _wait(condition: Callable[[], T], what: str, timeout: float = HANDOFF) -> T:
    """Wait for a hand-off between the demo's servers (not for time): poll until it shows."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise click.ClickException(f"the demo gave up waiting for {what} after {timeout:.0f} s")
        pause.wait(0.02)
    return result
