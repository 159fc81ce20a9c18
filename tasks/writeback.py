"""Writing a target's Writable fields back into the MA (target → MA), for one target per run.

Records changed since the watermark (minus an overlap) are read, deduplicated by id, checked for
email uniqueness (an email held by several records is never written: every record involved is
reported), mapped through the conflict rules, coerced to MA types, compared with the MA's current
values (nothing unchanged is written) and upserted in bulk. Each record the MA then agrees with is
remembered as read (the ``inbound`` links: record id → ``TargetRecord.read_hash``), so reading it
again unchanged — as every run does inside the watermark's overlap — costs no email guard and no MA
comparison.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Protocol

from connectors.state import StateStore
from schemas.catalog import CustomFieldSpec
from schemas.mapping import FieldMap, TargetRecord, flatten_customer, outbound_record, values_hash
from schemas.outcomes import RowOutcome, Status
from schemas.writeback import plan_rows, unique_candidates
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
    planned = plan_rows(candidates, current, fmap, custom, create_missing=create_missing)
    rows, owners, outcomes = planned.rows, planned.owners, [*rejected, *planned.outcomes]
    written = ma.bulk_upsert(list(rows.values()), key="email" if fmap.key_ma == "email" else "hashcode")
    pause_point("write-back")
    # outcomes are keyed by the target record id so the quarantine names the record a user can fix
    by_record = [
        RowOutcome(owners[o.key], o.status, o.target_id, o.code, o.message, o.field) for o in written
    ]
    sent = {owners[k]: v for k, v in rows.items()}
    record_outcomes(state, run_id, report, sent, [*outcomes, *by_record], link=False)
    _remember_taken_in(state, fmap.target_name, records, [*outcomes, *by_record])
    _refresh_outbound_links(
        state, fmap, ma, [k for k, o in zip(rows, written, strict=True) if o.status.loaded]
    )
    return report


def taken_in(state: StateStore, target: str, records: list[TargetRecord]) -> set[str]:
    """Ids of ``records`` that read exactly as when the write-back last took them in: the MA holds
    what they say (or needed none of it), so there is nothing to guard, compare or write."""
    links = state.link_hashes(target, INBOUND, [r.id for r in records])
    return {r.id for r in records if r.id in links and links[r.id][1] == r.read_hash}


def _remember_taken_in(
    state: StateStore, target: str, records: list[TargetRecord], outcomes: list[RowOutcome]
) -> None:
    """Remember each record the MA now agrees with (written, or nothing to write), as it was read.

    A rejected or deferred record is not remembered: read again, it is checked and written again.
    """
    done = {o.key for o in outcomes if o.status.loaded or o.status is Status.UNCHANGED}
    state.save_links(target, INBOUND, [(r.id, r.id, r.read_hash) for r in records if r.id in done])


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
