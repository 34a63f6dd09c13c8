"""``hub send``: dispatch what is due now with a progress bar, or show it with ``--dry-run``."""

from __future__ import annotations

import asyncio
import gc
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

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
from hub.timekeeping.clock import Clock, SystemClock

FOLLOW = 30.0  # seconds: `hub send` waits out a person's 6 s gap or a short retry rather than stop


def dry_run(store: Store, sink: Sink, limit: int, caps: Caps | None = None, tz: ZoneInfo | None = None,
            clock: Clock | None = None) -> None:
    """Print what the sink would send for each due delivery; claims and sends nothing."""
    now = (clock or SystemClock()).now()
    with store.read() as session:  # the first few rows and a count: a big outbox stays on disk
        pairs = due_now(session, now, limit=max(limit, 0))
        due = count_due_now(session, now)
    if not due:
        click.echo("Nothing is due now.")
        explain(store, sink, caps, tz or ZoneInfo("UTC"), now)
        return
    for delivery, subscriber in pairs:
        click.echo(f"── delivery {delivery.id} to {mask_person(subscriber.phone, subscriber.user_id)} ──")
        click.echo(sink.preview(message_for(Claim.of(delivery, subscriber), now)) + "\n")
    more = due - limit
    click.echo(f"{due} due now" + (f" ({more} more not shown; --show N)" if more > 0 else "")
               + "; nothing was sent (--dry-run).")
    explain(store, sink, caps, tz or ZoneInfo("UTC"), now)  # due is not sendable in quiet hours


def _line(report: DispatchReport | None) -> str | None:
    if report is None:
        return None
    return (f"sent {report.sent} · failed {report.failed} · waiting {report.retrying + report.in_doubt}"
            f" · {report.rate:.0f} msg/s")


def explain(store: Store, sink: Sink, caps: Caps | None, tz: ZoneInfo, now: datetime) -> None:
    """Say what holds each group of deliveries still to go, and until when (nothing if none)."""
    from hub.delivery.waiting import lines, why_waiting

    with store.read() as session:
        groups = why_waiting(session, now, caps, sink.pacing().recipient_gap)
    if groups:
        click.echo("Waiting:")
        for line in lines(groups, tz, now):
            click.echo(f"  {line}")


def send(store: Store, sink: Sink, caps: Caps | None = None,
         paid_gate: PaidGate | None = None, clock: Clock | None = None) -> DispatchReport:
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

        report = asyncio.run(dispatch_due(store, sink, clock, progress=progress,
                                           follow=FOLLOW if clock is None else 0.0, caps=caps,
                                           paid_gate=paid_gate))
    return report


def summary(report: DispatchReport) -> str:
    parts = [f"{report.sent} sent, {report.failed} failed, {report.skipped} skipped"]
    if report.retrying or report.in_doubt or report.waiting:
        parts.append(f"{report.waiting} waiting (below: what holds them)")
    if report.fallbacks:
        parts.append(f"{report.fallbacks} sent as template after 131047")
    if report.elapsed > 0 and report.sent:
        parts.append(f"{report.rate:.1f} msg/s")
    return "; ".join(parts)
