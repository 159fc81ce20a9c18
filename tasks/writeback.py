"""Writing a target's Writable fields back into the MA (target → MA), for one target per run.

Records changed since the watermark (minus an overlap) are read, deduplicated by id, checked for
email uniqueness (an email held by several records is never written: every record involved is
reported), mapped through the conflict rules, coerced to MA types, compared with the MA's current
values (nothing unchanged is written) and upserted in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from connectors.state import StateStore
from schemas.catalog import CustomFieldSpec, custom_identifier, is_custom_name, lookup_field
from schemas.coerce import CoercionError, to_ma_value
from schemas.email import group_by_email, normalise_email
from schemas.mapping import (
    FieldMap,
    TargetRecord,
    flatten_customer,
    inbound_changes,
    outbound_record,
    values_hash,
)
from schemas.outcomes import RowOutcome
from tasks.load import StreamReport, record_outcomes
from tasks.pause import pause_point

INBOUND = "inbound"


class MaCustomers(Protocol):
    """The part of the MA client a write-back uses (the plan wraps it to record instead of write)."""

    def bulk_get(
        self, *, emails: Iterable[str] = (), hashcodes: Iterable[str] = ()
    ) -> list[dict[str, Any]]: ...

    def bulk_upsert(
        self, rows: Iterable[dict[str, Any]], key: Literal["email", "hashcode"] = "email"
    ) -> list[RowOutcome]: ...


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


def current_value(customer: dict[str, Any], name: str) -> Any:
    if is_custom_name(name):
        return (customer.get("custom") or {}).get(custom_identifier(name))
    return customer.get(name)


def write_back(
    records: list[TargetRecord],
    fmap: FieldMap,
    email_field: str | None,
    custom: dict[str, CustomFieldSpec],
    ma: MaCustomers,
    state: StateStore,
    run_id: str,
    *,
    create_missing: bool = False,
) -> StreamReport:
    """Write the changed Writable fields of ``records`` into the MA; one outcome per record."""
    report = StreamReport(fmap.target_name, INBOUND)
    candidates, rejected = unique_candidates(records, fmap, email_field)
    keys = [c.key for c in candidates]
    found = ma.bulk_get(emails=keys) if fmap.key_ma == "email" else ma.bulk_get(hashcodes=keys)
    current = {str(c.get(fmap.key_ma)): c for c in found}
    outcomes: list[RowOutcome] = list(rejected)
    rows: dict[str, dict[str, Any]] = {}
    owners: dict[str, str] = {}
    for candidate in candidates:
        record, existing = candidate.record, current.get(candidate.key)
        if existing is None and not create_missing:
            outcomes.append(RowOutcome.unchanged(record.id))  # not an MA customer: nothing to write
            continue
        ma_updated = datetime.fromisoformat(existing["updated_at"]) if existing else None
        changes = inbound_changes(record.values, fmap, target_modified=record.modified, ma_updated=ma_updated)
        try:
            row = ma_row(changes, custom)
        except CoercionError as exc:
            outcomes.append(RowOutcome.rejected(record.id, exc.rule, str(exc), exc.field))
            continue
        if existing is not None:
            row = _only_differences(row, existing)
        if not row or candidate.key in rows:
            outcomes.append(RowOutcome.unchanged(record.id))
            continue
        rows[candidate.key] = {fmap.key_ma: candidate.key, **row}
        owners[candidate.key] = record.id
    written = ma.bulk_upsert(list(rows.values()), key="email" if fmap.key_ma == "email" else "hashcode")
    pause_point("write-back")
    # outcomes are keyed by the target record id so the quarantine names the record a user can fix
    by_record = [
        RowOutcome(owners[o.key], o.status, o.target_id, o.code, o.message, o.field) for o in written
    ]
    sent = {owners[k]: v for k, v in rows.items()}
    record_outcomes(state, run_id, report, sent, [*outcomes, *by_record], link=False)
    _refresh_outbound_links(
        state, fmap, ma, [k for k, o in zip(rows, written, strict=True) if o.status.loaded]
    )
    return report


def _only_differences(row: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "custom" and v != existing.get(k)}
    custom = {
        k: v for k, v in (row.get("custom") or {}).items() if v != (existing.get("custom") or {}).get(k)
    }
    if custom:
        out["custom"] = custom
    return out


def _refresh_outbound_links(state: StateStore, fmap: FieldMap, ma: MaCustomers, keys: list[str]) -> None:
    """After a write-back the target already holds these values: record them so they are not sent back."""
    if not keys or not fmap.outbound:
        return
    found = ma.bulk_get(emails=keys) if fmap.key_ma == "email" else ma.bulk_get(hashcodes=keys)
    flat = [flatten_customer(c) for c in found]
    links = state.link_hashes(fmap.target_name, "customers", [str(c[fmap.key_ma]) for c in flat])
    state.save_links(
        fmap.target_name,
        "customers",
        [
            (
                str(c[fmap.key_ma]),
                links[str(c[fmap.key_ma])][0],
                values_hash(outbound_record(c, fmap, new=False)),
            )
            for c in flat
            if str(c[fmap.key_ma]) in links
        ],
    )


def newest_modification(records: list[TargetRecord]) -> datetime | None:
    stamps = [r.modified for r in records if r.modified is not None]
    return max(stamps) if stamps else None
