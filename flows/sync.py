"""The twice-daily sync: extract the cut, load each target, write back, report, notify."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from prefect import Flow, flow, get_run_logger, runtime
from prefect.client.schemas.objects import FlowRun, State

from flows.extract import stage_due_cuts
from flows.lock import RunLocked, run_lock
from flows.names import timed
from flows.recorded import run_step, spec_entry, stream_lines
from flows.report import finish_report
from flows.states import final_state, refused_state, report_of, run_url
from schemas.report import RunReport, StepFailure
from schemas.schedule import next_cut
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.clients import state_store
from tasks.load import StreamReport
from tasks.ma_catalog import online_spec, run_spec
from tasks.steps import load_target, write_back_target
from tasks.targets import change_sources


@flow(name="sync-target", flow_run_name="load {target_name}", log_prints=True)
def sync_target(
    spec_path: str, target_name: str, run_id: str, ma_catalog: dict[str, Any] | None = None
) -> list[StreamReport]:
    """One target's outbound load in its own subflow: its failure never stops the others.

    ``ma_catalog`` is the MA's field catalog the run read: the spec follows it (schemas.ma_catalog).
    """
    spec = load_spec(spec_path)
    if ma_catalog is not None:
        spec = online_spec(spec, ma_catalog)[0]
    return load_target(spec, target_name, run_id)


def on_crash(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """A crashed or failed run still sends its one email (the state hook runs outside the flow body).

    A run that finished its report (a failed step, mailed by the flow) has nothing left to do here.
    """
    from flows.report import notify_crash

    notify_crash(
        flow_run.parameters.get("spec_path", ""),
        str(flow_run.id),
        state.message or state.type.value,
        run_url(str(flow_run.id)),
    )


@flow(
    name="sync",
    flow_run_name=timed("sync"),
    log_prints=True,
    on_failure=[on_crash],
    on_crashed=[on_crash],
    timeout_seconds=6 * 3600,
)
def sync(spec_path: str, targets: list[str] | None = None) -> State[Any]:
    """Extract the due cuts, load every target, write the targets' changes back, report and notify.

    The run ends Failed when any step failed, "Completed with rejections" when rows were rejected,
    and Cancelled ("Skipped") when another run of the company holds the lock.

    Args:
        spec_path: The integration spec (連携要件連絡書) on the machine that runs the flow.
        targets: Only these target names; every target when empty.
    """
    spec: Spec = load_spec(spec_path)
    run_id = str(runtime.flow_run.get_id() or f"sync-{uuid.uuid4().hex}")
    state = state_store(spec)
    try:
        with run_lock(state, "sync", run_id):
            report = _sync(spec, spec_path, targets, run_id)
    except RunLocked as exc:
        get_run_logger().warning("%s", exc)
        return refused_state(exc)
    get_run_logger().info("sync of %s: %s", spec.company, report.outcome)
    return final_state(report)


def _sync(spec: Spec, spec_path: str, targets: list[str] | None, run_id: str) -> RunReport:
    """stage → for each destination: load; for each source: write back → report → notify.

    A failed step is recorded by ``run_step`` and the others go on (staging failed: the targets
    still get what was staged before)."""
    state = state_store(spec)
    state.start_run("sync", None, run_id)
    report = RunReport(spec.company, run_id, "sync", next_cut=next_cut(spec), run_url=run_url())
    spec, catalog, differences = run_spec(spec)  # the MA's field catalog decides, read once a run
    report.failures += [catalog_difference(spec, d) for d in differences]
    chosen = [t for t in spec.targets if not targets or t.name in targets]
    staged = run_step(report, spec, "MA", "extract", partial(stage_due_cuts, spec, run_id))
    report.cuts = [c.cut for c in staged or []]
    for target in (t for t in chosen if t.is_destination):
        load = partial(sync_target, spec_path, target.name, run_id, catalog)
        report.lines += stream_lines(run_step(report, spec, target.name, "load", load))
    for target in change_sources(spec, chosen):
        write_back = partial(write_back_target, spec, target.name, run_id)
        report.lines += stream_lines(run_step(report, spec, target.name, "write back", write_back))
    finish_report(spec, state, report)  # report → notify
    return report


def catalog_difference(spec: Spec, difference: str) -> StepFailure:
    """The spec's fields differ from the MA's own catalog: fixed in custom_fields."""
    return StepFailure(
        "MA", "field catalog", difference, "ma_field_catalog", "configuration", spec_entry(spec, "MA")
    )


def sync_report(spec_path: str, targets: list[str] | None = None) -> RunReport:
    """Run the sync and return its report, Failed or not (a plain call raises when a step failed).

    A run refused by the lock raises RunLocked; a run that crashed raises its error.
    """
    state = sync(spec_path, targets, return_state=True)
    report = report_of(state)
    if report is None:
        state.result()
        raise RuntimeError(f"the sync ended {state.name} without a report: {state.message}")
    return report
