"""Text people sent us, made safe to print on an admin's terminal.

A WhatsApp profile name is whatever its owner typed: an escape sequence in it could clear the
screen, retitle the window or hide lines when ``hub subscribers`` prints it. Sequences are
dropped whole, then any other control character (C0, DEL, C1).
"""

from __future__ import annotations

import re

_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, clearing
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS, PM, APC, SOS strings
    r"|\x1b[ -/]*[0-~]"  # any other two-byte escape
    r"|\x9b[0-?]*[ -/]*[@-~]")  # 8-bit CSI
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str | None) -> str:
    """``text`` without escape sequences and control characters ('' for None)."""
    if not text:
        return ""
    return _CONTROL.sub("", _SEQUENCE.sub("", text))
