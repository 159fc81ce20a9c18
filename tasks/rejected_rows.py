"""The rejected-rows table beyond the quarantine: where each target keeps a person, and record ids."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from connectors.state import QuarantinedRow, StateStore
from schemas.rejected import RowContext, person_fields
from schemas.spec import Spec
from tasks.writeback import INBOUND


def row_context(spec: Spec, store: StateStore, rows: Iterable[QuarantinedRow]) -> RowContext:
    """Per target where the person's fields are; per row the target's record id where one is known.

    A write-back row is keyed by the target's record id already; a row sent out is found in the
    links of what was loaded before (a record refused on its first send has no id yet)."""
    record_ids: dict[tuple[str, str, str], str] = {}
    outbound: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        if row.stream == INBOUND:
            record_ids[(row.target, row.stream, row.key)] = row.key
        else:
            outbound[(row.target, row.stream)].append(row.key)
    for (target, stream), keys in outbound.items():
        for key, (target_id, _) in store.link_hashes(target, stream, keys).items():
            if target_id:
                record_ids[(target, stream, key)] = target_id
    return RowContext(person_fields(spec), record_ids)
