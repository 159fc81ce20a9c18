"""The twice-daily sync: extract the cut, load each target, write back, report, notify."""

from __future__ import annotations

from typing import Any

from prefect import Flow, flow, get_run_logger, runtime
from prefect.client.schemas.objects import FlowRun, State

from flows.extract import stage_due_cuts
from flows.lock import run_lock
from flows.report import finish_report, next_cut
from schemas import clock
from schemas.report import RunReport, StepFailure, StreamLine
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.clients import state_store
from tasks.load import StreamReport
from tasks.ma_catalog import online_spec, run_spec
from tasks.redact import redact
from tasks.steps import load_target, write_back_target


def _lines(reports: list[StreamReport]) -> list[StreamLine]:
    return [StreamLine(r.target, r.stream, r.counts, tuple(r.errors)) for r in reports]


def _failure(target: str, step: str, exc: BaseException) -> StepFailure:
    return StepFailure(target, step, redact(f"{type(exc).__name__}: {exc}"))


@flow(name="sync-target", log_prints=True)
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
    """A crashed or failed run still sends its one email (the state hook runs outside the flow body)."""
    from flows.report import notify_crash

    notify_crash(
        flow_run.parameters.get("spec_path", ""), str(flow_run.id), state.message or state.type.value
    )


@flow(name="sync", log_prints=True, on_failure=[on_crash], on_crashed=[on_crash], timeout_seconds=6 * 3600)
def sync(spec_path: str, targets: list[str] | None = None) -> RunReport:
    """Extract the due cuts, load every target, write the targets' changes back, report and notify.

    Args:
        spec_path: The integration spec (連携要件連絡書) on the machine that runs the flow.
        targets: Only these target names; every target when empty.
    """
    spec: Spec = load_spec(spec_path)
    run_id = str(runtime.flow_run.get_id() or f"local-{clock.now().strftime('%Y%m%dT%H%M%S%f')}")
    state = state_store(spec)
    with run_lock(state, "sync", run_id):
        state.start_run("sync", None, run_id)
        report = RunReport(spec.company, run_id, "sync", next_cut=next_cut(spec))
        spec, catalog, differences = run_spec(spec)  # the MA's field catalog decides, read once a run
        report.failures += [StepFailure("MA", "field catalog", d) for d in differences]
        chosen = [t for t in spec.targets if targets is None or t.name in targets]
        try:
            report.cuts = [c.cut for c in stage_due_cuts(spec, run_id)]
        except Exception as exc:  # staging failed: the targets still get what was staged before
            report.failures.append(_failure("MA", "extract", exc))
        for target in (t for t in chosen if t.kind != "sansan"):
            try:
                report.lines += _lines(sync_target(spec_path, target.name, run_id, catalog))
            except Exception as exc:
                report.failures.append(_failure(target.name, "load", exc))
        for target in (t for t in chosen if any(spec.direction(f).writes for f in t.map)):
            try:
                report.lines += _lines([write_back_target(spec, target.name, run_id)])
            except Exception as exc:
                report.failures.append(_failure(target.name, "write back", exc))
        finish_report(spec, state, report)
    get_run_logger().info("sync of %s: %s", spec.company, report.outcome)
    return report
