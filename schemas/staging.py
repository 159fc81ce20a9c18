"""Staging contract: cut ids, the layout under the staging root, and the Arrow schema of every file.

``<root>/<company>/<cut YYYYMMDDTHHMM+0900>/actions/<kind>.parquet``, ``masters/<kind>.parquet``,
``customers.parquet`` and ``manifest.json``. Timestamps are timezone-aware (Asia/Tokyo).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa

from schemas.catalog import FieldDef, FieldType
from schemas.spec import ACTION_KINDS, MASTER_KINDS

SCHEMA_VERSION = 1
JST = ZoneInfo("Asia/Tokyo")
CUT_FORMAT = "%Y%m%dT%H%M%z"
TIMESTAMP = pa.timestamp("us", tz="Asia/Tokyo")

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
ACTION_SORT_KEY = "event_id"
MASTER_SORT_KEY = "id"
CUSTOMER_SORT_KEY = "customer_id"

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


def customer_schema(fields: list[FieldDef]) -> pa.Schema:
    """The customers table: identity columns first, then every readable field in catalog order."""
    identity = ["customer_id", "hashcode", "email", "updated_at"]
    by_name = {f.name: f for f in fields}
    columns = [pa.field("customer_id", pa.string(), nullable=False), pa.field("hashcode", pa.string())]
    columns += [pa.field("email", pa.string()), pa.field("updated_at", TIMESTAMP)]
    columns += [pa.field(f.name, _ARROW_TYPES[f.type]) for f in by_name.values() if f.name not in identity]
    return pa.schema(columns)


@dataclass(frozen=True, order=True)
class Cut:
    """One MA cut: the actions recorded in [previous, at)."""

    at: datetime
    previous: datetime

    @property
    def id(self) -> str:
        return format_cut(self.at)


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


def cut_times(start: datetime, end: datetime, cuts: list[str], tz: str = "Asia/Tokyo") -> Iterator[datetime]:
    """Every cut instant in [start, end], in order, for the spec's cut times of day in ``tz``."""
    zone = ZoneInfo(tz)
    times = sorted(time.fromisoformat(c) for c in cuts)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        for clock in times:
            instant = datetime.combine(day, clock, zone)
            if start <= instant <= end:
                yield instant.astimezone(JST)
        day += timedelta(days=1)


def previous_cut(at: datetime, cuts: list[str], tz: str = "Asia/Tokyo") -> datetime:
    """The cut instant just before ``at``."""
    earlier = list(cut_times(at - timedelta(days=2), at - timedelta(microseconds=1), cuts, tz))
    return earlier[-1]


def cut_path(company: str, cut: str) -> str:
    return f"{company}/{cut}"


def staged_files() -> list[tuple[str, pa.Schema | None]]:
    """Every file of one cut, relative to its folder, with its fixed schema (customers vary by spec)."""
    files: list[tuple[str, pa.Schema | None]] = [(f"actions/{k}.parquet", ACTION_SCHEMA) for k in ACTION_KINDS]
    files += [(f"masters/{k}.parquet", MASTER_SCHEMA) for k in MASTER_KINDS]
    files.append(("customers.parquet", None))
    return files
