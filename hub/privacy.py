"""Phone numbers are personal data: this is how they appear in logs and on screens."""

from __future__ import annotations

import re

_PHONE = re.compile(r"\+?\d{8,15}")


def mask_phone(phone: str) -> str:
    """``34612345678`` → ``+34•••••••78``: enough to tell two people apart, not to call them."""
    digits = phone.lstrip("+")
    if len(digits) < 6:
        return "•" * len(digits)
    return f"+{digits[:2]}{'•' * (len(digits) - 4)}{digits[-2:]}"


def mask_phones_in(text: str) -> str:
    """Mask every phone-number-looking run of digits in a log line."""
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
