"""The quarantine keeps one open entry per key, audits resolutions, and stays single under a race."""

from __future__ import annotations

import pytest

from connectors.state import Rejection, StateStore
from tests.connectors.state.conftest import race


def test_quarantine_keeps_one_open_entry_per_key_and_audits_resolution(store: StateStore) -> None:
    bad = Rejection("a@example.jp", {"姓": "x" * 300}, "CB_VA01", "64文字以内で入力してください。", "姓")
    assert store.quarantine_rows("r1", "kintone", "customers", [bad]) == 1
    assert store.quarantine_rows("r2", "kintone", "customers", [bad]) == 0  # the same problem: reported once
    open_rows = store.quarantined("kintone")
    assert len(open_rows) == 1 and open_rows[0].run_id == "r1" and open_rows[0].payload == {"姓": "x" * 300}
    worse = Rejection("a@example.jp", {"姓": ""}, "CB_VA01", "必須です。", "姓")
    assert store.quarantine_rows("r3", "kintone", "customers", [worse]) == 1  # a new reason replaces it
    (current,) = store.quarantined("kintone")
    assert current.run_id == "r3" and store.quarantined(status="superseded")[0].run_id == "r1"
    open_rows = [current]
    assert store.quarantined(code="CB_VA01")[0].field == "姓"
    assert store.resolve_quarantine([open_rows[0].id], "dismissed", "by ops: test record") == 1
    assert store.quarantined() == [] and store.quarantined(status="dismissed")[0].id == open_rows[0].id
    with pytest.raises(ValueError):
        store.resolve_quarantine([1], "forgotten")


def test_racing_rejections_of_the_same_rows_leave_one_open_entry_each(pg_stores: list[StateStore]) -> None:
    rows = [Rejection(f"user{n:03}@example.jp", {"n": n}, "CB_VA01", "必須です。", "姓") for n in range(120)]
    for round_ in range(3):
        stream = f"customers-{round_}"
        added = race(
            pg_stores, lambda i, store, s=stream: store.quarantine_rows(f"run-{i}", "kintone", s, rows)
        )
        assert sum(added) == len(rows), added  # each row quarantined by exactly one of the workers
        open_rows = [r for r in pg_stores[0].quarantined("kintone") if r.stream == stream]
        assert sorted(r.key for r in open_rows) == sorted(r.key for r in rows)
