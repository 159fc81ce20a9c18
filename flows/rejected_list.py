"""`renkei replay --list`: the open rejected rows as a person fixes them, on screen and as files.

The same rows as the failure email's attachments (schemas.rejected): who, which record, which
field, the refused value, why and what to do, in the CLI's language; ``--xlsx`` / ``--csv`` write
every open row, where the screen shows the first ones and says how many more there are.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from schemas.messages import Language, in_language
from schemas.notice import rejected_rows_csv
from schemas.rejected import fixable_rows as build_rows
from schemas.spec import Spec
from schemas.workbook import rejected_rows_xlsx
from tasks.clients import state_store
from tasks.redact import redact
from tasks.rejected_rows import row_context

WORDS = {"record": ("レコードID", "record id"), "fix": ("直し方", "what to do")}


def list_rejected(
    spec: Spec,
    console: Console,
    language: Language,
    *,
    target: str | None = None,
    rule: str | None = None,
    limit: int = 20,
    xlsx: Path | None = None,
    csv: Path | None = None,
) -> int:
    """Print the first ``limit`` open rows (of one target / rule), write them all to files; the count."""
    store = state_store(spec)
    rows = store.quarantined(target, rule)
    table = build_rows(rows, language, row_context(spec, store, rows), redact)
    for row in table[:limit]:
        console.print(_line(row, language), highlight=False, markup=False, soft_wrap=True)
    more = len(table) - limit
    ja = f"未対応のエラー行: {len(table)} 件" + (f"（ほか {more} 件は表示を省略）" if more > 0 else "")
    en = f"open rejected rows: {len(table)}" + (f" (…and {more} more)" if more > 0 else "")
    console.print(in_language(ja, en, language), highlight=False)
    for path, data in ((xlsx, rejected_rows_xlsx), (csv, rejected_rows_csv)):
        if path is not None:
            path.write_bytes(data(table, language))
            done = in_language(f"書き出しました: {path}", f"written: {path}", language)
            console.print(done, highlight=False, markup=False)
    return len(table)


def _line(row: dict[str, str], language: Language) -> str:
    """``- target / email 姓 名 (会社) / record id R [field = "value"]: reason`` and the fix below."""
    who = " ".join(v for v in (row["email"], row["name"]) if v) or row["key"]
    company = f" ({row['company']})" if row["company"] else ""
    record = f" / {in_language(*WORDS['record'], language)} {row['record_id']}" if row["record_id"] else ""
    value = f' = "{row["value"]}"' if row["value"] else ""
    where = f" [{row['field']}{value}]" if row["field"] else ""
    fix = in_language(*WORDS["fix"], language)
    return f"- {row['target']} / {who}{company}{record}{where}: {row['reason']}\n  {fix}: {row['fix']}"
