"""Reading the MA without the option (``ma.access: public``): the admin screen's customer exports.

Each cut picks up the export files dropped since the last one, checks each header against the
catalog the spec knows, types the rows to the same customers.parquet contract the integration API's
extract stages (a row that cannot be typed is quarantined with its file, line and column), writes the
cut's manifest, moves the staging watermark, and only then archives the files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.csv_rows import BadRow, ContractError
from connectors.ma_exports import ExportFolder
from connectors.staging import manifest_document
from schemas.catalog import CustomFieldSpec, lookup_field
from schemas.clock import now
from schemas.email import normalise_email
from schemas.ma_export import HeaderProblem, ValueProblem, read_header, typed
from schemas.spec import Spec
from schemas.staging import (
    CUSTOMERS_FILE,
    MANIFEST_FILE,
    customer_schema,
    cut_path,
    format_cut,
    parse_cut,
)
from tasks.clients import staging_area, state_store
from tasks.extract import CUTS_STREAM, STAGING, StagedCut, quarantine_bad_rows, readable_fields
from tasks.redact import masked_failures

BATCH_ROWS = 1_000


@dataclass
class ExportRows:
    """What one file left out: rows that could not be typed (an export's columns the spec does not
    read are expected, not reported)."""

    bad: list[BadRow] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def export_batches(
    text: str,
    name: str,
    schema: pa.Schema,
    required: list[str],
    custom: dict[str, CustomFieldSpec],
    zone: ZoneInfo,
    out: ExportRows,
) -> Iterator[pa.RecordBatch]:
    """The rows of one export as record batches of ``schema``; a header that breaks the contract (a
    column outside the catalog, a ``required`` one missing) raises ContractError naming the file and
    the column before any row is staged."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return
    columns, problems = read_header(header, custom)
    position = {f.name: i for i, f in enumerate(columns) if f is not None}
    for missing in (n for n in required if n not in position):
        known = lookup_field(missing, custom)
        label = known.label if known else missing
        problems.append(_missing(label, missing))
    if problems:
        said = "; ".join(f"column {p.column}: {p.message}" for p in problems)
        raise ContractError(
            f"{name}: {said} — the export does not match the spec's catalog: nothing of it staged"
        )
    fields = [(n, position.get(n), lookup_field(n, custom)) for n in schema.names]
    rows: list[dict[str, Any]] = []
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            out.bad.append(
                BadRow(
                    line,
                    "",
                    ",".join(cells)[:200],
                    "wrong_column_count",
                    f"{len(cells)} values, the header has {len(header)}",
                )
            )
            continue
        row = _row(cells, fields, zone, line, out)
        if row is not None:
            rows.append(row)
        if len(rows) >= BATCH_ROWS:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


def _missing(label: str, name: str) -> HeaderProblem:
    return HeaderProblem(label, "missing_export_column", f"the spec reads {name}: export it with this column")


def _row(
    cells: list[str], fields: list[tuple[str, int | None, Any]], zone: ZoneInfo, line: int, out: ExportRows
) -> dict[str, Any] | None:
    row: dict[str, Any] = {}
    for name, index, fdef in fields:
        text = "" if index is None else cells[index]
        try:
            value = typed(fdef, text, zone)
            if name == "email" and value is not None:
                checked = normalise_email(value)
                if checked.problem is not None:
                    raise ValueProblem(checked.problem.rule, checked.problem.message)
                value = checked.value
        except ValueProblem as exc:
            out.bad.append(BadRow(line, name, text, exc.rule, str(exc)))
            return None
        if value is None and name in ("customer_id", "updated_at"):  # the admin screen always fills them
            out.bad.append(BadRow(line, name, text, "missing_value", "a value is required"))
            return None
        row[name] = value
    return row


def export_schema(spec: Spec) -> pa.Schema:
    """The staged customers: the extract's contract (identity and readable fields, required in the
    header), then the Writable fields an export shows — a write-back compares with them, as the
    integration API's bulk get lets it, so a rerun writes nothing twice."""
    custom, base = spec.custom_specs(), readable_fields(spec).names
    names = [*base, *(n for n in spec.fields if spec.direction(n).writes and n not in base)]
    return customer_schema([f for f in (lookup_field(n, custom) for n in names) if f is not None])


def next_cut_id(mark: str | None) -> str:
    """This minute as a cut id, after the staging watermark (two pick-ups in one minute stay in order)."""
    at = now()
    if mark is not None and format_cut(at) <= mark:
        at = parse_cut(mark) + timedelta(minutes=1)
    return format_cut(at)


def stage_exports(spec: Spec, run_id: str) -> list[StagedCut]:
    """The export files dropped since the last cut, staged as one cut; none when no file waits."""
    if not spec.ma.exports:
        return []
    folder = ExportFolder(spec.ma.exports, spec.ma.exports_archive)
    files = folder.pending()
    if not files:
        return []
    state, staging = state_store(spec), staging_area(spec)
    mark = state.watermark(STAGING, CUTS_STREAM)
    cut = next_cut_id(mark)
    schema, custom, zone = export_schema(spec), spec.custom_specs(), ZoneInfo(spec.timezone)
    required = readable_fields(spec).names
    left_out = [ExportRows() for _ in files]

    def batches() -> Iterator[pa.RecordBatch]:
        for file, out in zip(files, left_out, strict=True):
            text = folder.read_text(file)
            yield from export_batches(text, file.name, schema, required, custom, zone, out)

    path = cut_path(spec.company, cut)
    stats = staging.write_batches(f"{path}/{CUSTOMERS_FILE}", schema, batches())
    stats = replace(stats, quarantined=sum(len(out.bad) for out in left_out))
    for file, out in zip(files, left_out, strict=True):
        quarantine_bad_rows(state, cut, file.name, out, run_id)
    window = (parse_cut(mark).isoformat() if mark else parse_cut(cut).isoformat(), parse_cut(cut).isoformat())
    files_doc = {CUSTOMERS_FILE: stats}
    staging.write_json(
        f"{path}/{MANIFEST_FILE}", manifest_document(spec.company, cut, window, run_id, files_doc)
    )
    state.commit_watermark(STAGING, CUTS_STREAM, cut, run_id)
    for file in files:  # only now: a crash before this leaves the files to be picked up again
        folder.archive_file(file, cut)
    return [StagedCut(cut, files_doc, staging.uri(path))]


@task(name="stage exports", task_run_name="stage the MA's customer exports", cache_policy=NO_CACHE)
@masked_failures
def stage_exports_task(spec: Spec, run_id: str) -> list[StagedCut]:
    return stage_exports(spec, run_id)
