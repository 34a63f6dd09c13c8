"""What the hub knows of the account's templates, and the routines it holds because of them.

A template the account pauses or disables (a ``message_template_status_update`` webhook, or the
periodic read) raises an alert, and every routine that sends it is held: its slots are recorded
as missed instead of planning thousands of messages Meta would refuse. An APPROVED status lifts
the hold by itself and clears the alert.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from hub.cloudapi.templates import (
    BLOCKING,
    AccountTemplate,
    TemplateUpdate,
    TemplateUse,
    preflight,
    read_account,
    uses_from_config,
)
from hub.storage.store import Store
from hub.storage.tables import AlertRow, TemplateRow

log = logging.getLogger("hub.delivery.template_status")
ALERT_PREFIX = "template "
CHECK_EVERY = 3 * 3600.0  # seconds between two reads of the account's templates by `hub run`


def _alert_text(name: str, language: str) -> str:
    return f"{ALERT_PREFIX}{name!r} ({language})"


def _changed(session: Session, row: TemplateRow, status: str, reason: str | None, now: datetime) -> None:
    """Record a new status; alert when it starts blocking sends, clear the alert when it stops."""
    before = row.status
    row.status, row.reason, row.updated_at = status, reason, now
    if status == before:
        return
    head = _alert_text(row.name, row.language)
    if status in BLOCKING:
        why = f": {reason}" if reason else ""
        session.add(AlertRow(at=now, level="error", message=(
            f"{head} is {status}{why}; routines that send it are held until it is APPROVED again")))
        log.error("%s is %s%s", head, status, why)
    elif status == "APPROVED":
        for alert in session.exec(select(AlertRow).where(
                col(AlertRow.cleared_at).is_(None), col(AlertRow.message).startswith(head))):
            alert.cleared_at = now


def record_account(session: Session, templates: Iterable[AccountTemplate], now: datetime) -> int:
    """Store what the account said (the periodic read); returns how many changed status."""
    known = {(r.name, r.language): r for r in session.exec(select(TemplateRow))}
    changed = 0
    for t in templates:
        row = known.get((t.name, t.language))
        if row is None:
            row = TemplateRow(name=t.name, language=t.language, status=t.status, updated_at=now)
            session.add(row)
            if t.status in BLOCKING:
                row.status = "APPROVED"  # first seen already blocked: alert as a change
        changed += int(row.status != t.status)
        row.template_id, row.category, row.quality = t.template_id, t.category, t.quality
        row.body_params, row.spec = t.body_params, t.spec()
        _changed(session, row, t.status, t.reason, now)
    return changed


def apply_update(session: Session, update: TemplateUpdate) -> None:
    """A ``message_template_status_update`` webhook, stored in the same transaction as its post."""
    row = session.get(TemplateRow, (update.name, update.language))
    if row is None:
        row = TemplateRow(name=update.name, language=update.language, status="APPROVED",
                          updated_at=update.at)
        session.add(row)
    if update.template_id:
        row.template_id = update.template_id
    if update.category:
        row.category = update.category
    _changed(session, row, update.event, update.reason, update.at)


def hold_reason(session: Session, routine: str, uses: Iterable[TemplateUse]) -> str | None:
    """Why ``routine`` may not run now (a template it sends is not approved), or None."""
    for use in uses:
        if routine not in use.routines:
            continue
        row = session.get(TemplateRow, (use.name, use.language))
        if row is not None and row.status in BLOCKING:
            return f"held: template {use.name!r} ({use.language}) is {row.status}"
    return None


def category_of(session: Session, uses: Iterable[TemplateUse], default: str = "marketing") -> str:
    """The category Meta bills the config's template as (the first one read), else ``default``."""
    for use in uses:
        row = session.get(TemplateRow, (use.name, use.language))
        if row is not None and row.category:
            return row.category.lower()
    return default


def check_account(config: object, store: Store, now: datetime) -> list[str]:
    """Read the account's templates, record them (alerts, holds), and return the config's mismatches.

    What ``hub run`` does at start and every :data:`CHECK_EVERY`; an account that cannot say
    (no ``waba_id``) is skipped with an empty answer.
    """
    if not getattr(getattr(config.delivering_sink(), "options", None), "waba_id", None):  # type: ignore[attr-defined]
        return []
    account = read_account(config)
    with store.write() as session:
        record_account(session, account, now)
    return preflight(uses_from_config(config), account)
