"""The audit flow: duplicates, badly formed emails and schema drift in every target, before a sync."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from flows.names import artifact_key, timed
from schemas.audit import AuditReport
from schemas.messages import Language, in_language, lookup
from schemas.validate import load_spec
from tasks.audit import audit_target
from tasks.ma_catalog import run_spec

FIRST_SHOWN = 50


def audit_markdown(reports: list[AuditReport]) -> str:
    """The audit artifact in Japanese and English: every finding with the catalogue's reason and fix."""
    lines = ["# 監査 Audit", ""]
    for report in reports:
        state = "問題なし clean" if report.clean else "要対応 needs attention"
        lines.append(f"## {report.target} ({report.kind}): {report.scanned} 件 records scanned, {state}")
        lines += [
            f"- {lookup('duplicate_email').reason('both')}: {d.email} — {', '.join(d.record_ids)}"
            for d in report.duplicates
        ]
        lines += [f"- {b.record_id}: {_finding(b.rule, b.message)}" for b in report.bad_emails]
        lines += [f"- {d.target_field} ({d.ma_field}): {_finding(d.rule, d.message)}" for d in report.drift]
        lines.append("")
    return "\n".join(lines)


def _finding(rule: str, detail: str) -> str:
    entry = lookup(rule)
    return f"{entry.reason('both')} ({rule}: {detail}) → {entry.fix('both')}"


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


def render_report(report: AuditReport, language: Language = "both") -> RenderableType:
    """A readable report in ``language``: a summary line, then one table per kind of finding (the first
    50 rows each), every reason and fix from the message catalogue; our rule codes only in English."""

    def say(ja: str, en: str) -> str:
        return in_language(ja, en, language)

    english = language != "ja"
    found = say("[green]問題なし[/green]", "[green]clean[/green]")
    if not report.clean:
        found = say("[red]問題あり[/red]", "[red]problems found[/red]")
    scanned = say(f"{report.scanned:,} 件を確認", f"{report.scanned} records scanned")
    parts: list[RenderableType] = [
        Text.from_markup(f"[bold]{escape(report.target)}[/bold] ({report.kind}): {scanned} — {found}")
    ]
    if report.duplicates:
        n = len(report.duplicates)
        table = Table(say("メールアドレス", "email"), say("レコード", "records"))
        for dup in report.duplicates[:FIRST_SHOWN]:
            table.add_row(dup.email, ", ".join(dup.record_ids))
        title = say(f"{n} 件のメールアドレスを複数のレコードが保持", f"{n} email(s) held by several records")
        parts += [Text(title), table, Text(lookup("duplicate_email").fix(language))]
    rule = ["rule"] if english else []
    columns = (*rule, say("理由", "why"), say("直し方", "what to do"))
    if report.bad_emails:
        n = len(report.bad_emails)
        table = Table(say("レコード", "record"), say("値", "value"), *columns)
        for bad in report.bad_emails[:FIRST_SHOWN]:
            table.add_row(bad.record_id, repr(bad.raw), *_why(bad.rule, bad.message, language))
        parts += [Text(say(f"{n} 件のメールアドレスが正しくありません", f"{n} badly formed email(s)")), table]
    if report.drift:
        n = len(report.drift)
        table = Table(say("項目", "field"), say("MA の項目", "MA field"), *columns)
        for drift in report.drift:
            table.add_row(drift.target_field, drift.ma_field, *_why(drift.rule, drift.message, language))
        parts += [Text(say(f"連携先の項目の問題 {n} 件", f"{n} schema drift problem(s)")), table]
    hidden = max(0, len(report.duplicates) - FIRST_SHOWN) + max(0, len(report.bad_emails) - FIRST_SHOWN)
    if hidden:
        parts.append(Text(say(f"…他 {hidden:,} 件（表示していません）", f"… and {hidden} more not shown")))
    return Group(*parts)


def _why(rule: str, detail: str, language: Language) -> list[str]:
    """The rule (English only), the reason and the fix from the catalogue; our detail beside in English."""
    entry = lookup(rule)
    if language == "ja":
        return [entry.ja, entry.fix_ja]
    return [rule, f"{entry.reason(language)} ({detail})", entry.fix(language)]
