"""BAJA at once, also under load: no news request reaches a person after their BAJA's 200.

Small version of ``benchmarks/optout.py``; judged by the simulator's log of accepted requests.
"""

from __future__ import annotations

from tests.optout_kit import run_optout_scenario


def test_no_news_reaches_anyone_after_their_baja_was_answered(tmp_path) -> None:
    result = run_optout_scenario(tmp_path, people=400, rate=100, bajas_per_second=25, ahead=(2, 80))
    assert result.bajas >= 10, "BAJAs arrived while the routine was still sending"
    assert result.after_baja == 0, f"news after a BAJA's 200: {sorted(result.late)[:5]} s late"
    assert result.news + result.bajas >= result.people - 5  # everyone else got their news
