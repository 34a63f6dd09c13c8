"""The webhook signature matches Meta's scheme and refuses near misses."""

from hub.web.signature import is_valid, sign


def test_signature_round_trip_and_near_misses() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    header = sign(body, "app-secret")
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert is_valid(body, header, "app-secret")
    assert not is_valid(body + b" ", header, "app-secret")
    assert not is_valid(body, header, "other-secret")
    assert not is_valid(body, None, "app-secret")
    assert not is_valid(body, header.replace("sha256=", "sha1="), "app-secret")
