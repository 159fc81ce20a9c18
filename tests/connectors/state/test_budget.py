"""Request budgets count per day; racing increments lose nothing and never pass a limit together."""

from __future__ import annotations

from connectors.state import StateStore
from tests.connectors.state.conftest import race


def test_request_budget_accumulates_per_day(store: StateStore) -> None:
    assert store.add_requests("kintone", "app:12", "2026-11-28", 40) == 40
    assert store.add_requests("kintone", "app:12", "2026-11-28", 2) == 42
    assert store.requests_used("kintone", "app:12", "2026-11-29") == 0


def test_spending_stops_at_the_limit(store: StateStore) -> None:
    assert store.spend_requests("kintone", "app:12", "2026-11-28", 3, 4) is True
    assert store.spend_requests("kintone", "app:12", "2026-11-28", 2, 4) is False  # 5 > 4: not counted
    assert store.spend_requests("kintone", "app:12", "2026-11-28", 1, 4) is True
    assert store.spend_requests("kintone", "app:13", "2026-11-28", 5, 4) is False  # never fits, not counted
    assert store.requests_used("kintone", "app:12", "2026-11-28") == 4
    assert store.requests_used("kintone", "app:13", "2026-11-28") == 0


def test_racing_increments_are_all_counted(pg_stores: list[StateStore]) -> None:
    each = 60
    totals = race(
        pg_stores, lambda i, s: [s.add_requests("kintone", "app:1", "2026-11-28", 1) for _ in range(each)]
    )
    assert pg_stores[0].requests_used("kintone", "app:1", "2026-11-28") == each * len(pg_stores)
    seen = sorted(t for per_worker in totals for t in per_worker)
    assert seen == list(range(1, each * len(pg_stores) + 1))  # every increment saw its own total


def test_racing_spenders_never_pass_the_limit_together(pg_stores: list[StateStore]) -> None:
    limit = 100
    spent = race(
        pg_stores,
        lambda i, s: sum(s.spend_requests("kintone", "app:2", "2026-11-28", 1, limit) for _ in range(40)),
    )
    assert sum(spent) == limit  # 8 × 40 asked, exactly the limit granted
    assert pg_stores[0].requests_used("kintone", "app:2", "2026-11-28") == limit
