"""The customer CSV the MA's admin screen exports: its Japanese header, and each row as a staged row.

An MA user without the Data Integration Option reads the MA only through this file. Its header names
the fields by their Japanese labels as the admin screen writes them (``メールアドレス``, ``会社名``,
a custom field by its label); the labels are matched after NFKC (full- and half-width brackets alike),
and ``custom:<識別名>`` is understood too. The catalog renkei knows without the integration API is the
default fields plus the spec's ``custom_fields``: a column outside it fails the file, naming it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.catalog import CUSTOM_PREFIX, CustomFieldSpec, FieldDef, FieldType, catalog

REQUIRED = ("customer_id", "email")
# spellings of the admin screen's own CSV files (the help centre's bulk-registration sample) besides
# the catalog's labels: 苗字 / 名前 for the name parts, and the date-time columns' short forms
ALIASES = {
    "苗字": "last_name",
    "名前": "first_name",
    "苗字(ふりがな)": "last_name_reading",
    "名前(ふりがな)": "first_name_reading",
    "カスタマーID": "customer_id",
    "登録日時": "created_at",
}
TRUE_TEXT = {"true": True, "1": True, "はい": True, "○": True, "false": False, "0": False, "いいえ": False}


def _key(label: str) -> str:
    return unicodedata.normalize("NFKC", label).strip().lower()


def labels(custom: dict[str, CustomFieldSpec]) -> dict[str, FieldDef]:
    """Normalised header text → field, for every field the spec lets renkei know."""
    fields = catalog(custom)
    known = {_key(f.label): f for f in fields}
    known |= {_key(f.name): f for f in fields if f.is_custom}
    known |= {_key(f.name.removeprefix(CUSTOM_PREFIX)): f for f in fields if f.is_custom}
    by_name = {f.name: f for f in fields}
    known |= {_key(alias): by_name[name] for alias, name in ALIASES.items()}
    return known


@dataclass(frozen=True)
class HeaderProblem:
    column: str
    rule: str  # unknown_export_column | missing_export_column | duplicate_export_column
    message: str


def read_header(
    header: list[str], custom: dict[str, CustomFieldSpec]
) -> tuple[list[FieldDef | None], list[HeaderProblem]]:
    """The field of each column (None: a column renkei does not stage) and what is wrong with the header.

    A column the catalog does not know is a problem: the export belongs to another account, or a
    custom field is missing from the spec's ``custom_fields``.
    """
    known = labels(custom)
    columns: list[FieldDef | None] = []
    problems: list[HeaderProblem] = []
    seen: set[str] = set()
    for text in header:
        field = known.get(_key(text))
        if field is None:
            problems.append(
                HeaderProblem(text, "unknown_export_column", "not a field of this MA account's catalog")
            )
        elif field.name in seen:
            problems.append(HeaderProblem(text, "duplicate_export_column", f"{field.name} appears twice"))
            field = None
        else:
            seen.add(field.name)
        columns.append(field)
    for name in REQUIRED:
        if name not in seen:
            label = next(f.label for f in catalog(custom) if f.name == name)
            problems.append(
                HeaderProblem(label, "missing_export_column", f"the column {label} ({name}) is required")
            )
    return columns, problems


class ValueProblem(ValueError):
    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def typed(field: FieldDef, text: str, zone: ZoneInfo) -> Any:
    """One cell as the staged type: times without an offset are read in ``zone`` (the admin screen's)."""
    text = text.strip()
    if text == "":
        return None
    try:
        match field.type:
            case FieldType.INTEGER:
                return int(unicodedata.normalize("NFKC", text).replace(",", ""))
            case FieldType.DECIMAL:
                return float(unicodedata.normalize("NFKC", text).replace(",", ""))
            case FieldType.BOOLEAN:
                return TRUE_TEXT[text.lower()]
            case FieldType.DATE:
                return date.fromisoformat(text.replace("/", "-")[:10])
            case FieldType.DATETIME:
                moment = datetime.fromisoformat(text.replace("/", "-"))
                return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(zone)
            case FieldType.MULTI_SELECT:
                return [part.strip() for part in text.split(",") if part.strip()]
            case _:
                if field.max_length is not None and len(text) > field.max_length:
                    raise ValueProblem("too_long", f"longer than {field.max_length} characters")
                return text
    except ValueProblem:
        raise
    except (ValueError, KeyError):
        raise ValueProblem("invalid_value", f"not a {field.type.value} value") from None
