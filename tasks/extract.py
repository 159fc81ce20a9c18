"""Extract tasks: which cuts are due, staging one cut whole, committing the staging watermark."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.csv_rows import TypedCsv
from connectors.satori import Cut, SatoriClient
from connectors.staging import FileStats, StagingArea, manifest_document
from connectors.state import Rejection, StateStore
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
from tasks.retry import counted_attempts, retry_when_transient

STAGING = "staging"
CUTS_STREAM = "cuts"
EXTRACT_STREAM = "extract"
log = logging.getLogger("renkei.extract")


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


def quarantine_bad_rows(state: StateStore, cut: str, name: str, typed: TypedCsv, run_id: str) -> None:
    """Rows of an MA file that could not be typed, kept with their cut, line, column and value; a file
    staged again closes the entries of its rows that type now (the MA fixed them)."""
    rows = [
        Rejection(
            f"{cut}/{name}#{bad.line}",
            {"cut": cut, "file": name, "line": bad.line, "column": bad.column, "value": bad.value},
            bad.rule,
            f"{cut} {name} line {bad.line}, column {bad.column or '-'}: {bad.message} ({bad.value!r})",
            bad.column or None,
        )
        for bad in typed.bad
    ]
    stream = f"{EXTRACT_STREAM}:{name}"
    keys = {row.key for row in rows}
    earlier = [r for r in state.quarantined(STAGING) if r.stream == stream and r.key.startswith(f"{cut}/")]
    fixed = [r.id for r in earlier if r.key not in keys]
    if fixed:
        state.resolve_quarantine(fixed, "replayed", "staged again: the row types now")
    state.quarantine_rows(run_id, STAGING, stream, rows)
    if typed.extra:
        log.warning("%s %s: column(s) not in the contract, not staged: %s", cut, name, ", ".join(typed.extra))


def stage_one_cut(spec: Spec, ma: SatoriClient, staging: StagingArea, cut: Cut, run_id: str) -> StagedCut:
    """Every master, action history and changed-customer file of one cut, then its manifest.

    A file whose header breaks its contract stops the cut before its manifest (ContractError); a row
    that cannot be typed is quarantined and the rest of its file is staged.
    """
    folder = cut_path(spec.company, cut.id)
    files: dict[str, FileStats] = {}
    sources = [(master_file(k), MASTER_SCHEMA, ma.stream_masters_csv, k) for k in MASTER_KINDS]
    sources += [(action_file(k), ACTION_SCHEMA, ma.stream_actions_csv, k) for k in ACTION_KINDS]
    with state_store(spec) as state:
        for name, schema, stream, kind in sources:
            typed = TypedCsv(stream(cut.id, kind), schema, f"{cut.id} {name}")
            files[name] = staging.write_typed_csv(f"{folder}/{name}", typed)
            quarantine_bad_rows(state, cut.id, name, typed, run_id)
            if schema is ACTION_SCHEMA:
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


@task(name="find due cuts", task_run_name="find due cuts", cache_policy=NO_CACHE)
@masked_failures
def find_due_cuts(spec: Spec, requested: str | None = None) -> list[Cut]:
    with ma_client(spec) as ma, state_store(spec) as state:
        return due_cuts(ma, state, requested)


@task(
    name="stage cut",
    task_run_name="stage cut {cut.id}",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_when_transient,  # the error policy's: not a refused token, nor a broken file
)
@counted_attempts
@masked_failures
def stage_cut(spec: Spec, cut: Cut, run_id: str) -> StagedCut:
    """Idempotent: a retry rewrites the same files atomically."""
    with ma_client(spec) as ma:
        return stage_one_cut(spec, ma, staging_area(spec), cut, run_id)


@task(name="commit staging watermark", task_run_name="staging watermark {cut.id}", cache_policy=NO_CACHE)
@masked_failures
def commit_staging_watermark(spec: Spec, cut: Cut, run_id: str) -> bool:
    """Only after the cut's manifest is written: the watermark never covers unstaged data."""
    with state_store(spec) as state:
        return state.commit_watermark(STAGING, CUTS_STREAM, cut.id, run_id)
