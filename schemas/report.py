"""A run's report: counts per target and stream, the first errors, failed steps, and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from schemas.outcomes import Counts, RowOutcome

Outcome = Literal["completed", "completed_with_rejections", "failed", "crashed"]


@dataclass(frozen=True)
class StreamLine:
    target: str
    stream: str
    counts: Counts
    errors: tuple[RowOutcome, ...] = ()


@dataclass(frozen=True)
class StepFailure:
    """A step that did not finish (a target down, a bad credential): the others went on.

    ``message`` is the technical detail (the service's own words, masked); the rest is what a person
    reads: the error policy's ``reason`` (a code in schemas.messages) and ``kind``, the spec entry to
    fix (``where``), the service's ``code``, and what renkei did (``attempts``, ``seconds``)."""

    target: str
    step: str
    message: str
    reason: str = "unexpected"
    kind: str = "system"
    where: str = ""
    code: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    attempted: bool = True  # False: not tried, the target did not answer an earlier step of the run


@dataclass(frozen=True)
class Undelivered:
    """An earlier run's report that the mail server never accepted; ``resent`` when it went out now."""

    run_id: str
    recorded_at: str
    error: str
    resent: bool


@dataclass
class RunReport:
    company: str
    run_id: str
    flow: str
    cuts: list[str] = field(default_factory=list)
    lines: list[StreamLine] = field(default_factory=list)
    failures: list[StepFailure] = field(default_factory=list)
    quarantine_open: int = 0
    budget: dict[str, str] = field(default_factory=dict)  # target → "used/limit" as the target reports it
    next_cut: str | None = None
    run_url: str | None = None
    dry_run: bool = False
    staged_only: bool = False  # a backfill without targets: cuts staged, nothing delivered
    crashed: bool = False  # the flow itself crashed or timed out (reported from a state hook)
    new_rejections: int | None = None  # open rows no delivered report has named yet (None: not counted)
    undelivered: list[Undelivered] = field(default_factory=list)  # earlier reports found undelivered

    @property
    def totals(self) -> Counts:
        total = Counts()
        for line in self.lines:
            total = total + line.counts
        return total

    @property
    def outcome(self) -> Outcome:
        if self.crashed:
            return "crashed"
        if self.failures:
            return "failed"
        return "completed_with_rejections" if self.totals.rejected else "completed"

    @property
    def needs_attention(self) -> bool:
        """A failure or a rejected row not reported yet: the error address gets one email for this run.

        A row rejected again for a reason already reported stays in the quarantine without a new email.
        """
        fresh = self.totals.rejected if self.new_rejections is None else self.new_rejections
        return bool(self.failures) or fresh > 0

    @property
    def balanced(self) -> bool:
        return all(line.counts.balanced for line in self.lines)

    def first_errors(self, limit: int = 20) -> list[tuple[str, str, RowOutcome]]:
        found = [(line.target, line.stream, e) for line in self.lines for e in line.errors]
        return found[:limit]

    def table(self) -> list[dict[str, object]]:
        """Rows of the per target × stream table (artifact, CLI, email)."""
        return [
            {
                "target": line.target,
                "stream": line.stream,
                "in": line.counts.received,
                "loaded": line.counts.loaded,
                "skipped": line.counts.skipped,
                "rejected": line.counts.rejected,
                "deferred": line.counts.deferred,
            }
            for line in self.lines
        ]
