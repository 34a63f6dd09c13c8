"""``hub run``: the daemon (poll, routines, dispatch, webhook, health, metrics, dashboard)."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from hub.app import App
from hub.daemon import ROLES, Daemon, DaemonOptions
from hub.logs import configure


@click.command("run")
@click.option("--role", type=click.Choice(ROLES), default="all", show_default=True,
              help="scheduler: poll and plan; worker: send; all: both.")
@click.option("--host", default=None, help="Address for the webhook and pages (default: [webhook] host).")
@click.option("--port", type=int, default=None, help="Port (default: [webhook] port; 0 picks a free one).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one object per line, for log collectors.")
@click.option("--poll-every", type=float, default=15.0, show_default=True, hidden=True)
@click.pass_obj
def run(app: App, role: str, host: str | None, port: int | None, log_format: str,
        poll_every: float) -> None:
    """Run the hub as a service until SIGTERM/SIGINT (a second one exits at once)."""
    configure(logging.INFO, log_format)
    daemon = Daemon(app, DaemonOptions(role=role, host=host, port=port, poll_every=poll_every,
                                             json_logs=log_format == "json"))
    sys.exit(asyncio.run(daemon.run()))
