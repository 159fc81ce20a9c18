"""The end of every run: the ledger row, the Prefect artifacts, the CLI table and the one email."""

from __future__ import annotations

import logging

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from connectors.smtp import SmtpError
from connectors.state import StateStore
from flows.names import artifact_key
from flows.recorded import step_failure
from schemas.failures import failure_lines
from schemas.messages import RUN_OUTCOMES, Language, in_language, lookup
from schemas.rejected import NO_CONTEXT, RowContext, person_fields, person_label, stream_label
from schemas.report import RunReport, StepFailure
from schemas.schedule import next_cut
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.clients import state_store
from tasks.notify import send_run_notice
from tasks.redact import redact

log = logging.getLogger("renkei.report")


STAGED_ONLY = (
    "ステージングのみ: 連携先は選ばれていません (staged only: no target was chosen, nothing delivered)"
)
COUNTS_RULE = "入力 = 反映 + 変更なし + エラー + 次回へ (in = loaded + unchanged + rejected + deferred)"
COUNT_COLUMNS = {  # the counts artifact's columns: Japanese first, English beside
    "target": "連携先 target",
    "stream": "ストリーム stream",
    "in": "入力 in",
    "loaded": "反映 loaded",
    "skipped": "変更なし unchanged",
    "rejected": "エラー rejected",
    "deferred": "次回へ deferred",
}


def _labelled(column: str, value: object) -> object:
    """A counts cell: the stream as words (``書き戻し（連携先→MA） / inbound``), the rest as counted."""
    return stream_label(str(value), "both") if column == "stream" else value


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(report: RunReport, context: RowContext = NO_CONTEXT) -> str:
    """The run report artifact: Japanese and English; each first error names the person (by the spec's
    map) and gives the catalogue's reason and fix, the target's own message beside when it sent one."""
    outcome = RUN_OUTCOMES[report.outcome]
    lines = [f"# {report.company} — {report.flow}: {outcome.reason('both')}", ""]
    lines.append(f"- 対応 what to do: {outcome.fix('both')}")
    if report.run_url:
        lines.append(f"- 実行画面 run: {report.run_url}")
    lines.append(f"- 対象カット cuts: {', '.join(report.cuts) or 'なし none new'}")
    if report.staged_only:
        lines.append(f"- {STAGED_ONLY}")
    lines.append(f"- 保留中の行 quarantine (open rows): {report.quarantine_open}")
    lines.append(f"- 次のカット next cut: {report.next_cut or '-'}")
    for target, used in report.budget.items():
        lines.append(f"- API 使用量 budget {target}: {used}")
    if report.undelivered:
        lines += ["", "## Earlier reports not delivered", ""]
        lines += [
            f"- run {u.run_id} ({u.recorded_at}): {u.error} — resent: {u.resent}" for u in report.undelivered
        ]
    if report.failures:
        lines += ["", "## 完了しなかったステップ Failed steps", ""]
        lines += [f"- {_cell(line)}" for line in failure_lines(report, "both")]
        lines += ["", "詳細 details:", ""]
        lines += [f"- **{f.target}** {f.step}: {f.message}" for f in report.failures if f.attempted]
    errors = report.first_errors()
    if errors:
        lines += [
            "",
            "## 最初のエラー First errors",
            "",
            "| 連携先 target | ストリーム stream | 人・キー who | 項目 field | 理由 reason | 直し方 fix"
            " | 連携先のメッセージ message |",
            "|---|---|---|---|---|---|---|",
        ]
        for t, s, e in errors:
            entry = lookup(e.code or e.status.value)
            who = person_label(context, t, e.payload or {}, company=True) or e.key
            theirs = e.message if entry.theirs else ""
            cells = (
                t,
                stream_label(s, "both"),
                who,
                e.field or "",
                f"{entry.reason('both')} ({e.code})",
                entry.fix("both"),
                theirs,
            )
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def publish(report: RunReport, context: RowContext = NO_CONTEXT) -> None:
    """The table and markdown artifacts the Prefect UI shows for this run."""
    if report.lines:
        create_table_artifact(
            [{COUNT_COLUMNS[k]: _labelled(k, v) for k, v in row.items()} for row in report.table()],
            key=artifact_key(report.company, "counts"),
            description=COUNTS_RULE,
        )
    create_markdown_artifact(
        markdown(report, context), key=artifact_key(report.company, "report"), description="Run report"
    )


def notify(spec: Spec, state: StateStore, report: RunReport) -> None:
    """The one email of a run that needs a human; a mail server that refuses it is a failed step."""
    try:
        send_run_notice(spec, report, state)
    except SmtpError as exc:
        log.error("failure email not sent: %s", redact(str(exc)))
        report.failures.append(step_failure(spec, "notify", "email", exc))


def finish_report(spec: Spec, state: StateStore, report: RunReport) -> None:
    """Send the one email if anything needs a human, close the ledger row, publish the artifacts."""
    open_rows = state.quarantined()
    report.quarantine_open = len(open_rows)
    report.new_rejections = sum(1 for row in open_rows if row.run_id == report.run_id)
    notify(spec, state, report)
    state.finish_run(report.run_id, report.outcome, {"lines": report.table(), "cuts": report.cuts})
    publish(report, RowContext(person_fields(spec), {}))


def print_report(
    report: RunReport,
    console: Console | None = None,
    language: Language = "both",
    debug: bool = False,
    *,
    context: RowContext = NO_CONTEXT,
    shown: int = 10,
    spec_path: str = "SPEC",
) -> None:
    """The counts table, then one line per failed target (its details with ``debug``), then the first
    ``shown`` rejections and the run's page, in ``language`` (the CLI's); ``spec_path`` completes the
    command that lists every rejected row."""
    keys = ("target", "stream", "in", "loaded", "skipped", "rejected", "deferred")
    # "連携先 target": Japanese, English, or both as the artifact shows them
    headers = [
        COUNT_COLUMNS[k].split(" ", 1)[language == "en"] if language != "both" else COUNT_COLUMNS[k]
        for k in keys
    ]
    table = Table(
        *(Column(h, overflow="fold") for h in headers[:2]),
        *headers[2:],
        title=f"{report.company}: {RUN_OUTCOMES[report.outcome].reason(language)}",
    )
    for row in report.table():
        table.add_row(*(stream_label(str(row[c]), language) if c == "stream" else str(row[c]) for c in keys))
    out = console or Console()
    out.print(table)
    if report.staged_only:
        out.print(STAGED_ONLY, highlight=False)
    for item in report.undelivered:
        state = "resent now" if item.resent else "still not delivered: renkei notify --resend SPEC"
        out.print(
            f"[yellow]earlier report[/yellow] run {item.run_id} ({item.recorded_at}): {state}",
            highlight=False,
        )
    for line in failure_lines(report, language):
        out.print(f"[red]✗[/red] {escape(line)}", highlight=False, soft_wrap=True)
    for failure in report.failures if debug else []:
        out.print(f"  {failure.target} {failure.step}: {failure.message}", highlight=False, markup=False)
    print_rejections(report, out, language, context, shown, spec_path)
    if report.run_url:
        out.print(f"Prefect UI: {report.run_url}", highlight=False, soft_wrap=True)


def print_rejections(
    report: RunReport, out: Console, language: Language, context: RowContext, shown: int, spec_path: str
) -> None:
    """``エラー kintone-customers inbound 山田 太郎（会社）[field]: reason (code)``, then how many more."""
    errors = report.first_errors(shown)
    word = in_language("エラー", "rejected", language)
    for target, stream, error in errors:
        code = error.code or error.status.value
        who = person_label(context, target, error.payload or {}, company=True) or error.key
        where = f" [{error.field}]" if error.field else ""
        entry, label = lookup(code), stream_label(stream, language)
        reason = entry.reason(language) + (f" ({code})" if entry.theirs or language != "ja" else "")
        out.print(
            f"[yellow]{word}[/yellow] {escape(f'{target} {label} {who}{where}: {reason}')}",
            highlight=False,
        )
    more = report.totals.rejected - len(errors)
    if more > 0:
        ja, en = f"…他 {more:,} 件", f"…and {more:,} more"
        listed = f"renkei replay {spec_path} --list"
        hint = in_language(f"一覧: {listed}", f"every row: {listed}", language)
        out.print(escape(f"{in_language(ja, en, language)} ({hint})"), highlight=False)


def notify_crash(spec_path: str, run_id: str, message: str, url: str | None = None) -> None:
    """A crashed or timed-out run: close its ledger row, free its lock, send its one email."""
    spec = load_spec(spec_path)
    state = state_store(spec)
    if (state.run(run_id) or {}).get("state") == "stopped":  # asked to stop (flows/lock.py): no alarm
        log.warning("run %s was stopped by a signal; the next run resumes", run_id)
        state.release_lock(run_id)
        return
    ledger = state.run(run_id)
    if ledger is not None and ledger["finished_at"] is not None:
        return  # the run reported (and mailed) its failed steps itself
    report = RunReport(spec.company, run_id, "sync", crashed=True, next_cut=next_cut(spec), run_url=url)
    report.failures.append(StepFailure("sync", "flow", redact(message)))
    report.quarantine_open = len(state.quarantined())
    notify(spec, state, report)
    state.finish_run(run_id, report.outcome, {"lines": [], "message": redact(message)})
    state.release_lock(run_id)
