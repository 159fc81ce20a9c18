"""The extract and backfill flows: the MA's cuts into Parquet staging."""

from __future__ import annotations

from datetime import datetime

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from connectors.satori import Cut
from flows.progress import step
from schemas.validate import load_spec
from tasks.clients import ma_client, state_store
from tasks.extract import StagedCut, commit_staging_watermark, cuts_between, find_due_cuts, stage_cut


def _run_id() -> str:
    return str(flow_run.get_id() or "local")


def _stage(spec_path: str, cuts: list[Cut], flow_name: str) -> list[StagedCut]:
    spec = load_spec(spec_path)
    state = state_store(spec)
    run_id = state.start_run(flow_name, cuts[-1].id if cuts else None, _run_id())
    staged: list[StagedCut] = []
    try:
        with step(f"staging {len(cuts)} cut(s)", len(cuts)) as advance:
            for cut in cuts:
                result = stage_cut(spec, cut, run_id)
                commit_staging_watermark(spec, cut, run_id)
                staged.append(result)
                advance()
    except BaseException:
        state.finish_run(run_id, "failed", {s.cut: {n: f.rows for n, f in s.files.items()} for s in staged})
        raise
    state.finish_run(run_id, "completed", {s.cut: {n: f.rows for n, f in s.files.items()} for s in staged})
    rows = [row for s in staged for row in s.rows()]
    if rows:
        create_table_artifact(rows, key=f"{spec.company}-staging", description="Rows staged per file")
    get_run_logger().info("staged %d cut(s) for %s", len(staged), spec.company)
    return staged


@flow(name="extract", log_prints=True)
def extract(spec_path: str, cut: str | None = None) -> list[StagedCut]:
    """Stage the due cuts (or one named cut) of the MA: masters, action histories, changed customers."""
    spec = load_spec(spec_path)
    return _stage(spec_path, find_due_cuts(spec, cut), "extract")


@flow(name="backfill", log_prints=True)
def backfill(
    spec_path: str, start: datetime, end: datetime, targets: list[str] | None = None
) -> list[StagedCut]:
    """Stage every cut in [start, end], oldest first; re-running it rewrites the same files."""
    spec = load_spec(spec_path)
    with ma_client(spec) as ma:
        cuts = cuts_between(ma, start, end)
    return _stage(spec_path, cuts, "backfill")
