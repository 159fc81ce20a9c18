"""The runs ledger keeps each run with aware times."""

from __future__ import annotations

from connectors.state import StateStore


def test_ledger_keeps_runs_with_aware_times(store: StateStore) -> None:
    run_id = store.start_run("extract", "20261128T0200+0900")
    store.finish_run(run_id, "completed", {"actions/form.parquet": 3})
    run = store.run(run_id)
    assert run is not None and run["state"] == "completed" and run["counts"] == {"actions/form.parquet": 3}
    assert run["started_at"].tzinfo is not None and run["finished_at"] >= run["started_at"]
    assert [r["id"] for r in store.runs()] == [run_id]


def test_a_closed_run_keeps_its_first_outcome(store: StateStore) -> None:
    run_id = store.start_run("sync")
    assert store.finish_run(run_id, "stopped", {}) is True
    assert store.finish_run(run_id, "crashed", {}) is False
    assert store.run(run_id)["state"] == "stopped"  # type: ignore[index]


def test_every_outcome_fits_the_ledger(store: StateStore) -> None:
    run_id = store.start_run("sync")
    assert store.finish_run(run_id, "completed_with_rejections", {}) is True  # PostgreSQL checks lengths
    assert store.run(run_id)["state"] == "completed_with_rejections"  # type: ignore[index]
