"""Whether the hub may send at all, and the alerts an admin must see (``hub status``).

A bad token (190, 0) pauses all sending: nothing is marked failed, and after a growing pause one
message tries the token again. A restricted account (131031, 368) stops all sending and raises an
alert; only an admin resumes it (``hub status --resume``), once Meta has lifted the block.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from hub.delivery.pacing import backoff
from hub.storage.tables import AlertRow, SendStateRow

KEY = "default"


@dataclass(frozen=True)
class Gate:
    """What the dispatcher may do now: send, probe with one message, or nothing (and why)."""

    may_send: bool
    probe: bool = False
    reason: str | None = None


def _row(session: Session) -> SendStateRow:
    row = session.get(SendStateRow, KEY)
    if row is None:
        row = SendStateRow(key=KEY)
        session.add(row)
    return row


def gate(session: Session, now: datetime) -> Gate:
    row = session.get(SendStateRow, KEY)
    if row is None or row.state == "running":
        return Gate(True)
    if row.state == "stopped":
        return Gate(False, reason=f"sending is stopped: {row.reason} (fix it, then `hub status --resume`)")
    if row.next_probe_at is not None and row.next_probe_at > now:
        return Gate(False, reason=f"sending is paused: {row.reason}; "
                                  f"next try at {row.next_probe_at:%H:%M:%S} UTC")
    return Gate(True, probe=True)


def pause(session: Session, now: datetime, code: int | None, reason: str) -> None:
    """Hold all sending until the token works; probe again after a growing wait."""
    row = _row(session)
    if row.state == "stopped":
        return
    if row.state != "paused":
        row.since, row.probes = now, 0
        session.add(AlertRow(at=now, level="warning", code=code,
                             message=f"sending paused: the access token was refused ({reason})"))
    row.state, row.code, row.reason = "paused", code, reason
    row.probes += 1
    row.next_probe_at = now + backoff(row.probes + 2)


def stop(session: Session, now: datetime, code: int | None, reason: str) -> None:
    """Stop all sending and raise an alert a person must act on."""
    row = _row(session)
    if row.state != "stopped":
        session.add(AlertRow(at=now, level="error", code=code,
                             message=f"sending stopped: the WhatsApp account is restricted ({reason})"))
    row.state, row.code, row.reason, row.since, row.next_probe_at = "stopped", code, reason, now, None


def resume(session: Session, now: datetime) -> bool:
    """Back to sending (after a successful probe, or an admin's decision); clears open alerts."""
    row = session.get(SendStateRow, KEY)
    if row is None or row.state == "running":
        return False
    row.state, row.code, row.reason, row.next_probe_at, row.probes = "running", None, None, None, 0
    row.since = now
    for alert in session.exec(select(AlertRow).where(col(AlertRow.cleared_at).is_(None))):
        alert.cleared_at = now
    return True


def open_alerts(session: Session) -> list[AlertRow]:
    return list(session.exec(select(AlertRow).where(col(AlertRow.cleared_at).is_(None))
                             .order_by(col(AlertRow.at))))


def current(session: Session) -> SendStateRow:
    return session.get(SendStateRow, KEY) or SendStateRow(key=KEY)
