"""A failed step as one line a person can act on: what, where in the spec, what renkei did, what next.

One line per target (its load and write back together), in the message catalogue's words: the CLI
prints it, the failure email carries it in each language. Pure: the caller hands in the report.
"""

from __future__ import annotations

from schemas.messages import Language, in_language, lookup
from schemas.report import RunReport, StepFailure

STEP_NAMES: dict[str, str] = {  # the step as the Japanese text names it
    "load": "送信",
    "write back": "書き戻し",
    "extract": "取り込み",
    "field catalog": "項目定義の確認",
    "email": "通知メール",
    "flow": "実行",
}


def failure_lines(report: RunReport, language: Language) -> list[str]:
    """One line per target whose steps failed, in the order they failed."""
    by_target: dict[str, list[StepFailure]] = {}
    for failure in report.failures:
        by_target.setdefault(failure.target, []).append(failure)
    return [target_line(failures, report.next_cut, language) for failures in by_target.values()]


def target_line(failures: list[StepFailure], next_cut: str | None, language: Language) -> str:
    """``who (where): reason (code) — what renkei did — the fix (next cut)`` for one target."""
    first = failures[0]
    entry = lookup(first.reason)
    code = f" ({first.code})" if first.code else ""
    where = f"（{first.where}）" if first.where else ""
    where_en = f" ({first.where})" if first.where else ""
    attempts = sum(f.attempts for f in failures)
    seconds = round(sum(f.seconds for f in failures))
    tried = [f for f in failures if f.attempted] or failures
    steps_ja = "・".join(STEP_NAMES.get(f.step, f.step) for f in tried)
    steps_en = ", ".join(f.step for f in tried)
    did_ja, did_en = f"{steps_ja}: 未完了", f"{steps_en}: not finished"
    if attempts:
        did_ja = f"{steps_ja}: {attempts} 回試行、{seconds} 秒"
        did_en = f"{steps_en}: {attempts} attempt(s) in {seconds} s"
    skipped = [f for f in failures if not f.attempted]
    if skipped:
        did_ja += f"（{'・'.join(STEP_NAMES.get(f.step, f.step) for f in skipped)}は見送り）"
        did_en += f" ({', '.join(f.step for f in skipped)} not attempted)"
    later_ja = f"（次のカット {next_cut}）" if next_cut and first.kind == "transient" else ""
    later_en = f" (next cut {next_cut})" if next_cut and first.kind == "transient" else ""
    ja = f"{first.target}{where}: {entry.ja}{code} — {did_ja} — {entry.fix_ja}{later_ja}"
    en = f"{first.target}{where_en}: {entry.en}{code} — {did_en} — {entry.fix_en}{later_en}"
    return in_language(ja, en, language)
