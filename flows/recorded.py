"""Each step of a run through one helper: a step that fails is recorded, the others go on.

The record says what a person needs (schemas/failures.py renders it): the error policy's reason
and kind, the spec entry to fix, how many requests were sent and for how long. A target that did
not answer one step of this run is not asked again by the next (another minute of retries).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from schemas.errors import EXCEPTION_RULES, UNEXPECTED, Kind, error_rule
from schemas.report import RunReport, StepFailure, StreamLine
from schemas.spec import Spec
from tasks.load import StreamReport
from tasks.redact import redact

T = TypeVar("T")
SPEC_ENTRIES = {"MA": "ma", "notify": "notify.smtp"}  # the steps that are not a target's
MA_KEYS = {"auth": "ma.token", "url": "ma.url"}


def stream_lines(reports: StreamReport | list[StreamReport] | None) -> list[StreamLine]:
    found = [reports] if isinstance(reports, StreamReport) else reports or []
    return [StreamLine(r.target, r.stream, r.counts, tuple(r.errors)) for r in found]


def spec_entry(spec: Spec, who: str, key: str | None = None) -> str:
    """Where in the spec to fix it: ``targets[1].auth (salesforce)``, ``ma.token``, ``notify.smtp``."""
    index = next((i for i, t in enumerate(spec.targets) if t.name == who), None)
    if who == "MA":
        return MA_KEYS.get(key or "", "ma")
    if index is None:
        return SPEC_ENTRIES.get(who, "")
    return f"targets[{index}]{'.' + key if key else ''} ({spec.targets[index].kind})"


def step_failure(spec: Spec, who: str, step: str, exc: BaseException, seconds: float = 0.0) -> StepFailure:
    """The failure of one step as the error policy reads it."""
    rule = error_rule(exc) or UNEXPECTED
    code, status = getattr(exc, "code", None), getattr(exc, "status", None)
    shown = code if isinstance(code, str) and code not in EXCEPTION_RULES else None
    if shown is None and isinstance(status, int):
        shown = f"HTTP {status}"
    return StepFailure(
        who,
        step,
        redact(f"{type(exc).__name__}: {exc}"),
        reason=rule.message,
        kind=rule.kind.value,
        where=spec_entry(spec, who, rule.spec_key),
        code=shown,
        attempts=int(getattr(exc, "attempts", 1)),
        seconds=seconds,
    )


def run_step(report: RunReport, spec: Spec, who: str, step: str, work: Callable[[], T]) -> T | None:
    """``work()``'s result; None when it failed (recorded in ``report``) or was not attempted."""
    down = next((f for f in report.failures if f.target == who and f.kind == Kind.TRANSIENT), None)
    if down is not None:
        skipped = f"not attempted: {who} did not answer its {down.step} in this run"
        report.failures.append(
            replace(down, step=step, message=skipped, attempts=0, seconds=0.0, attempted=False)
        )
        return None
    started = time.monotonic()
    try:
        return work()
    except Exception as exc:
        report.failures.append(step_failure(spec, who, step, exc, time.monotonic() - started))
        return None
