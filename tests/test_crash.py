"""Crash test, reduced for CI: SIGKILL mid-send, restart, and every delivery is sent exactly once."""

from __future__ import annotations

from tests.crash_kit import run_crash_scenario


def test_sigkill_at_random_moments_loses_nothing_and_sends_nothing_twice(tmp_path) -> None:
    result = run_crash_scenario(tmp_path, deliveries=600, kills=5, seed=11, deadline=120, rate=80)
    assert result.kills >= 3, "the kills came while there was still something to send"
    assert result.lost == 0, f"{result.lost} deliveries never reached the API; states {result.states}"
    assert result.duplicated == 0, f"{result.duplicated} sent twice"
    assert result.states.get("sending", 0) == 0 and result.states.get("planned", 0) == 0
    assert result.states == {"delivered": result.deliveries}, f"statuses not all stored: {result.states}"
