"""Replaying quarantined rows once the source or the spec is fixed; dismissing them, audited.

Outbound customers are re-read from the MA (a fixed source is what gets sent), action histories
are re-sent as staged, inbound records are re-read from the target. A row that loads is marked
``replayed``; one that is rejected again gets a fresh open entry with the new reason.
"""

from __future__ import annotations

import getpass
from collections import defaultdict
from dataclasses import dataclass, field

from connectors.state import QuarantinedRow, StateStore
from schemas.mapping import field_map
from schemas.outcomes import Counts, RowOutcome
from schemas.spec import Spec, Target
from schemas.staging import customer_row
from schemas.writeback import latest_by_id
from tasks.extract import readable_fields
from tasks.load import (
    ChangeSource,
    Destination,
    StreamReport,
    as_destination,
    as_source,
    complete,
    load_customers,
    record_outcomes,
)
from tasks.sync_target import write_back_records
from tasks.writeback import MaCustomers


@dataclass
class ReplayResult:
    replayed: int = 0
    still_rejected: int = 0
    dismissed: int = 0
    counts: dict[str, Counts] = field(default_factory=dict)


def replay_rows(
    spec: Spec,
    target: Target,
    adapter: Destination | ChangeSource,
    ma: MaCustomers,
    state: StateStore,
    rows: list[QuarantinedRow],
    run_id: str,
) -> ReplayResult:
    """Send the rows of one target again, stream by stream."""
    fmap = field_map(spec, target)
    by_stream: dict[str, list[QuarantinedRow]] = defaultdict(list)
    for row in rows:
        by_stream[row.stream].append(row)
    result = ReplayResult()
    for stream, entries in by_stream.items():
        keys = [e.key for e in entries]
        if stream.startswith("customers"):
            found = ma.bulk_get(emails=keys) if fmap.key_ma == "email" else ma.bulk_get(hashcodes=keys)
            schema = readable_fields(spec)
            report = load_customers(
                as_destination(adapter), fmap, [[customer_row(c, schema) for c in found]], state, run_id
            )
            gone = [
                RowOutcome.rejected(k, "not_in_ma", "no longer in the MA")
                for k in set(keys) - {str(c.get(fmap.key_ma)) for c in found}
            ]
            report.add(gone)
        elif stream.startswith(("actions:", "masters:")):
            family, kind = stream.split(":", 1)
            destination = as_destination(adapter)
            upsert = destination.upsert_actions if family == "actions" else destination.upsert_masters
            report = StreamReport(target.name, stream)
            sent = {e.key: e.payload for e in entries}
            outcomes = complete(upsert(kind, list(sent.items())), sent)
            record_outcomes(state, run_id, report, sent, outcomes, link=False)
        else:
            wanted = set(keys)
            records = [r for r in latest_by_id(as_source(adapter).changed_records(None)) if r.id in wanted]
            report = write_back_records(spec, target, records, ma, state, run_id)
        result.counts[stream] = report.counts
        done = [e.id for e in entries if e.key not in report.rejected_keys]
        result.replayed += state.resolve_quarantine(done, "replayed", f"replayed in run {run_id}")
        result.still_rejected += len(entries) - len(done)
    return result


def dismiss_rows(state: StateStore, rows: list[QuarantinedRow], note: str | None) -> int:
    """Close rows nobody will fix; who and why are kept with them."""
    who = getpass.getuser()
    return state.resolve_quarantine(
        [r.id for r in rows], "dismissed", f"dismissed by {who}: {note or 'no reason given'}"
    )
