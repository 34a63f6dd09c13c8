"""Which country a recipient is billed as: from the phone number, or from a BSUID's prefix.

Meta prices a message by the recipient's country calling code. A business-scoped user id
(BSUID) carries the country as a two-letter prefix before its first dot (``ES.1349…``).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_BSUID = re.compile(r"^([A-Za-z]{2})\.")


def country_of(identifier: str | None) -> str | None:
    """The ISO 3166 two-letter country (``"ES"``) of a phone number or a BSUID, or None."""
    if not identifier:
        return None
    found = _BSUID.match(identifier.strip())
    if found:
        return found.group(1).upper()
    digits = "".join(c for c in identifier if c.isdigit())
    return _country_of_digits(digits) if digits else None


@lru_cache(maxsize=4096)
def _country_of_digits(digits: str) -> str | None:
    """By the longest calling-code prefix phonenumbers knows; cached per number (many repeat)."""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    if region and region != "ZZ":
        return str(region)
    # A number phonenumbers cannot place exactly (too short, unassigned range): its calling code's
    # main country still decides the price.
    main = phonenumbers.region_code_for_country_code(number.country_code or 0)
    return None if main in (None, "ZZ", "001") else str(main)
