"""Logging for the daemon: one line per event, phone numbers masked, text or JSON.

Everything the process writes goes through the root handler installed here: uvicorn's loggers
propagate to it (its own config is switched off where the hub starts it), warnings are captured,
and an exception nobody caught is logged rather than printed. The formatters mask the whole
formatted line, tracebacks included, since an exception's text may hold a number.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType

from hub.privacy import mask_phones_in


class MaskingFilter(logging.Filter):
    """Masks anything that looks like a phone number, whatever the code that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["error"] = record.exc_text
        return mask_phones_in(json.dumps(entry, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """``time level logger: message`` (and the traceback, if any), masked as a whole."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return mask_phones_in(super().format(record))


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    logging.getLogger("hub").critical("uncaught %s", kind.__name__, exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)


def configure(level: int = logging.INFO, fmt: str = "text") -> None:
    """Install one handler on the root logger (idempotent), masking phone numbers."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for own in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):  # theirs → ours
        logging.getLogger(own).handlers.clear()
        logging.getLogger(own).propagate = True
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    for noisy in ("httpx", "httpcore", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
