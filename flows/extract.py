"""The extract and backfill flows: the MA's cuts into Parquet staging."""

from __future__ import annotations

import uuid
from datetime import datetime

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from connectors.satori import Cut
from flows.lock import run_lock
from flows.progress import step
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.clients import ma_client, state_store
from tasks.extract import StagedCut, commit_staging_watermark, cuts_between, find_due_cuts, stage_cut
from tasks.steps import load_target


def artifact_key(company: str, what: str) -> str:
    """Prefect artifact keys take lower-case letters, digits and dashes only."""
    safe = "".join(ch if ch.isalnum() and ch.isascii() else "-" for ch in company.lower()).strip("-")
    return f"{safe or 'company'}-{what}"


def stage_cuts(spec: Spec, cuts: list[Cut], run_id: str) -> list[StagedCut]:
    """Stage each cut whole, then move the staging watermark past it; a table artifact of the rows."""
    staged: list[StagedCut] = []
    with step(f"staging {len(cuts)} cut(s)", len(cuts)) as advance:
        for cut in cuts:
            staged.append(stage_cut(spec, cut, run_id))
            commit_staging_watermark(spec, cut, run_id)
            advance()
    rows = [row for s in staged for row in s.rows()]
    if rows:
        create_table_artifact(
            rows, key=artifact_key(spec.company, "staging"), description="Rows staged per file"
        )
    return staged


def stage_due_cuts(spec: Spec, run_id: str, requested: str | None = None) -> list[StagedCut]:
    return stage_cuts(spec, find_due_cuts(spec, requested), run_id)


def _run_id(flow_name: str) -> str:
    return str(flow_run.get_id() or f"{flow_name}-{uuid.uuid4().hex}")


def _ledgered(spec: Spec, flow_name: str, cuts: list[Cut], run_id: str) -> list[StagedCut]:
    state = state_store(spec)
    state.start_run(flow_name, cuts[-1].id if cuts else None, run_id)
    staged: list[StagedCut] = []
    try:
        staged = stage_cuts(spec, cuts, run_id)
    finally:
        counts = {s.cut: {n: f.rows for n, f in s.files.items()} for s in staged}
        state.finish_run(run_id, "completed" if len(staged) == len(cuts) else "failed", counts)
    get_run_logger().info("staged %d cut(s) for %s", len(staged), spec.company)
    return staged


@flow(name="extract", log_prints=True)
def extract(spec_path: str, cut: str | None = None) -> list[StagedCut]:
    """Stage the due cuts (or one named cut) of the MA: masters, action histories, changed customers."""
    spec = load_spec(spec_path)
    run_id = _run_id("extract")
    with run_lock(state_store(spec), "extract", run_id):
        return _ledgered(spec, "extract", find_due_cuts(spec, cut), run_id)


@flow(name="backfill", log_prints=True)
def backfill(
    spec_path: str, start: datetime, end: datetime, targets: list[str] | None = None
) -> list[StagedCut]:
    """Stage every cut in [start, end], oldest first, then load the chosen targets from staging.

    Each chosen target receives every staged cut it has not received yet (its watermark decides).

    Args:
        spec_path: The integration spec (連携要件連絡書) on the machine that runs the flow.
        start: The first instant of the range (cuts at or after it), with its offset.
        end: The last instant of the range (cuts at or before it), with its offset.
        targets: Targets to load after staging; none when empty (staging only).
    """
    spec = load_spec(spec_path)
    run_id = _run_id("backfill")
    with run_lock(state_store(spec), "backfill", run_id):
        with ma_client(spec) as ma:
            cuts = cuts_between(ma, start, end)
        staged = _ledgered(spec, "backfill", cuts, run_id)
        for name in targets or []:
            reports = load_target(spec, name, run_id)
            get_run_logger().info("%s: %s", name, ", ".join(f"{r.stream} {r.counts}" for r in reports))
    return staged
