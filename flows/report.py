"""The end of every run: the ledger row, the Prefect artifacts, the CLI table and the one email."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from rich.console import Console
from rich.table import Column, Table

from connectors.smtp import SmtpError
from connectors.state import StateStore
from flows.extract import artifact_key
from schemas import clock
from schemas.report import RunReport, StepFailure
from schemas.spec import Spec
from schemas.staging import format_cut
from schemas.validate import load_spec
from tasks.clients import state_store
from tasks.notify import send_run_notice
from tasks.redact import redact

log = logging.getLogger("renkei.report")


def next_cut(spec: Spec, now: datetime | None = None) -> str:
    """The next scheduled cut after ``now`` in the spec's timezone."""
    zone = ZoneInfo(spec.timezone)
    moment = (now or clock.now()).astimezone(zone)
    for days in range(3):
        day = moment.date() + timedelta(days=days)
        for at in sorted(time.fromisoformat(c) for c in spec.cuts):
            candidate = datetime.combine(day, at, zone)
            if candidate > moment:
                return format_cut(candidate)
    raise ValueError("the spec has no cut times")


def markdown(report: RunReport) -> str:
    lines = [f"# {report.company} — {report.flow} {report.outcome}", ""]
    lines.append(f"- cuts: {', '.join(report.cuts) or 'none new'}")
    lines.append(f"- quarantine (open rows): {report.quarantine_open}")
    lines.append(f"- next cut: {report.next_cut or '-'}")
    for target, used in report.budget.items():
        lines.append(f"- API budget {target}: {used}")
    if report.undelivered:
        lines += ["", "## Earlier reports not delivered", ""]
        lines += [
            f"- run {u.run_id} ({u.recorded_at}): {u.error} — resent: {u.resent}" for u in report.undelivered
        ]
    if report.failures:
        lines += ["", "## Failed steps", ""]
        lines += [f"- **{f.target}** {f.step}: {f.message}" for f in report.failures]
    errors = report.first_errors()
    if errors:
        lines += [
            "",
            "## First errors",
            "",
            "| target | stream | key | code | field | message |",
            "|---|---|---|---|---|---|",
        ]
        lines += [f"| {t} | {s} | {e.key} | {e.code} | {e.field or ''} | {e.message} |" for t, s, e in errors]
    return "\n".join(lines)


def publish(report: RunReport) -> None:
    """The table and markdown artifacts the Prefect UI shows for this run."""
    if report.lines:
        create_table_artifact(
            report.table(),
            key=artifact_key(report.company, "counts"),
            description="in = loaded + skipped + rejected + deferred",
        )
    create_markdown_artifact(
        markdown(report), key=artifact_key(report.company, "report"), description="Run report"
    )


def notify(spec: Spec, state: StateStore, report: RunReport) -> None:
    """The one email of a run that needs a human; a mail server that refuses it is a failed step."""
    try:
        send_run_notice(spec, report, state)
    except SmtpError as exc:
        log.error("failure email not sent: %s", redact(str(exc)))
        report.failures.append(StepFailure("notify", "email", redact(str(exc))))


def finish_report(spec: Spec, state: StateStore, report: RunReport) -> None:
    """Send the one email if anything needs a human, close the ledger row, publish the artifacts."""
    open_rows = state.quarantined()
    report.quarantine_open = len(open_rows)
    report.new_rejections = sum(1 for row in open_rows if row.run_id == report.run_id)
    notify(spec, state, report)
    state.finish_run(report.run_id, report.outcome, {"lines": report.table(), "cuts": report.cuts})
    publish(report)


def print_report(report: RunReport, console: Console | None = None) -> None:
    table = Table(
        Column("target", overflow="fold"),
        Column("stream", overflow="fold"),
        "in",
        "loaded",
        "skipped",
        "rejected",
        "deferred",
        title=f"{report.company}: {report.outcome}",
    )
    for row in report.table():
        table.add_row(
            *(str(row[c]) for c in ("target", "stream", "in", "loaded", "skipped", "rejected", "deferred"))
        )
    out = console or Console()
    out.print(table)
    for item in report.undelivered:
        state = "resent now" if item.resent else "still not delivered: renkei notify --resend SPEC"
        out.print(
            f"[yellow]earlier report[/yellow] run {item.run_id} ({item.recorded_at}): {state}",
            highlight=False,
        )
    for failure in report.failures:
        out.print(f"[red]failed[/red] {failure.target} {failure.step}: {failure.message}", highlight=False)
    for target, stream, error in report.first_errors(10):
        out.print(
            f"[yellow]rejected[/yellow] {target} {stream} {error.key}: {error.code} {error.message}",
            highlight=False,
        )


def notify_crash(spec_path: str, run_id: str, message: str) -> None:
    """A crashed or timed-out run: close its ledger row, free its lock, send its one email."""
    spec = load_spec(spec_path)
    state = state_store(spec)
    if (state.run(run_id) or {}).get("state") == "stopped":  # asked to stop (flows/lock.py): no alarm
        log.warning("run %s was stopped by a signal; the next run resumes", run_id)
        state.release_lock(run_id)
        return
    report = RunReport(spec.company, run_id, "sync", crashed=True, next_cut=next_cut(spec))
    report.failures.append(StepFailure("sync", "flow", redact(message)))
    report.quarantine_open = len(state.quarantined())
    notify(spec, state, report)
    state.finish_run(run_id, report.outcome, {"lines": [], "message": redact(message)})
    state.release_lock(run_id)
