"""Logs never show a whole phone number, in text or JSON."""

from __future__ import annotations

import json
import logging

from hub.logs import JsonFormatter, MaskingFilter


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("hub.test", logging.INFO, __file__, 1, msg, args, None)


def test_phone_numbers_are_masked_in_any_log_line() -> None:
    record = _record("delivery %s to %s failed", 17, "34612345678")
    MaskingFilter().filter(record)
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert "34612345678" not in line
    assert data["message"] == "delivery 17 to +34•••••••78 failed"
    assert data["level"] == "info" and data["logger"] == "hub.test"
