"""Mapping changes re-sync: a field added to (or changed in) a target's mapping reaches every linked
record, not only the customers that change later.

The state DB remembers each target's outbound mapping (links stream ``mapping``). When it differs
from the spec's, the changed fields of every linked customer are read from the MA (1,000 a request)
and sent in the target's own batches (kintone 100, Salesforce 200 a request), charged to its daily
budget: rows past the budget are deferred and the mapping is recorded only once every row went.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import ceil

from connectors.http import chunked
from connectors.state import StateStore
from schemas.mapping import (
    MAPPING_STREAM,
    FieldLink,
    FieldMap,
    fields_to_resync,
    flatten_customer,
    mapping_rows,
    outbound_record,
    values_hash,
)
from schemas.outcomes import RowOutcome
from tasks.load import Destination, StreamReport, complete, record_outcomes
from tasks.writeback import MaCustomers

RESYNC = "customers:resync"
CUSTOMERS = "customers"
MA_BATCH = 1_000
WRITE_BATCH = {"kintone": 100, "salesforce": 200}


@dataclass(frozen=True)
class PendingResync:
    """What a re-sync of one target would send: which fields, to how many linked records, in how many
    write requests."""

    target: str
    fields: tuple[FieldLink, ...]
    records: int
    requests: int

    def describe(self) -> str:
        names = ", ".join(f"{link.ma} → {link.target}" for link in self.fields)
        return (
            f"{self.target}: re-sync {names} to {self.records} linked records in {self.requests} "
            "write request(s), charged to the daily budget"
        )


def pending_resync(
    state: StateStore, fmap: FieldMap, kind: str, only: tuple[str, ...] = ()
) -> PendingResync | None:
    """The re-sync a target needs: the fields ``only`` names, else those changed since last recorded."""
    if only:
        fields = tuple(link for link in fmap.outbound if link.ma in only)
    else:
        fields = fields_to_resync(state.links_of(fmap.target_name, MAPPING_STREAM), fmap)
    if not fields:
        return None
    linked = len(state.links_of(fmap.target_name, CUSTOMERS))
    return PendingResync(fmap.target_name, fields, linked, ceil(linked / WRITE_BATCH.get(kind, 100)))


def resync_fields(
    target: Destination,
    fmap: FieldMap,
    fields: tuple[FieldLink, ...],
    ma: MaCustomers,
    state: StateStore,
    run_id: str,
) -> StreamReport:
    """Send ``fields`` of every linked customer not yet sent them: the re-sync stream's links hold the
    full record's hash, so a re-sync deferred past the budget resumes where it stopped."""
    report = StreamReport(target.name, RESYNC)
    only = replace(fmap, links=fields)
    linked = sorted(state.links_of(fmap.target_name, CUSTOMERS))
    for keys in chunked(linked, MA_BATCH):
        found = ma.bulk_get(emails=keys) if fmap.key_ma == "email" else ma.bulk_get(hashcodes=keys)
        customers = [flatten_customer(c) for c in found]
        full = {str(c[fmap.key_ma]): outbound_record(c, fmap, new=False) for c in customers}
        sent = state.link_hashes(target.name, RESYNC, list(full))
        done = [
            RowOutcome.unchanged(k, sent[k][0])
            for k, r in full.items()
            if sent.get(k, ("", ""))[1] == values_hash(r)
        ]
        skip = {o.key for o in done}
        records = [(str(c[fmap.key_ma]), outbound_record(c, only, new=False)) for c in customers]
        records = [(key, record) for key, record in records if key not in skip]
        outcomes = complete(target.upsert_customers(records), [key for key, _ in records]) if records else []
        record_outcomes(state, run_id, report, full, outcomes, link=True)
        report.add(done)
        if report.deferred:
            break
    return report


def remember_mapping(state: StateStore, fmap: FieldMap) -> None:
    state.save_links(fmap.target_name, MAPPING_STREAM, mapping_rows(fmap))
