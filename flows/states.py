"""A run's final Prefect state, told from its report: what the UI's run list and dashboard show.

A run with a failed step is Failed (one line per step in its message), a run whose rows were only
rejected is Completed under its own name, and a run that found the company's lock held is Cancelled
as "Skipped": nothing failed and no email is due, but it did not run.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, runtime
from prefect.client.schemas.objects import State
from prefect.states import Cancelled, Completed, Failed
from prefect.utilities.urls import url_for

from flows.lock import RunLocked
from schemas.messages import RUN_OUTCOMES
from schemas.report import RunReport

WITH_REJECTIONS = "Completed with rejections"
SKIPPED = "Skipped"


class RunFailed(RuntimeError):
    """A step of the run failed: the flow's call raises it, carrying the whole report."""

    def __init__(self, report: RunReport):
        self.report = report
        super().__init__(failure_lines(report))

    def __reduce__(self) -> tuple[Any, ...]:
        return (RunFailed, (self.report,))


def failure_lines(report: RunReport) -> str:
    """One line per failed step, e.g. ``salesforce-leads: load failed — not reachable``."""
    return "\n".join(f"{f.target}: {f.step} failed — {f.message}" for f in report.failures)


def counts_line(report: RunReport) -> str:
    """The run's totals, Japanese first with English beside (the state message the UI shows)."""
    t = report.totals
    return (
        f"入力 {t.received}・反映 {t.loaded}・変更なし {t.skipped}・エラー {t.rejected}・次回へ {t.deferred}"
        f" / in {t.received}, loaded {t.loaded}, unchanged {t.skipped}, "
        f"rejected {t.rejected}, deferred {t.deferred}"
    )


def rejections_line(report: RunReport) -> str:
    """What a run with rejected rows asks of a person, for its log (the UI shows it at any level)."""
    entry = RUN_OUTCOMES["completed_with_rejections"]
    n = report.totals.rejected
    return f"エラー {n} 件: {entry.fix_ja} / {n} rows rejected: {entry.fix_en}"


def final_state(report: RunReport) -> State[Any]:
    """Failed when any step failed, Completed under its own name when rows were rejected."""
    if report.failures:
        for line in failure_lines(report).splitlines():  # in the run's log at any logging level
            get_run_logger().error("%s", line)
        return Failed(message=failure_lines(report), data=RunFailed(report))
    if report.totals.rejected:
        get_run_logger().warning("%s", rejections_line(report))
        return Completed(name=WITH_REJECTIONS, message=counts_line(report), data=report)
    return Completed(message=counts_line(report), data=report)


def refused_state(exc: RunLocked) -> State[Any]:
    """Another run holds the lock: not a failure and no email, the message names the holder."""
    return Cancelled(name=SKIPPED, message=str(exc), data=exc)


def report_of(state: State[Any]) -> RunReport | None:
    """The run's report from its final state (None when it was refused or crashed before one)."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, RunFailed):
        return result.report
    return result if isinstance(result, RunReport) else None


def run_url(flow_run_id: str | None = None) -> str | None:
    """A flow run's page in the Prefect UI (this run's by default); None when no UI serves the API."""
    found = flow_run_id or runtime.flow_run.get_id()
    return url_for("flow-run", obj_id=found) if found else None
