"""Watermarks move forward only, once, per company; racing commits end at the largest value."""

from __future__ import annotations

import random

from connectors.state import StateStore
from tests.connectors.state.conftest import race


def test_watermark_moves_forward_only_and_once(store: StateStore) -> None:
    assert store.watermark("staging", "cuts") is None
    assert store.commit_watermark("staging", "cuts", "20261128T0200+0900", "r1") is True
    assert store.commit_watermark("staging", "cuts", "20261128T0200+0900", "r2") is False
    assert store.commit_watermark("staging", "cuts", "20261127T1100+0900", "r3") is False
    assert store.watermark("staging", "cuts") == "20261128T0200+0900"
    assert store.commit_watermark("staging", "cuts", "20261128T1100+0900", "r4") is True
    other = StateStore(store.url, "other-company")
    assert other.watermark("staging", "cuts") is None
    other.close()


def test_racing_commits_never_move_a_watermark_back(pg_stores: list[StateStore]) -> None:
    values = [f"2026112{d}T{h:02}00+0900" for d in range(1, 5) for h in range(24)]  # 8 racers x 96
    for round_ in range(3):
        stream = f"cuts-{round_}"
        shuffled = [random.sample(values, len(values)) for _ in pg_stores]

        def commit(i: int, store: StateStore, stream: str = stream, order: list[list[str]] = shuffled) -> int:
            return sum(store.commit_watermark("staging", stream, v, f"run-{i}") for v in order[i])

        moves = race(pg_stores, commit)
        assert pg_stores[0].watermark("staging", stream) == max(values)
        assert 1 <= sum(moves) <= len(values)
