"""The audit flow: duplicates, badly formed emails and schema drift in every target, before a sync."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows.extract import artifact_key
from flows.names import timed
from schemas.validate import load_spec
from tasks.audit import AuditReport, audit_target
from tasks.ma_catalog import run_spec


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
