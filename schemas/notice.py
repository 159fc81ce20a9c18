"""The failure email of a run (エラー通知メール): subject, bilingual body and the rejected rows as CSV.

Pure: the caller hands in the report, the rejected rows and a ``redact`` function, and gets an
EmailMessage back; sending it is ``connectors.smtp``'s job. Japanese comes first, then English.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import get_args

from schemas.csvsafe import display_width, escape_surrogates, safe_cell
from schemas.failures import failure_lines
from schemas.messages import RUN_OUTCOMES, Language, lookup
from schemas.outcomes import RowOutcome
from schemas.rejected import (
    NO_CONTEXT,
    RejectedRow,
    RowContext,
    column_headers,
    fixable_rows,
    person_label,
    stream_label,
)
from schemas.report import Outcome, RunReport, Undelivered
from schemas.workbook import XLSX_TYPE, rejected_rows_xlsx

ATTACHMENT_NAME = "rejected_rows.csv"
WORKBOOK_NAME = "rejected_rows.xlsx"
MAX_ATTACHED_ROWS = 10_000
OUTCOME_LABELS: dict[Outcome, tuple[str, str]] = {
    o: (RUN_OUTCOMES[o].ja, RUN_OUTCOMES[o].en) for o in get_args(Outcome)
}
SECTIONS: dict[Language, tuple[Language, ...]] = {"ja": ("ja",), "en": ("en",), "both": ("ja", "en")}
WORDS: dict[str, dict[str, str]] = {
    "ja": {
        "intro": "renkei (連携) の実行結果をお知らせします。対応が必要な項目があります。",
        "head": "会社: {company}\nフロー: {flow}\n実行ID: {run_id}\n結果: {outcome}",
        "dry": "\n(ドライラン: 書き込みはしていません)",
        "cuts": "対象カット: {cuts}",
        "none": "なし",
        "counts": "■ 件数 (連携先 × ストリーム)",
        "failures": "■ 完了しなかったステップ",
        "details": "詳細（連携先のメッセージ）:",
        "errors": "■ 最初のエラー ({n} 件)",
        "key": "キー",
        "code": "コード",
        "said": "連携先のメッセージ",
        "fix": "直し方",
        "quarantine": "■ 保留中の行: {n} 件",
        "no_rejected": "まだ通知していないエラー行はありません。",
        "attached": "まだ通知していないエラー行 {n} 件を {name}（CSV）と {book}（Excel）で添付しました",
        "partial": " (先頭 {n} 件のみ)。",
        "stop": "。",
        "replay": "各行の「直し方」に沿って直し、`renkei replay SPEC` で再送してください"
        "（未対応の行の一覧: `renkei replay SPEC --list`）。",
        "budget": "■ API 使用量",
        "next_cut": "■ 次のカット: {cut}",
        "no_next_cut": "未定",
        "run": "■ Prefect の実行画面: {url}",
        "no_link": "(リンクなし)",
        "undelivered": "■ 届かなかった以前の通知",
        "undelivered_line": "- 実行 {run_id} ({at}) の通知はメールサーバーに"
        "受け付けられませんでした ({error})。",
        "resent": "この実行で再送しました。",
        "not_resent": "今回も送れませんでした。メール設定を確認し"
        " `renkei notify --resend SPEC` で再送してください。",
    },
    "en": {
        "intro": "The renkei run below needs attention.",
        "head": "Company: {company}\nFlow: {flow}\nRun id: {run_id}\nOutcome: {outcome}",
        "dry": "\n(dry run: nothing was written)",
        "cuts": "Cuts: {cuts}",
        "none": "none",
        "counts": "Counts (target x stream)",
        "failures": "Steps that did not finish",
        "details": "Details (the services' own words):",
        "errors": "First errors ({n} shown)",
        "key": "key",
        "code": "code",
        "said": "message",
        "fix": "what to do",
        "quarantine": "Rows in the quarantine: {n}",
        "no_rejected": "No rejected row is waiting to be reported.",
        "attached": "Rejected rows not reported before: {n}, attached as {name} (CSV) and {book} (Excel)",
        "partial": " (the first {n} only).",
        "stop": ".",
        "replay": 'Fix each as its "what to do" says, then send them again with `renkei replay SPEC`'
        " (every open row: `renkei replay SPEC --list`).",
        "budget": "API budget used",
        "next_cut": "Next cut: {cut}",
        "no_next_cut": "not scheduled",
        "run": "Prefect run: {url}",
        "no_link": "(no link)",
        "undelivered": "Earlier reports that were not delivered",
        "undelivered_line": "- The report of run {run_id} ({at}) was not accepted"
        " by the mail server ({error}).",
        "resent": " It was sent again with this run.",
        "not_resent": " Sending it failed again: check notify.smtp, then `renkei notify --resend SPEC`.",
    },
}
TABLE_KEYS = ("target", "stream", "in", "loaded", "skipped", "rejected", "deferred")
TABLE_HEADERS = {
    "ja": ("連携先", "ストリーム", "入力", "反映", "変更なし", "エラー", "次回へ"),
    "en": TABLE_KEYS,
}


def notice_subject(report: RunReport, language: Language = "both") -> str:
    """``[renkei] company: 失敗 / failed (sync run <id>)`` — the outcome in the spec's language(s)."""
    outcome = RUN_OUTCOMES[report.outcome].reason(language)
    dry = " [dry run]" if report.dry_run else ""
    return f"[renkei]{dry} {report.company}: {outcome} ({report.flow} run {report.run_id})"


def build_notice(
    report: RunReport,
    rejected: Iterable[RejectedRow],
    *,
    sender: str,
    recipients: Sequence[str],
    redact: Callable[[str], str],
    max_rows: int = MAX_ATTACHED_ROWS,
    language: Language = "both",
    context: RowContext = NO_CONTEXT,
) -> EmailMessage:
    """The whole message in ``language`` (notify.language); every text passes through ``redact``.

    The rejected rows go along twice: as CSV (UTF-8 with BOM) and as an Excel workbook."""
    rows = list(rejected)
    attached = rows[:max_rows]
    email = _headed(escape_surrogates(redact(notice_subject(report, language))), sender, recipients)
    email["X-Renkei-Run-Id"] = redact(report.run_id)
    body = f"\n\n{'-' * 60}\n\n".join(
        _section(report, len(rows), len(attached), section, context) for section in SECTIONS[language]
    )
    email.set_content(escape_surrogates(redact(body)), charset="utf-8")
    if attached:
        table = fixable_rows(attached, language, context, redact)
        email.add_attachment(
            rejected_rows_csv(table, language),
            maintype="text",
            subtype="csv",
            filename=ATTACHMENT_NAME,
            params={"charset": "utf-8"},
        )
        email.add_attachment(
            rejected_rows_xlsx(table, language),
            maintype=XLSX_TYPE[0],
            subtype=XLSX_TYPE[1],
            filename=WORKBOOK_NAME,
        )
    return email


def build_test_notice(company: str, *, sender: str, recipients: Sequence[str], sent_at: str) -> EmailMessage:
    """``renkei notify --test``: a short message proving the notification address still reaches someone."""
    message = _headed(f"[renkei] {company}: テスト送信 / test message", sender, recipients)
    message.set_content(
        f"renkei (連携) からのテスト送信です ({sent_at})。\n"
        f"このメールが届いていれば、{company} の連携エラーはこのアドレスに通知されます。\n"
        "届くべき人に届いていない場合は、連携仕様の notify.error_email を更新してください。\n\n"
        f"{'-' * 60}\n\n"
        f"This is a test message from renkei ({sent_at}).\n"
        f"If you can read it, failures of {company}'s integration will be reported to this address.\n"
        "If it reached the wrong people, update notify.error_email in the integration spec.\n",
        charset="utf-8",
    )
    return message


def rejected_rows_csv(table: Iterable[Mapping[str, str]], language: Language) -> bytes:
    """UTF-8 with BOM (Excel opens it as is); headers in ``language``; every cell formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(column_headers(language))
    for row in table:
        writer.writerow([safe_cell(cell) for cell in row.values()])
    return out.getvalue().encode("utf-8-sig")


def counts_table(report: RunReport, language: Language) -> str:
    """The target × stream counts as aligned text, with a total line (wide characters count twice);
    each stream as its ``language`` reads it (行動履歴（フォーム）, ``actions:form``)."""
    headers = TABLE_HEADERS[language]
    rows = [
        [stream_label(str(line[k]), language) if k == "stream" else str(line[k]) for k in TABLE_KEYS]
        for line in report.table()
    ]
    if len(rows) > 1:
        total = report.totals
        label = "合計" if language == "ja" else "total"
        rows.append(
            [
                label,
                "",
                *map(str, (total.received, total.loaded, total.skipped, total.rejected, total.deferred)),
            ]
        )
    grid = [list(headers), *rows]
    widths = [max(display_width(r[i]) for r in grid) for i in range(len(headers))]
    lines = []
    for row in grid:
        cells = [
            _pad(cell, width, right=index >= 2)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _headed(subject: str, sender: str, recipients: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")  # never a DNS lookup
    return message


def _section(report: RunReport, rejected: int, attached: int, language: Language, context: RowContext) -> str:
    words = WORDS[language]
    outcome = OUTCOME_LABELS[report.outcome][0 if language == "ja" else 1]
    head = words["head"].format(
        company=report.company, flow=report.flow, run_id=report.run_id, outcome=outcome
    )
    parts = [
        words["intro"],
        head + (words["dry"] if report.dry_run else ""),
        words["cuts"].format(cuts=", ".join(report.cuts) or words["none"]),
        words["counts"] + "\n" + (counts_table(report, language) if report.lines else f"({words['none']})"),
    ]
    if report.undelivered:
        parts.append(words["undelivered"] + "".join(_undelivered_line(u, words) for u in report.undelivered))
    if report.failures:
        lines = [f"\n- {line}" for line in failure_lines(report, language)]
        details = [f"\n  {f.target} / {f.step}: {f.message}" for f in report.failures if f.attempted]
        parts.append(words["failures"] + "".join(lines) + "\n" + words["details"] + "".join(details))
    errors = report.first_errors()
    if errors:
        parts.append(
            words["errors"].format(n=len(errors))
            + "".join(_error_line(e, words, language, context) for e in errors)
        )
    if not rejected:
        note = words["no_rejected"]
    else:
        note = words["attached"].format(n=rejected, name=ATTACHMENT_NAME, book=WORKBOOK_NAME)
        note += words["partial"].format(n=attached) if attached < rejected else words["stop"]
    parts.append(f"{words['quarantine'].format(n=report.quarantine_open)}\n{note}\n{words['replay']}")
    if report.budget:
        parts.append(words["budget"] + "".join(f"\n- {t}: {used}" for t, used in report.budget.items()))
    parts.append(words["next_cut"].format(cut=report.next_cut or words["no_next_cut"]))
    parts.append(words["run"].format(url=report.run_url or words["no_link"]))
    return "\n\n".join(parts)


def _undelivered_line(item: Undelivered, words: dict[str, str]) -> str:
    line = words["undelivered_line"].format(run_id=item.run_id, at=item.recorded_at, error=item.error)
    return f"\n{line}{words['resent'] if item.resent else words['not_resent']}"


def _error_line(
    error: tuple[str, str, RowOutcome], words: Mapping[str, str], language: Language, context: RowContext
) -> str:
    """``- target / stream / who [field]: reason (code)``, the target's own words, then the fix.

    Who is the person (email and name) when the refused values are known, else the row's key. Our
    own rule's code and English detail stay out of the Japanese section; a target's code and message
    are its own words and stay."""
    target, stream, outcome = error
    code = outcome.code or outcome.status.value
    entry = lookup(code)
    where = f" [{outcome.field}]" if outcome.field else ""
    who = person_label(context, target, outcome.payload or {}) or f"{words['key']} {outcome.key}"
    shown = f" ({code})" if entry.theirs or language != "ja" else ""  # a target's code is its own word
    line = f"\n- {target} / {stream_label(stream, language)} / {who}{where}: {entry.reason(language)}{shown}"
    if outcome.message and (entry.theirs or language != "ja"):
        line += f"\n  {words['said']}: {outcome.message}"
    return f"{line}\n  {words['fix']}: {entry.fix(language)}"


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - display_width(text))
    return gap + text if right else text + gap
