"""The sync-state store on SQLite: migrations, ledger, watermarks, links, quarantine, budget, lock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.state import Rejection, StateStore
from schemas import clock


@pytest.fixture()
def store(tmp_path: Path) -> StateStore:
    return StateStore(f"sqlite:///{tmp_path}/state/renkei.db", "acme")


def test_migrations_create_every_table_and_are_repeatable(store: StateStore, tmp_path: Path) -> None:
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {
        "runs",
        "watermarks",
        "links",
        "quarantine",
        "request_budget",
        "run_locks",
        "alembic_version",
    } <= tables
    again = StateStore(store.url, "acme")  # upgrading an up-to-date database changes nothing
    assert set(sa.inspect(again.engine).get_table_names()) == tables


def test_ledger_keeps_runs_with_aware_times(store: StateStore) -> None:
    run_id = store.start_run("extract", "20261128T0200+0900")
    store.finish_run(run_id, "completed", {"actions/form.parquet": 3})
    run = store.run(run_id)
    assert run is not None and run["state"] == "completed" and run["counts"] == {"actions/form.parquet": 3}
    assert run["started_at"].tzinfo is not None and run["finished_at"] >= run["started_at"]
    assert [r["id"] for r in store.runs()] == [run_id]


def test_watermark_moves_forward_only_and_once(store: StateStore) -> None:
    assert store.watermark("staging", "cuts") is None
    assert store.commit_watermark("staging", "cuts", "20261128T0200+0900", "r1") is True
    assert store.commit_watermark("staging", "cuts", "20261128T0200+0900", "r2") is False
    assert store.commit_watermark("staging", "cuts", "20261127T1100+0900", "r3") is False
    assert store.watermark("staging", "cuts") == "20261128T0200+0900"
    assert store.commit_watermark("staging", "cuts", "20261128T1100+0900", "r4") is True
    other = StateStore(store.url, "other-company")
    assert other.watermark("staging", "cuts") is None


def test_links_upsert(store: StateStore) -> None:
    store.save_links("kintone", "customers", [("a@example.jp", "1", "h1"), ("b@example.jp", "2", "h2")])
    store.save_links("kintone", "customers", [("a@example.jp", "1", "h3")])
    assert store.link_hashes("kintone", "customers", ["a@example.jp", "b@example.jp", "c@example.jp"]) == {
        "a@example.jp": ("1", "h3"),
        "b@example.jp": ("2", "h2"),
    }


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


def test_request_budget_accumulates_per_day(store: StateStore) -> None:
    assert store.add_requests("kintone", "app:12", "2026-11-28", 40) == 40
    assert store.add_requests("kintone", "app:12", "2026-11-28", 2) == 42
    assert store.requests_used("kintone", "app:12", "2026-11-29") == 0


def test_run_lock_excludes_a_second_run_until_released_or_stale(store: StateStore) -> None:
    assert store.acquire_lock("run-a") is None
    assert store.acquire_lock("run-b") == "run-a"
    with clock.clock_at(clock.now() + timedelta(minutes=3)):  # its heartbeat stopped: the lease runs out
        assert store.acquire_lock("run-b") is None
    store.release_lock("run-b")
    assert store.acquire_lock("run-a") is None


def test_a_dead_holder_loses_the_lock_and_its_ledger_row_says_crashed(store: StateStore) -> None:
    import subprocess
    import sys

    from connectors.state import run_locks

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    killed_pid = int(dead.stdout)  # that process has exited: its pid names no live process
    store.start_run("sync", None, "killed-run")
    assert store.acquire_lock("killed-run") is None
    with store.engine.begin() as c:
        c.execute(run_locks.update().where(run_locks.c.run_id == "killed-run").values(pid=killed_pid))
    assert store.acquire_lock("next-run") is None  # not blocked for hours by a SIGKILLed run
    killed = store.run("killed-run")
    assert killed is not None and killed["state"] == "crashed" and killed["finished_at"] is not None
