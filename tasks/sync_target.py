"""One target's part of a sync: staged cuts out to the target, then its changes back into the MA.

Outbound reads every staged cut after the target's watermark, in order, and moves the watermark past
a cut only when nothing of it was deferred. A target without a watermark starts with a full snapshot
of the MA's readable customers, then receives the action histories of every staged cut. Inbound reads
the target's records changed since its watermark minus the spec's overlap (those unchanged since the
write-back last took them in are skipped), and moves that watermark only after the MA has the data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.http import chunked
from connectors.satori import SatoriClient
from connectors.staging import StagingArea
from connectors.state import StateStore
from schemas.actions import action_fields, master_fields
from schemas.mapping import FieldMap, TargetRecord, field_map
from schemas.outcomes import RowOutcome
from schemas.spec import Spec, Target
from schemas.staging import (
    CUSTOMERS_FILE,
    CUT_ID,
    MANIFEST_FILE,
    action_file,
    customer_row,
    cut_path,
    master_file,
)
from schemas.writeback import latest_by_id, newest_modification
from tasks.extract import readable_fields
from tasks.load import (
    FIRST_ERRORS,
    ChangeSource,
    Destination,
    StreamReport,
    announce,
    load_customers,
    load_keyed,
    record_outcomes,
)
from tasks.pause import pause_point
from tasks.resync import pending_resync, remember_mapping, resync_fields
from tasks.writeback import INBOUND, MaCustomers, taken_in, write_back

OUTBOUND = "outbound"
SNAPSHOT = "snapshot"


def format_mark(moment: datetime) -> str:
    """A watermark instant as fixed-width UTC text, so text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def staged_cuts(staging: StagingArea, company: str) -> list[str]:
    """Cut folders that are whole (their manifest is written), oldest first."""
    base = staging.full(company)
    if not staging.fs.exists(base):
        return []
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in staging.fs.ls(base, detail=False)]
    cuts = [n for n in names if CUT_ID.match(n)]  # not _plans/, nor a folder someone else put there
    return sorted(n for n in cuts if staging.exists(f"{cut_path(company, n)}/{MANIFEST_FILE}"))


def parquet_batches(staging: StagingArea, relative: str, rows: int) -> Iterator[list[dict[str, Any]]]:
    """A staged file ``rows`` at a time (the destination's batch size)."""
    for batch in staging.parquet(relative).iter_batches(batch_size=rows):
        yield batch.to_pylist()


def snapshot_batches(ma: SatoriClient, spec: Spec, rows: int) -> Iterator[list[dict[str, Any]]]:
    """Every MA customer with the spec's readable fields, ``rows`` at a time: a new target's first load."""
    schema = readable_fields(spec)
    customers = (customer_row(c, schema) for page in ma.iter_search([], order="customer_id") for c in page)
    yield from chunked(customers, rows)


def sync_outbound(
    spec: Spec,
    target: Target,
    adapter: Destination,
    ma: SatoriClient,
    staging: StagingArea,
    state: StateStore,
    run_id: str,
    resend: Sequence[str] = (),
) -> list[StreamReport]:
    """Customers and action histories of every pending cut into the target.

    ``resend`` (a backfill) names cuts at or before the watermark whose action histories are sent
    again: rows the target already holds are counted unchanged, the rest fill it. Their customer
    files are not: they hold older values than the target was last sent.
    """
    fmap = field_map(spec, target)
    mark = state.watermark(target.name, OUTBOUND)
    cuts = staged_cuts(staging, spec.company)
    reports: list[StreamReport] = []
    integration = spec.ma.access == "integration"  # public: no search to re-read or snapshot the MA
    pending = pending_resync(state, fmap, target.kind) if mark is not None and integration else None
    if pending is not None:  # a mapping change reaches every linked record first
        reports.append(resync_fields(adapter, fmap, pending.fields, ma, state, run_id))
        if reports[-1].deferred:
            return reports
    for cut in (c for c in resend if mark is not None and c <= mark and c in cuts):
        reports += load_cut(spec, target, adapter, fmap, staging, state, run_id, cut, customers=False)
    snapshot_taken = mark is None and bool(cuts) and integration
    if snapshot_taken:
        snapshot = load_customers(
            adapter, fmap, snapshot_batches(ma, spec, adapter.batch_rows), state, run_id
        )
        snapshot.stream = f"customers:{SNAPSHOT}"
        announce(snapshot)
        reports.append(snapshot)
        if snapshot.deferred:
            return reports
    if mark is not None or snapshot_taken:
        remember_mapping(state, fmap)
    for cut in (c for c in cuts if mark is None or c > mark):
        # the snapshot already holds every customer as it is now: an older cut's file would send
        # stale values, so only the action histories of the cuts staged before it are loaded
        cut_reports = load_cut(
            spec, target, adapter, fmap, staging, state, run_id, cut, customers=not snapshot_taken
        )
        reports += cut_reports
        if any(r.deferred for r in cut_reports):
            break
        pause_point("cut-loaded")
        state.commit_watermark(target.name, OUTBOUND, cut, run_id)
        mark = cut
    return _merge(reports)


def load_cut(
    spec: Spec,
    target: Target,
    adapter: Destination,
    fmap: FieldMap,
    staging: StagingArea,
    state: StateStore,
    run_id: str,
    cut: str,
    *,
    customers: bool,
) -> list[StreamReport]:
    """One staged cut into the target: its changed customers (when asked), masters, action histories."""
    folder = cut_path(spec.company, cut)
    reports = []
    if customers:
        batches = parquet_batches(staging, f"{folder}/{CUSTOMERS_FILE}", adapter.batch_rows)
        reports.append(load_customers(adapter, fmap, batches, state, run_id))
        announce(reports[-1])
    for kind, master in target.masters.items():  # masters first: action rows name them
        batches = parquet_batches(staging, f"{folder}/{master_file(kind)}", adapter.batch_rows)
        fields = master_fields(target.kind, master)
        reports.append(load_keyed(adapter, "masters", kind, fields, batches, state, run_id))
        announce(reports[-1])
    for kind, action in target.actions.items():
        fields = action_fields(target.kind, action)
        batches = parquet_batches(staging, f"{folder}/{action_file(kind)}", adapter.batch_rows)
        reports.append(load_keyed(adapter, "actions", kind, fields, batches, state, run_id))
        announce(reports[-1])
    return reports


def sync_inbound(
    spec: Spec,
    target: Target,
    adapter: ChangeSource,
    ma: MaCustomers,
    state: StateStore,
    run_id: str,
) -> StreamReport:
    """The target's Writable fields changed since the watermark (minus the overlap) into the MA."""
    mark = state.watermark(target.name, INBOUND)
    since = datetime.fromisoformat(mark) - timedelta(minutes=target.overlap_minutes) if mark else None
    records = latest_by_id(adapter.changed_records(since))
    refused = adapter.read_rejections()
    withheld = {o.key for o in refused}
    # a record read as the write-back last took it in brings nothing new (the overlap re-reads every
    # record the last runs wrote): skipped on an incremental read, whose adapter guards emails across
    # the whole target; a full read (no watermark) goes whole through the write-back's own guard
    seen = taken_in(state, target.name, records) - withheld if since is not None else set()
    fresh = [r for r in records if r.id not in seen and r.id not in withheld]
    report = write_back_records(spec, target, fresh, ma, state, run_id)
    report.add([RowOutcome.unchanged(record_id) for record_id in sorted(seen)])
    record_outcomes(state, run_id, report, {}, refused, link=False)
    announce(report)
    newest = newest_modification(records)
    if newest is not None and not report.deferred:
        state.commit_watermark(target.name, INBOUND, format_mark(newest), run_id)
    return report


def write_back_records(
    spec: Spec, target: Target, records: list[TargetRecord], ma: MaCustomers, state: StateStore, run_id: str
) -> StreamReport:
    """``records`` of one target into the MA by the spec's map (sync and replay share this)."""
    fmap = field_map(spec, target)
    custom = spec.custom_specs()
    return write_back(
        records, fmap, fmap.email_target, custom, ma, state, run_id, create_missing=target.creates_customers
    )


def _merge(reports: list[StreamReport]) -> list[StreamReport]:
    """One report per stream across cuts."""
    merged: dict[str, StreamReport] = {}
    for report in reports:
        into = merged.setdefault(report.stream, StreamReport(report.target, report.stream))
        into.counts = into.counts + report.counts
        into.errors = (into.errors + report.errors)[:FIRST_ERRORS]
        into.rejected_keys |= report.rejected_keys
    return list(merged.values())
