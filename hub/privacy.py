"""Phone numbers and business-scoped user ids are personal data: how they appear in logs and on
screens."""

from __future__ import annotations

import re

_PHONE = re.compile(r"\+?\d{8,15}")
# A business-scoped user id: country code, a dot, (ENT. for a parent id), up to 128 alphanumerics
# (in logs, only those with a digit: "OK.done" is left alone).
_BSUID = re.compile(r"\b[A-Z]{2}\.(?:ENT\.)?(?=[A-Za-z]*\d)[A-Za-z0-9]{1,128}\b")


def mask_phone(phone: str) -> str:
    """``34612345678`` → ``+34•••••••78``: enough to tell two people apart, not to call them."""
    digits = phone.lstrip("+")
    if len(digits) < 6:
        return "•" * len(digits)
    return f"+{digits[:2]}{'•' * (len(digits) - 4)}{digits[-2:]}"


def mask_user_id(user_id: str) -> str:
    """``ES.13491208655302741918`` → ``ES.••••18``: the country and the last two characters."""
    head, _, rest = user_id.rpartition(".")
    if not head:
        return "•" * min(len(rest), 8)
    return f"{head}.{'•' * 4}{rest[-2:] if len(rest) > 4 else ''}"


def mask_person(phone: str | None, user_id: str | None = None) -> str:
    """How to name someone in a log line: the masked number, else the masked BSUID, else ``?``."""
    if phone:
        return mask_phone(phone)
    if user_id:
        return mask_user_id(user_id)
    return "?"


def mask_any(ident: str) -> str:
    """A number or a business-scoped user id, masked as what it is."""
    return mask_user_id(ident) if _BSUID.fullmatch(ident) or "." in ident else mask_phone(ident)


def mask_phones_in(text: str) -> str:
    """Mask every phone-number-looking run of digits, and every BSUID, in a log line."""
    text = _BSUID.sub(lambda m: mask_user_id(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
