"""`renkei plan`: what a sync would change, per target, record and field, without changing anything."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
from prefect import flow, runtime
from prefect.artifacts import create_markdown_artifact

from flows.extract import stage_due_cuts
from flows.names import artifact_key, timed
from schemas import clock
from schemas.mapping import field_map
from schemas.messages import Language
from schemas.validate import load_spec
from schemas.workbook import plan_xlsx
from tasks.clients import ma_client, staging_area, state_store
from tasks.load import TwoWay, as_source
from tasks.ma_catalog import run_spec
from tasks.plan import PlanBook, PlannedChange, PlannedMA, PlannedTarget, ReadOnlyState
from tasks.public_ma import ma_customers
from tasks.resync import pending_resync
from tasks.sync_target import OUTBOUND, sync_inbound, sync_outbound
from tasks.targets import adapter_for

PLAN_SCHEMA = pa.schema([(name, pa.string()) for name in PlannedChange.__dataclass_fields__])


@dataclass(frozen=True)
class PlanResult:
    changes: str  # the Parquet file with one row per record and field
    summary: str  # the readable summary (markdown)
    counts: dict[str, dict[str, int]]  # target/direction → action → records
    differences: tuple[str, ...] = ()  # where the spec differs from the MA's field catalog
    resyncs: tuple[str, ...] = ()  # mapping changes a sync sends to every linked record first


def write_plan_workbook(result: PlanResult, path: Path, language: Language) -> int:
    """The plan's per-record changes as an Excel workbook at ``path`` (pandas reads its Parquet); rows."""
    changes = pd.read_parquet(result.changes)
    path.write_bytes(plan_xlsx(changes, language))
    return len(changes)


def summarise(book: PlanBook) -> dict[str, dict[str, int]]:
    keys: dict[str, dict[str, set[str]]] = {}
    for change in book.changes:
        keys.setdefault(f"{change.target} {change.direction}", {}).setdefault(change.action, set()).add(
            change.key
        )
    return {
        where: {action: len(found) for action, found in actions.items()} for where, actions in keys.items()
    }


def summary_markdown(
    company: str,
    counts: dict[str, dict[str, int]],
    book: PlanBook,
    differences: list[str],
    resyncs: list[str],
) -> str:
    lines = [f"# Plan for {company} (dry run: nothing was changed)", ""]
    if resyncs:
        lines += ["## First: mapping changes re-synced to every linked record", ""]
        lines += [f"- {r}" for r in resyncs] + [""]
    if differences:
        lines += ["## The spec differs from the MA's field catalog (the run follows the MA)", ""]
        lines += [f"- {d}" for d in differences] + [""]
    lines += [
        "| where | create | update | reject |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {w} | {a.get('create', 0)} | {a.get('update', 0)} | {a.get('reject', 0)} |"
        for w, a in counts.items()
    ]
    lines += ["", "## First changes", ""]
    lines += [
        f"- {c.target} {c.direction} {c.key}: {c.action} {c.field} {c.before!r} → {c.after!r}"
        + (f" ({c.reason})" if c.reason else "")
        for c in book.changes[:50]
    ]
    return "\n".join(lines)


@flow(name="plan", flow_run_name=timed("plan"), log_prints=True)
def plan(spec_path: str, targets: list[str] | None = None) -> PlanResult:
    """Dry run of the sync over the same code path: records every write it would make, sends none.

    Args:
        spec_path: The integration spec (連携要件連絡書) on the machine that runs the flow.
        targets: Only these target names; every target when empty.
    """
    spec, _, differences = run_spec(load_spec(spec_path))
    run_id = str(runtime.flow_run.get_id() or f"plan-{clock.now().strftime('%Y%m%dT%H%M%S%f')}")
    stage_due_cuts(spec, run_id)
    book = PlanBook()
    state = ReadOnlyState(state_store(spec), book)
    staging = staging_area(spec)
    chosen = [t for t in spec.targets if (not targets or t.name in targets) and t.is_destination]
    resyncs = [
        pending.describe()
        for t in chosen
        if state.watermark(t.name, OUTBOUND) is not None
        and (pending := pending_resync(state, field_map(spec, t), t.kind)) is not None
    ]
    for target in (t for t in spec.targets if not targets or t.name in targets):
        real = adapter_for(spec, target)
        try:
            with ma_client(spec) as ma, ma_customers(spec) as writes:
                if isinstance(real, TwoWay):
                    planned = PlannedTarget(real, field_map(spec, target).key_target, book)
                    sync_outbound(spec, target, planned, ma, staging, state, run_id)
                if any(spec.direction(f).writes for f in target.map):
                    dry_ma = PlannedMA(writes, target.name, book)
                    sync_inbound(spec, target, as_source(real), dry_ma, state, run_id)
        finally:
            real.close()
    stamp = clock.now().astimezone(ZoneInfo(spec.timezone)).strftime("%Y%m%dT%H%M%S%z")
    folder = f"{spec.company}/_plans/{stamp}"
    table = pa.Table.from_pylist([asdict(c) for c in book.changes], schema=PLAN_SCHEMA)
    staging.write_batches(f"{folder}/changes.parquet", PLAN_SCHEMA, table.to_batches())
    counts = summarise(book)
    text = summary_markdown(spec.company, counts, book, differences, resyncs)
    with staging.fs.open(staging.full(f"{folder}/summary.md"), "w", encoding="utf-8") as out:
        out.write(text)
    create_markdown_artifact(
        text, key=artifact_key(spec.company, "plan"), description="Dry run: what a sync would change"
    )
    return PlanResult(
        staging.uri(f"{folder}/changes.parquet"),
        staging.uri(f"{folder}/summary.md"),
        counts,
        tuple(differences),
        tuple(resyncs),
    )
