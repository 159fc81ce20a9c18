"""CSV cells a user can open safely in Excel: formula injection neutralised, CP932 limits found.

Every CSV renkei writes goes through ``safe_cell``. A cell starting with = + - @ (or a tab or
carriage return) would run as a formula in Excel; it gets a leading apostrophe, which Excel hides.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CP932_PLACEHOLDER = "〓"  # ゲタ: the customary mark for a character that cannot be printed


@dataclass(frozen=True)
class EncodingProblem:
    row: int
    column: str
    character: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.character!r} (U+{ord(self.character):04X})"


def safe_cell(value: Any) -> str:
    """The text of one cell; numbers stay numbers, text that Excel would evaluate is neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    text = escape_surrogates(str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def escape_surrogates(text: str) -> str:
    """Half of a UTF-16 surrogate pair (text cut mid-character) written as ``\\udXXX``: visible, and
    encodable, where it would otherwise stop a whole file or email from being written."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def display_width(text: str) -> int:
    """Columns ``text`` takes in a fixed-width font or an Excel cell: wide characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def cp932_safe(text: str, row: int, column: str) -> tuple[str, list[EncodingProblem]]:
    """``text`` with every character CP932 cannot hold replaced by 〓, and a problem for each."""
    try:
        text.encode("cp932")
    except UnicodeEncodeError:
        pass
    else:
        return text, []
    problems: list[EncodingProblem] = []
    out: list[str] = []
    for ch in text:
        try:
            ch.encode("cp932")
            out.append(ch)
        except UnicodeEncodeError:
            problems.append(EncodingProblem(row, column, ch))
            out.append(CP932_PLACEHOLDER)
    return "".join(out), problems
