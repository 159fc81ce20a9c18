"""Excel workbooks (.xlsx) a person opens: rejected rows and the plan, a summary, then a sheet per target.

Built with pandas and written by openpyxl; headers bold on a tinted row, frozen, with a filter;
columns as wide as their text (wide characters count twice). A cell that looks like a formula
(``=…``, ``+…``) is stored as text, so opening the file never runs it.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence, Set

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from schemas.csvsafe import display_width
from schemas.messages import Language, in_language, lookup
from schemas.rejected import COLUMNS, Column

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
SUMMARY_SHEET: dict[Language, str] = {"ja": "概要", "en": "summary", "both": "概要 summary"}
SUMMARY_COLUMNS = (
    Column("target", "連携先", "target"),
    Column("stream", "データ", "stream"),
    Column("code", "コード", "code"),
    Column("reason", "理由", "reason"),
    Column("fix", "直し方", "what to do"),
    Column("rows", "件数", "rows"),
)
PLAN_COLUMNS = (
    Column("target", "連携先", "target"),
    Column("direction", "方向", "direction"),
    Column("key", "キー", "key"),
    Column("action", "操作", "action"),
    Column("field", "項目", "field"),
    Column("before", "現在の値", "value now"),
    Column("after", "変更後の値", "value after"),
    Column("reason", "理由", "reason"),
)
PLAN_ACTIONS = {
    "create": ("新規作成", "create"),
    "update": ("更新", "update"),
    "reject": ("エラー", "reject"),
}
PLAN_DIRECTIONS = {
    "MA → target": ("MA → 連携先", "MA → target"),
    "target → MA": ("連携先 → MA", "target → MA"),
}
LINK = next(c for c in COLUMNS if c.key == "link")
WRAPPED = [c for c in COLUMNS if c.key in ("reason", "fix")]
HEADER_FILL = PatternFill("solid", start_color="DDEBF7")
MAX_WIDTH = 60
LINE_HEIGHT = 15  # points: one line of 11 pt text
TOP = Alignment(vertical="top")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def rejected_rows_xlsx(table: Sequence[dict[str, str]], language: Language) -> bytes:
    """The workbook of ``schemas.rejected.fixable_rows`` output, in ``language``."""
    sheets = {SUMMARY_SHEET[language]: _summary(table, language)}
    for target in dict.fromkeys(row["target"] for row in table):
        rows = [[row[c.key] for c in COLUMNS] for row in table if row["target"] == target]
        sheets[target] = pd.DataFrame(rows, columns=[c.header(language) for c in COLUMNS], dtype=object)
    return workbook(sheets, links=LINK.header(language), wrapped={c.header(language) for c in WRAPPED})


def plan_xlsx(changes: pd.DataFrame, language: Language) -> bytes:
    """``renkei plan``'s per-record changes (its changes.parquet): a summary, then one sheet per target."""
    frame = changes.fillna("").astype(str)
    frame["action"] = frame["action"].map(lambda a: in_language(*PLAN_ACTIONS.get(a, (a, a)), language))
    frame["direction"] = frame["direction"].map(
        lambda d: in_language(*PLAN_DIRECTIONS.get(d, (d, d)), language)
    )
    frame["reason"] = frame["reason"].map(lambda r: _plan_reason(r, language))
    keys = frame.groupby(["target", "direction", "action"])["key"].nunique().reset_index()
    summary = keys.pivot_table(index=["target", "direction"], columns="action", values="key", fill_value=0)
    summary = summary.reset_index().rename(columns={c.key: c.header(language) for c in PLAN_COLUMNS})
    sheets = {SUMMARY_SHEET[language]: summary}
    for target, part in frame.groupby("target", sort=False):
        columns = {c.key: c.header(language) for c in PLAN_COLUMNS}
        sheets[str(target)] = part[list(columns)].rename(columns=columns)
    return workbook(sheets)


def workbook(
    sheets: Mapping[str, pd.DataFrame], links: str | None = None, wrapped: Set[str] = frozenset()
) -> bytes:
    """Each frame on its own sheet (names made valid and unique), dressed to read well in Excel;
    the cells of the column headed ``links`` open their record when clicked, the ``wrapped`` ones
    (reason, what to do) wrap inside their column instead of running out of it."""
    out = io.BytesIO()
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        used: set[str] = set()
        for name, frame in sheets.items():
            sheet_name = _sheet_name(name, used)
            used.add(sheet_name)
            frame.map(lambda v: _storable(v) if isinstance(v, str) else v).to_excel(
                writer, sheet_name=sheet_name, index=False
            )
        for sheet in writer.sheets.values():
            _dress(sheet, wrapped)
            _link(sheet, links)
    return out.getvalue()


def _plan_reason(reason: str, language: Language) -> str:
    """``code: message`` as the plan records a rejection, in the catalogue's words."""
    if not reason:
        return ""
    code, _, message = reason.partition(": ")
    entry = lookup(code)
    said = message if entry.theirs or language != "ja" else ""
    return entry.reason(language) + (f" ({said})" if said else "")


def _summary(table: Sequence[dict[str, str]], language: Language) -> pd.DataFrame:
    counts = Counter((row["target"], row["stream"], row["code"]) for row in table)
    lines = [
        [target, stream, code, lookup(code).reason(language), lookup(code).fix(language), n]
        for (target, stream, code), n in sorted(counts.items())
    ]
    return pd.DataFrame(lines, columns=[c.header(language) for c in SUMMARY_COLUMNS])


def _storable(text: str) -> str:
    """A control character an xlsx cannot hold, written as a visible ``\\x0b`` instead."""
    return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _sheet_name(name: str, used: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = _SHEET_FORBIDDEN.sub("_", name)[:31] or "sheet"
    candidate, n = base, 2
    while candidate in used:
        suffix = f" ({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    return candidate


def _wrap(sheet: Worksheet, column: int, width: int) -> None:
    """Text wraps inside the column; each row tall enough for its lines (Excel does not grow it)."""
    for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
        cell.alignment = Alignment(vertical="top", wrap_text=True)
        lines = -(-display_width(str(cell.value or "")) // max(width - 2, 1))
        current = sheet.row_dimensions[cell.row].height or LINE_HEIGHT
        sheet.row_dimensions[cell.row].height = max(current, LINE_HEIGHT * min(max(lines, 1), 6))


def _link(sheet: Worksheet, header: str | None) -> None:
    column = next((cell.column for cell in sheet[1] if header is not None and cell.value == header), None)
    if column is None:
        return
    for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
        if isinstance(cell.value, str) and cell.value.startswith(("https://", "http://")):
            cell.hyperlink = cell.value
            cell.style = "Hyperlink"
            cell.alignment = TOP


def _dress(sheet: Worksheet, wrapped: Set[str]) -> None:
    """Header styling, frozen header row, a filter, widths that fit, formulas kept as text, printable."""
    widths: dict[int, int] = {}
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"  # a value such as =HYPERLINK(…) is text, never a formula
            if cell.row > 1:
                cell.alignment = TOP  # a row grown by a wrapped cell reads from its top line
            text = "" if cell.value is None else str(cell.value)
            # a line longer than the widest column is capped anyway: measure no further than that
            width = max((display_width(line[:MAX_WIDTH]) for line in text.splitlines()), default=0)
            widths[cell.column] = max(widths.get(cell.column, 0), width)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        if cell.value in wrapped:
            _wrap(sheet, cell.column, min(round(widths.get(cell.column, 0) * 1.1) + 2, MAX_WIDTH))
    for column, width in widths.items():
        # Excel's width unit is a narrow digit; Japanese glyphs run a little wider than two of them
        sheet.column_dimensions[get_column_letter(column)].width = min(round(width * 1.1) + 2, MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    sheet.page_setup.orientation = "landscape"  # printed: every column on one page's width
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
