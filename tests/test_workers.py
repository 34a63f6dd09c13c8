"""Three worker processes on one PostgreSQL outbox: each delivery sent once, none lost."""

from __future__ import annotations

import pytest

from tests.workers_kit import run_workers


def test_three_workers_share_the_outbox_without_duplicates(tmp_path, store_url) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("several worker processes share an outbox on PostgreSQL (SQLite: one process)")
    result = run_workers(tmp_path, store_url, deliveries=600, workers=3, deadline=120)
    assert result.lost == 0 and result.duplicated == 0, result
    assert len([w for w in result.by_worker if w != "None"]) >= 2, "the workers shared the outbox"
