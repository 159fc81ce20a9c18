"""Staging contract: cut ids, the layout under the staging root, and the Arrow schema of every file.

``<root>/<company>/<cut YYYYMMDDTHHMM+0900>/actions/<kind>.parquet``, ``masters/<kind>.parquet``,
``customers.parquet`` and ``manifest.json``. Timestamps are timezone-aware (Asia/Tokyo).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from schemas.catalog import FieldDef, FieldType
from schemas.spec import ACTION_KINDS, MASTER_KINDS

SCHEMA_VERSION = 1
JST = ZoneInfo("Asia/Tokyo")
CUT_FORMAT = "%Y%m%dT%H%M%z"
TIMESTAMP = pa.timestamp("us", tz="Asia/Tokyo")
CUT_ID = re.compile(r"^\d{8}T\d{4}[+-]\d{4}$")
COMPANY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

ACTION_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("customer_id", pa.string()),
        pa.field("hashcode", pa.string()),
        pa.field("email", pa.string()),
        pa.field("master_id", pa.string()),
        pa.field("master_name", pa.string()),
        pa.field("event_type", pa.string()),
        pa.field("occurred_at", TIMESTAMP),
        pa.field("recorded_at", TIMESTAMP),
        pa.field("url", pa.string()),
    ]
)
MASTER_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("status", pa.string()),
        pa.field("created_at", TIMESTAMP),
        pa.field("updated_at", TIMESTAMP),
    ]
)

_ARROW_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.TEXT: pa.string(),
    FieldType.TEXTAREA: pa.string(),
    FieldType.EMAIL: pa.string(),
    FieldType.SELECT: pa.string(),
    FieldType.INTEGER: pa.int64(),
    FieldType.DECIMAL: pa.float64(),
    FieldType.BOOLEAN: pa.bool_(),
    FieldType.DATE: pa.date32(),
    FieldType.DATETIME: TIMESTAMP,
    FieldType.MULTI_SELECT: pa.list_(pa.string()),
}


IDENTITY_COLUMNS = ("customer_id", "hashcode", "email", "updated_at")


def customer_schema(fields: list[FieldDef]) -> pa.Schema:
    """The customers table: identity columns first, then every readable field in the given order."""
    columns = [pa.field("customer_id", pa.string(), nullable=False), pa.field("hashcode", pa.string())]
    columns += [pa.field("email", pa.string()), pa.field("updated_at", TIMESTAMP)]
    columns += [pa.field(f.name, _ARROW_TYPES[f.type]) for f in fields if f.name not in IDENTITY_COLUMNS]
    return pa.schema(columns)


def customer_row(customer: dict[str, Any], schema: pa.Schema) -> dict[str, Any]:
    """One customer of the MA's JSON as a row of ``schema``: custom fields flattened, times parsed."""
    custom = customer.get("custom") or {}
    row: dict[str, Any] = {}
    for column in schema:
        name = column.name
        value = custom.get(name.removeprefix("custom:")) if name.startswith("custom:") else customer.get(name)
        row[name] = _typed(value, column.type)
    return row


def _typed(value: Any, kind: pa.DataType) -> Any:
    if value is None or value == "":
        return None
    if pa.types.is_timestamp(kind) and isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(JST)
    if pa.types.is_date(kind) and isinstance(value, str):
        return date.fromisoformat(value[:10])
    if pa.types.is_string(kind):
        return str(value)
    return value


def format_cut(at: datetime) -> str:
    """2026-11-28 02:00 JST → ``20261128T0200+0900``."""
    if at.tzinfo is None:
        raise ValueError("cut times must be timezone-aware")
    return at.astimezone(JST).strftime(CUT_FORMAT)


def parse_cut(text: str) -> datetime:
    """``20261128T0200+0900`` (or any ISO 8601 instant with an offset) → an aware datetime in JST."""
    try:
        parsed = datetime.strptime(text, CUT_FORMAT)
    except ValueError:
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r}: a cut time needs an offset, e.g. 20261128T0200+0900")
    return parsed.astimezone(JST)


def parse_instant(text: str, tz: str = "Asia/Tokyo") -> datetime:
    """A user's time: a cut id, an ISO date or date-time; without an offset it is read in ``tz``."""
    try:
        return parse_cut(text)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(tz))


def check_cut_id(cut: str) -> str:
    """A cut id from outside (the MA's listing, a user) before it names a folder or a key."""
    if not CUT_ID.match(cut):
        raise ValueError(f"{cut!r} is not a cut id (YYYYMMDDTHHMM+0900, e.g. 20261128T0200+0900): refused")
    return cut


def cut_path(company: str, cut: str) -> str:
    """``<company>/<cut>``: both checked against their grammar, so neither can climb out of the root."""
    if not COMPANY.match(company) or ".." in company:
        raise ValueError(f"{company!r} is not a company name (letters, digits, ., - and _): refused")
    return f"{company}/{check_cut_id(cut)}"


CUSTOMERS_FILE = "customers.parquet"
MANIFEST_FILE = "manifest.json"


def action_file(kind: str) -> str:
    return f"actions/{kind}.parquet"


def master_file(kind: str) -> str:
    return f"masters/{kind}.parquet"


def staged_files() -> list[str]:
    """Every Parquet file of one cut, relative to the cut's folder."""
    return [*map(action_file, ACTION_KINDS), *map(master_file, MASTER_KINDS), CUSTOMERS_FILE]
