"""``hub demo``: the whole flow on this machine, with no account and no config of your own.

The sample feed is served over real loopback HTTP, polled, filtered and stored in a fresh
SQLite file; two simulated people who opted in get the newest stories on the console.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import click
from sqlmodel import select

from hub.clock import SystemClock
from hub.config import load_config
from hub.consent import record_opt_in
from hub.dispatch import dispatch_due
from hub.loopback import Document, LoopbackServer
from hub.outbox import plan_each
from hub.pipeline import poll_once
from hub.plugins import load
from hub.store import Store
from hub.tables import ItemRow

DEMO_PEOPLE = [("34600000001", "Lucía", []), ("34600000002", "Andrés", ["cultura"])]


def run_demo(keep: Path | None = None) -> None:
    folder = keep or Path(tempfile.mkdtemp(prefix="hub-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    feed = resources.files("hub").joinpath("samples/feed.xml").read_bytes()
    with LoopbackServer({"/feed.xml": Document(feed)}) as server:
        config_path = folder / "hub.toml"
        config_path.write_text(
            "[hub]\ndatabase_url = \"sqlite:///demo.db\"\nsink = \"console\"\n\n"
            f"[[sources]]\ntype = \"rss\"\nname = \"villanueva\"\nurl = \"{server.url('/feed.xml')}\"\n"
            "tags = [\"noticias\"]\n\n[[filters]]\ntype = \"dedup\"\nbackfill = 5\n\n[sinks.console]\n",
            encoding="utf-8",
        )
        pm, registry = load()
        config = load_config(config_path, registry)
        store = Store(config.database_url)
        clock = SystemClock()
        click.echo(f"Demo folder: {folder}\nFeed served at {server.url('/feed.xml')}\n")

        report = asyncio.run(poll_once(config, store, registry, clock=clock))
        click.echo(f"Polled: {report.stored} new item(s) stored.")
        again = asyncio.run(poll_once(config, store, registry, clock=clock, force=True))
        click.echo(f"Polled again: {again.stored} new (the server answered "
                   f"{'304 Not Modified' if again.sources[0].not_modified else '200'}).\n")

    with store.write() as session:
        for phone, name, topics in DEMO_PEOPLE:
            record_opt_in(session, phone, clock.now(), channel="demo", name=name, topics=topics,
                          words="ALTA", note="simulated person in hub demo")
        newest = session.exec(
            select(ItemRow).where(ItemRow.status == "ready")
            .order_by(ItemRow.published_at.desc()).limit(3)  # type: ignore[union-attr]
        ).all()
        planned = plan_each(session, list(newest), clock.now(), routine="demo")
    click.echo(f"{len(DEMO_PEOPLE)} simulated subscribers opted in; {planned} deliveries planned.\n")
    sent = asyncio.run(dispatch_due(store, _console(registry), clock))
    click.echo(f"Done: {sent.sent} sent, {sent.failed} failed. Store: {folder / 'demo.db'}")
    store.dispose()
    if keep is None:
        shutil.rmtree(folder, ignore_errors=True)


def _console(registry):  # noqa: ANN001, ANN202 - Registry → Sink
    registered = registry.get("sinks", "console")
    return registered.cls(registered.cls.Options())
