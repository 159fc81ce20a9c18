"""The audit flow: duplicates, badly formed emails and schema drift in every target, before a sync."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from flows.names import artifact_key, timed
from schemas.audit import AuditReport
from schemas.validate import load_spec
from tasks.audit import audit_target
from tasks.ma_catalog import run_spec

FIRST_SHOWN = 50


def audit_markdown(reports: list[AuditReport]) -> str:
    lines = ["# Audit", ""]
    for report in reports:
        state = "clean" if report.clean else "needs attention"
        lines.append(f"## {report.target} ({report.kind}): {report.scanned} records scanned, {state}")
        lines += [f"- duplicate {d.email}: records {', '.join(d.record_ids)}" for d in report.duplicates]
        lines += [f"- bad email in record {b.record_id}: {b.rule} — {b.message}" for b in report.bad_emails]
        lines += [f"- drift {d.target_field} ({d.ma_field}): {d.rule} — {d.message}" for d in report.drift]
        lines.append("")
    return "\n".join(lines)


@flow(name="audit", flow_run_name=timed("audit"), log_prints=True)
def audit(spec_path: str, target: str | None = None) -> list[AuditReport]:
    """Scan every target (or one) for duplicate and badly formed emails and for schema drift.

    Args:
        spec_path: The integration spec (連携要件連絡書) on the machine that runs the flow.
        target: Only this target name; all targets when empty.
    """
    spec, _, differences = run_spec(load_spec(spec_path))
    reports = [
        audit_target(spec, chosen) for chosen in spec.targets if target is None or chosen.name == target
    ]
    catalog = [f"- MA field catalog: {d}" for d in differences]
    create_markdown_artifact(
        "\n".join([audit_markdown(reports), *catalog]),
        key=artifact_key(spec.company, "audit"),
        description="Audit",
    )
    return reports


def render_report(report: AuditReport) -> RenderableType:
    """A readable report: a summary line, then one table per kind of finding (the first 50 rows each)."""
    status = "[green]clean[/green]" if report.clean else "[red]problems found[/red]"
    parts: list[RenderableType] = [
        Text.from_markup(
            f"[bold]{report.target}[/bold] ({report.kind}): {report.scanned} records scanned — {status}"
        )
    ]
    if report.duplicates:
        table = Table("email", "records", title=f"{len(report.duplicates)} email(s) held by several records")
        for dup in report.duplicates[:FIRST_SHOWN]:
            table.add_row(dup.email, ", ".join(dup.record_ids))
        parts.append(table)
    if report.bad_emails:
        table = Table(
            "record", "value", "rule", "why", title=f"{len(report.bad_emails)} badly formed email(s)"
        )
        for bad in report.bad_emails[:FIRST_SHOWN]:
            table.add_row(bad.record_id, repr(bad.raw), bad.rule, bad.message)
        parts.append(table)
    if report.drift:
        table = Table(
            "field", "MA field", "rule", "what to do", title=f"{len(report.drift)} schema drift problem(s)"
        )
        for drift in report.drift:
            table.add_row(drift.target_field, drift.ma_field, drift.rule, drift.message)
        parts.append(table)
    hidden = max(0, len(report.duplicates) - FIRST_SHOWN) + max(0, len(report.bad_emails) - FIRST_SHOWN)
    if hidden:
        parts.append(Text(f"… and {hidden} more not shown"))
    return Group(*parts)
