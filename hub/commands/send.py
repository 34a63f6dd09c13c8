"""``hub send``: dispatch what is due now with a progress bar, or show it with ``--dry-run``."""

from __future__ import annotations

import asyncio
import gc
import sys

import click
from sqlalchemy import func
from sqlmodel import select

from hub.contracts import Sink
from hub.delivery.caps import Caps
from hub.delivery.paid_gate import PaidGate
from hub.delivery.send import Claim, DispatchReport, count_due_now, dispatch_due, due_now, message_for
from hub.privacy import mask_person
from hub.storage.store import Store
from hub.storage.tables import DeliveryRow
from hub.timekeeping.clock import SystemClock

FOLLOW = 30.0  # seconds: `hub send` waits out a person's 6 s gap or a short retry rather than stop


def dry_run(store: Store, sink: Sink, limit: int) -> None:
    """Print what the sink would send for each due delivery; claims and sends nothing."""
    now = SystemClock().now()
    with store.read() as session:  # the first few rows and a count: a big outbox stays on disk
        pairs = due_now(session, now, limit=max(limit, 0))
        due = count_due_now(session, now)
    if not due:
        click.echo("Nothing is due now.")
        return
    for delivery, subscriber in pairs:
        click.echo(f"── delivery {delivery.id} to {mask_person(subscriber.phone, subscriber.user_id)} ──")
        click.echo(sink.preview(message_for(Claim.of(delivery, subscriber), now)) + "\n")
    more = due - limit
    click.echo(f"{due} due now" + (f" ({more} more not shown; --show N)" if more > 0 else "")
               + "; nothing was sent (--dry-run).")


def _line(report: DispatchReport | None) -> str | None:
    if report is None:
        return None
    return (f"sent {report.sent} · failed {report.failed} · waiting {report.retrying + report.in_doubt}"
            f" · {report.rate:.0f} msg/s")


def send(store: Store, sink: Sink, caps: Caps | None = None,
         paid_gate: PaidGate | None = None) -> DispatchReport:
    """Dispatch with a progress bar on a terminal, and one summary line in any case."""
    with store.read() as session:
        due = session.exec(select(func.count()).select_from(DeliveryRow).where(
            DeliveryRow.status == "planned")).one()
    # What exists now lives for the whole run: keep it out of the collector's full passes, whose
    # pauses would hold sends back and then release them together.
    gc.collect()
    gc.freeze()
    done = 0
    with click.progressbar(length=max(due, 1), label="Sending", file=sys.stderr,
                           item_show_func=_line) as bar:
        def progress(report: DispatchReport) -> None:
            nonlocal done
            now_done = report.sent + report.failed + report.retrying + report.in_doubt + report.skipped
            bar.update(max(0, now_done - done), report)
            done = now_done

        report = asyncio.run(dispatch_due(store, sink, progress=progress, follow=FOLLOW, caps=caps,
                                           paid_gate=paid_gate))
    return report


def summary(report: DispatchReport) -> str:
    parts = [f"{report.sent} sent, {report.failed} failed, {report.skipped} skipped"]
    if report.retrying or report.in_doubt or report.waiting:
        parts.append(f"{report.waiting} waiting (retries, pacing, or awaiting a status)")
    if report.fallbacks:
        parts.append(f"{report.fallbacks} sent as template after 131047")
    if report.elapsed > 0 and report.sent:
        parts.append(f"{report.rate:.1f} msg/s")
    return "; ".join(parts)
