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


def test_a_flood_of_refused_posts_is_one_line_per_kind_every_ten_seconds(caplog) -> None:  # noqa: ANN001
    import logging

    from hub.web.refusals import RefusalLog

    now = [0.0]
    refusals = RefusalLog(logging.getLogger("hub.web.webhook"), every=10, monotonic=lambda: now[0])
    with caplog.at_level("WARNING", logger="hub.web.webhook"):
        for _ in range(500):
            refusals.refused(401, "signature wrong")
            now[0] += 0.01  # 500 posts in 5 s
        refusals.refused(400, "not JSON", "Expecting value")
        now[0] = 12.0
        refusals.refused(401, "signature wrong")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["webhook post refused (401): signature wrong",
                     "webhook post refused (400): not JSON: Expecting value",
                     "webhook post refused (401): signature wrong (499 more like it in the last 12 s)"]
