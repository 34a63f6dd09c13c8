"""One status applied as the hub's webhook applies it: parsed by the Cloud API layer (which reads
the action from an error code) and settled through a :class:`StatusBatch`, locks and all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from hub.delivery.settle import DeliveryState
from hub.delivery.statuses import StatusBatch
from hub.web.webhook_parse import parse_status


@dataclass(frozen=True)
class Applied:
    """The delivery the status named (None: unknown message) and whether it changed it."""

    delivery: DeliveryState | None
    changed: bool


def apply_status(session: Session, *, status: str, wamid: str, at: datetime,
                 callback_data: str | None = None, error_code: int | None = None,
                 error_detail: str | None = None) -> Applied:
    """A ``statuses[]`` entry with these fields, at ``at``, applied in ``session``."""
    raw: dict[str, Any] = {"id": wamid, "status": status}
    if callback_data is not None:
        raw["biz_opaque_callback_data"] = callback_data
    if error_code is not None or error_detail is not None:
        raw["errors"] = [{"code": error_code, "title": error_detail}]
    return apply_posted(session, raw, at)


def apply_posted(session: Session, raw: dict[str, Any], at: datetime) -> Applied:
    """A ``statuses[]`` entry as posted (by the simulator, say), applied at ``at`` in ``session``."""
    update = parse_status({**raw, "timestamp": str(at.timestamp())}, at)
    assert update is not None, raw
    batch = StatusBatch(session, [update])
    found = batch.find(update.wamid, update.biz_opaque)
    _, changed = batch.record(update, at)
    batch.flush()
    return Applied(found, changed is not None)
