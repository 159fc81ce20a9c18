"""The extract and backfill flows: the MA's cuts into Parquet staging."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run

from connectors.satori import Cut
from flows.lock import RunLocked, run_lock
from flows.names import artifact_key, backfill_name, timed
from flows.progress import step
from flows.recorded import run_step, stream_lines
from flows.report import finish_report
from flows.states import final_state, refused_state, run_url
from schemas.clock import now
from schemas.messages import in_language
from schemas.report import RunReport
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.clients import ma_client, state_store
from tasks.exports import stage_exports_task
from tasks.extract import StagedCut, commit_staging_watermark, cuts_between, find_due_cuts, stage_cut
from tasks.load import progress, progress_language
from tasks.steps import load_target

PUBLIC_NO_CUTS = (
    "ma.access: public のため MA のカットはありません。管理画面の顧客 CSV を ma.exports に置いてください /"
    " ma.access: public has no MA cuts to backfill: drop the admin screen's customer export in ma.exports"
)


def stage_cuts(spec: Spec, cuts: list[Cut], run_id: str) -> list[StagedCut]:
    """Stage each cut whole, then move the staging watermark past it; a table artifact of the rows."""
    staged: list[StagedCut] = []
    with step(f"staging {len(cuts)} cut(s)", len(cuts)) as advance:
        for cut in cuts:
            staged.append(stage_cut(spec, cut, run_id))
            commit_staging_watermark(spec, cut, run_id)
            count = sum(f.rows for f in staged[-1].files.values())
            at = staged[-1].cut
            ja, en = f"カット {at} をステージング — {count:,} 件", f"cut {at} staged — {count:,} rows"
            progress.info("MA: %s", in_language(ja, en, progress_language()))
            advance()
    rows = [row for s in staged for row in s.rows()]
    if rows:
        create_table_artifact(
            rows, key=artifact_key(spec.company, "staging"), description="Rows staged per file"
        )
    return staged


def stage_due_cuts(spec: Spec, run_id: str, requested: str | None = None) -> list[StagedCut]:
    """The due cuts of the integration API, or (``ma.access: public``) the customer exports dropped since."""
    if spec.ma.access == "public":
        return stage_exports_task(spec, run_id)
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


@flow(name="extract", flow_run_name=timed("extract"), log_prints=True)
def extract(spec_path: str, cut: str | None = None) -> list[StagedCut] | State[Any]:
    """Stage the due cuts (or one named cut) of the MA: masters, action histories, changed customers.

    Skipped (Cancelled, the holder named) when another run of the company holds the lock.
    """
    spec = load_spec(spec_path)
    run_id = _run_id("extract")
    try:
        with run_lock(state_store(spec), "extract", run_id):
            if spec.ma.access == "public":
                return stage_due_cuts(spec, run_id)
            return _ledgered(spec, "extract", find_due_cuts(spec, cut), run_id)
    except RunLocked as exc:
        get_run_logger().warning("%s", exc)
        return refused_state(exc)


def day_range(spec: Spec, first: date | None, last: date | None) -> tuple[datetime, datetime]:
    """Whole days in the spec's zone: [first 00:00, the day after last 00:00); today when not given."""
    zone = ZoneInfo(spec.timezone)
    today = now().astimezone(zone).date()
    start = datetime.combine(first or today, time(), zone)
    return start, datetime.combine((last or first or today) + timedelta(days=1), time(), zone)


@flow(name="backfill", flow_run_name=backfill_name, log_prints=True)
def backfill(
    spec_path: str,
    start: date | None = None,
    end: date | None = None,
    targets: list[str] | None = None,
) -> State[Any]:
    """Stage every cut of the days [start, end] (the spec's time zone), oldest first; then deliver them.

    Each chosen target receives every cut in the range even when its watermark is past it: what it
    holds already is counted unchanged, the rest is written. Without targets the cuts are only
    staged, and the report says so.

    Args:
        spec_path: The integration spec (連携要件連絡書) on the machine that runs the flow.
        start: The first day (in the spec's time zone, e.g. Asia/Tokyo); today when empty.
        end: The last day, included whole; the first day when empty.
        targets: Targets that receive the cuts; none: stage only.
    """
    spec = load_spec(spec_path)
    run_id = _run_id("backfill")
    state = state_store(spec)
    try:
        with run_lock(state, "backfill", run_id):
            report = _backfill(spec, day_range(spec, start, end), targets or [], run_id)
    except RunLocked as exc:
        get_run_logger().warning("%s", exc)
        return refused_state(exc)
    return final_state(report)


def _backfill(spec: Spec, window: tuple[datetime, datetime], targets: list[str], run_id: str) -> RunReport:
    state = state_store(spec)
    state.start_run("backfill", None, run_id)
    report = RunReport(spec.company, run_id, "backfill", run_url=run_url(), staged_only=not targets)
    staged = run_step(report, spec, "MA", "extract", partial(stage_window, spec, window, run_id))
    report.cuts = [s.cut for s in staged or []]
    for name in targets if not report.failures else []:
        load = partial(load_target, spec, name, run_id, report.cuts)
        report.lines += stream_lines(run_step(report, spec, name, "load", load))
    finish_report(spec, state, report)
    return report


def stage_window(spec: Spec, window: tuple[datetime, datetime], run_id: str) -> list[StagedCut]:
    """Every cut generated in [start, end), oldest first, staged."""
    if spec.ma.access == "public":
        raise ValueError(PUBLIC_NO_CUTS)
    with ma_client(spec) as ma:
        cuts = [c for c in cuts_between(ma, *window) if c.at < window[1]]
    return stage_cuts(spec, cuts, run_id)
