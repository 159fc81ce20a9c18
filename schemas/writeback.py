"""The pure decisions of a write-back (target → MA): which records may be written, and what.

One record per id (the newest); an email held by several records is never written, every record
involved is rejected; values are coerced to MA types and only what differs from the MA is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.catalog import CustomFieldSpec, custom_identifier, is_custom_name, lookup_field
from schemas.coerce import CoercionError, to_ma_value
from schemas.email import group_by_email, normalise_email
from schemas.mapping import FieldMap, TargetRecord, inbound_changes
from schemas.outcomes import RowOutcome


@dataclass(frozen=True)
class Candidate:
    record: TargetRecord
    key: str


def latest_by_id(pages: Iterable[list[TargetRecord]]) -> list[TargetRecord]:
    """One record per id (the newest), in (modified, id) order: overlapping reads never double up."""
    newest: dict[str, TargetRecord] = {}
    for page in pages:
        for record in page:
            seen = newest.get(record.id)
            if seen is None or (record.modified or datetime.min) >= (seen.modified or datetime.min):
                newest[record.id] = record
    return sorted(newest.values(), key=lambda r: (r.modified.timestamp() if r.modified else 0.0, r.id))


def unique_candidates(
    records: list[TargetRecord], fmap: FieldMap, email_field: str | None
) -> tuple[list[Candidate], list[RowOutcome]]:
    """Records that may be written, and a rejection for every record of a shared or bad email."""
    rejected: list[RowOutcome] = []
    usable = records
    if email_field is not None:
        grouping = group_by_email(records, lambda r: r.values.get(email_field))
        for conflict in grouping.conflicts:
            ids = ", ".join(r.id for r in conflict.rows)
            rejected += [
                RowOutcome.rejected(
                    r.id, "duplicate_email", f"{conflict.email} is held by records {ids}", email_field
                )
                for r in conflict.rows
            ]
        if fmap.key_ma == "email":
            rejected += [
                RowOutcome.rejected(r.id, p.rule, p.message, email_field) for r, p in grouping.invalid
            ]
            usable = [r for _, r in grouping.unique]
        else:
            shared = {r.id for c in grouping.conflicts for r in c.rows}
            usable = [r for r in records if r.id not in shared]
    candidates: list[Candidate] = []
    for record in usable:
        raw_key = record.values.get(fmap.key_target)
        key = (
            normalise_email(raw_key).value if fmap.key_ma == "email" else (str(raw_key) if raw_key else None)
        )
        if key:
            candidates.append(Candidate(record, key))
        else:
            rejected.append(
                RowOutcome.rejected(record.id, "key_missing", f"no {fmap.key_target}", fmap.key_target)
            )
    return candidates, rejected


def ma_row(changes: dict[str, Any], custom: dict[str, CustomFieldSpec]) -> dict[str, Any]:
    """MA field → value as the integration API takes it (custom fields under ``custom``).

    A blank value is left out: as in the MA's own bulk API, a blank cell never overwrites a value,
    so switching a sync on can never wipe the MA's data with a target's empty fields.
    """
    row: dict[str, Any] = {}
    for name, value in changes.items():
        field = lookup_field(name, custom)
        if field is None:
            raise CoercionError(name, "unknown_field", f"{name} is not an MA field")
        coerced = to_ma_value(field, value)
        if coerced is None or coerced == []:
            continue
        if is_custom_name(name):
            row.setdefault("custom", {})[custom_identifier(name)] = coerced
        else:
            row[name] = coerced
    return row


def only_differences(row: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    """The part of ``row`` that differs from the MA's current customer (nothing unchanged is written)."""
    out = {k: v for k, v in row.items() if k != "custom" and v != existing.get(k)}
    custom = {
        k: v for k, v in (row.get("custom") or {}).items() if v != (existing.get("custom") or {}).get(k)
    }
    if custom:
        out["custom"] = custom
    return out


def newest_modification(records: list[TargetRecord]) -> datetime | None:
    """The newest modification stamp among ``records`` (the next watermark), if any has one."""
    stamps = [r.modified for r in records if r.modified is not None]
    return max(stamps) if stamps else None


@dataclass
class PlannedRows:
    """What a write-back sends (MA key → row), whose record each row is, and every other outcome."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    outcomes: list[RowOutcome] = field(default_factory=list)


def plan_rows(
    candidates: list[Candidate],
    current: dict[str, dict[str, Any]],
    fmap: FieldMap,
    custom: dict[str, CustomFieldSpec],
    *,
    create_missing: bool = False,
) -> PlannedRows:
    """The MA rows to upsert for ``candidates`` given the MA's ``current`` customers by key.

    A record that is not an MA customer is unchanged (unless ``create_missing``); the conflict rules
    decide each field; a value the MA cannot take rejects the record; nothing already equal is sent.
    """
    planned = PlannedRows()
    for candidate in candidates:
        record, existing = candidate.record, current.get(candidate.key)
        if existing is None and not create_missing:
            planned.outcomes.append(RowOutcome.unchanged(record.id))
            continue
        ma_updated = datetime.fromisoformat(existing["updated_at"]) if existing else None
        changes = inbound_changes(record.values, fmap, target_modified=record.modified, ma_updated=ma_updated)
        try:
            row = ma_row(changes, custom)
        except CoercionError as exc:
            planned.outcomes.append(RowOutcome.rejected(record.id, exc.rule, str(exc), exc.field))
            continue
        if existing is not None:
            row = only_differences(row, existing)
        if not row or candidate.key in planned.rows:
            planned.outcomes.append(RowOutcome.unchanged(record.id))
            continue
        planned.rows[candidate.key] = {fmap.key_ma: candidate.key, **row}
        planned.owners[candidate.key] = record.id
    return planned
