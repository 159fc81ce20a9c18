"""Extract tasks: which cuts are due, staging one cut whole, committing the staging watermark."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.satori import Cut, SatoriClient
from connectors.staging import FileStats, StagingArea, manifest_document
from connectors.state import StateStore
from schemas.catalog import lookup_field
from schemas.spec import ACTION_KINDS, MASTER_KINDS, Spec
from schemas.staging import (
    ACTION_SCHEMA,
    CUSTOMERS_FILE,
    IDENTITY_COLUMNS,
    MANIFEST_FILE,
    MASTER_SCHEMA,
    action_file,
    customer_row,
    customer_schema,
    cut_path,
    master_file,
    parse_cut,
)
from tasks.clients import ma_client, staging_area, state_store
from tasks.pause import pause_point
from tasks.redact import masked_failures

STAGING = "staging"
CUTS_STREAM = "cuts"


@dataclass(frozen=True)
class StagedCut:
    cut: str
    files: dict[str, FileStats]
    folder: str

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"cut": self.cut, "file": name, "rows": s.rows, "sha256": s.sha256[:12]}
            for name, s in self.files.items()
        ]


def due_cuts(ma: SatoriClient, state: StateStore, requested: str | None = None) -> list[Cut]:
    """The requested cut, or every visible cut after the staging watermark (the newest one when none)."""
    if requested is not None:
        at = parse_cut(requested)
        cuts = [c for c in ma.list_cuts(since=at, until=at) if c.id == requested]
        if not cuts:
            raise ValueError(f"cut {requested} does not exist or is not generated yet")
        return cuts
    mark = state.watermark(STAGING, CUTS_STREAM)
    if mark is None:
        return ma.list_cuts()[-1:]
    return [c for c in ma.list_cuts(since=parse_cut(mark)) if c.id > mark]


def cuts_between(ma: SatoriClient, start: datetime, end: datetime) -> list[Cut]:
    return ma.list_cuts(since=start, until=end)


def readable_fields(spec: Spec) -> pa.Schema:
    """The customers table of this spec: identity columns and every readable field."""
    custom = spec.custom_specs()
    names = [
        *IDENTITY_COLUMNS,
        *(n for n in spec.fields if spec.direction(n).reads and n not in IDENTITY_COLUMNS),
    ]
    return customer_schema([f for f in (lookup_field(n, custom) for n in names) if f is not None])


def changed_customers(ma: SatoriClient, cut: Cut, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Customers updated in [previous, at), by customer id, each once: one record batch per page."""
    window = [
        {"field": "updated_at", "op": "range", "from": cut.previous.isoformat(), "to": cut.at.isoformat()}
    ]
    for page in ma.iter_search(window, order="customer_id"):
        rows = [customer_row(c, schema) for c in page]
        rows = [r for r in rows if r["updated_at"] is None or r["updated_at"] < cut.at]
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


def stage_one_cut(spec: Spec, ma: SatoriClient, staging: StagingArea, cut: Cut, run_id: str) -> StagedCut:
    """Every master, action history and changed-customer file of one cut, then its manifest."""
    folder = cut_path(spec.company, cut.id)
    files: dict[str, FileStats] = {}
    for kind in MASTER_KINDS:
        name = master_file(kind)
        files[name] = staging.write_csv_stream(
            f"{folder}/{name}", MASTER_SCHEMA, ma.stream_masters_csv(cut.id, kind)
        )
    for kind in ACTION_KINDS:
        name = action_file(kind)
        files[name] = staging.write_csv_stream(
            f"{folder}/{name}", ACTION_SCHEMA, ma.stream_actions_csv(cut.id, kind)
        )
        pause_point("stage-file")
    schema = readable_fields(spec)
    files[CUSTOMERS_FILE] = staging.write_batches(
        f"{folder}/{CUSTOMERS_FILE}", schema, changed_customers(ma, cut, schema)
    )
    window = (cut.previous.isoformat(), cut.at.isoformat())
    staging.write_json(
        f"{folder}/{MANIFEST_FILE}", manifest_document(spec.company, cut.id, window, run_id, files)
    )
    return StagedCut(cut.id, files, staging.uri(folder))


@task(name="find due cuts", cache_policy=NO_CACHE)
@masked_failures
def find_due_cuts(spec: Spec, requested: str | None = None) -> list[Cut]:
    with ma_client(spec) as ma:
        return due_cuts(ma, state_store(spec), requested)


@task(name="stage cut", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
@masked_failures
def stage_cut(spec: Spec, cut: Cut, run_id: str) -> StagedCut:
    """Idempotent: a retry rewrites the same files atomically."""
    with ma_client(spec) as ma:
        return stage_one_cut(spec, ma, staging_area(spec), cut, run_id)


@task(name="commit staging watermark", cache_policy=NO_CACHE)
@masked_failures
def commit_staging_watermark(spec: Spec, cut: Cut, run_id: str) -> bool:
    """Only after the cut's manifest is written: the watermark never covers unstaged data."""
    return state_store(spec).commit_watermark(STAGING, CUTS_STREAM, cut.id, run_id)
