"""An MA file is checked against its column contract before it is staged.

Before the fix an action CSV whose ``occurred_at`` column was renamed ``occurredAt`` was staged with
that column empty in every row: extract exited 0, the manifest was written and the staging watermark
moved past the cut for good. Now the file fails with an error naming both columns, the cut gets no
manifest and the watermark stays before it; once the MA serves the file right, the cut stages.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from connectors.csv_rows import ContractError
from schemas.staging import JST, MANIFEST_FILE, action_file
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.reliability.conftest import stage_range
from tests.reliability.hostile_ma import CUT_02, CUT_11, HostileMa, hostile_ma

START, END = datetime(2026, 11, 28, 0, 0, tzinfo=JST), datetime(2026, 11, 28, 12, 0, tzinfo=JST)


@pytest.fixture()
def ma(tmp_path: Path) -> Iterator[HostileMa]:
    with hostile_ma(tmp_path / "ma") as running:
        yield running


def rename_header(old: str, new: str) -> object:
    def change(body: bytes) -> bytes:
        header, rest = body.split(b"\r\n", 1)
        return header.replace(old.encode(), new.encode()) + b"\r\n" + rest

    return change


def add_column(name: str, value: str) -> object:
    def change(body: bytes) -> bytes:
        header, rest = body.split(b"\r\n", 1)
        lines = [line + f",{value}".encode() for line in rest.split(b"\r\n") if line]
        return b"\r\n".join([header + f",{name}".encode(), *lines]) + b"\r\n"

    return change


def test_a_renamed_column_fails_the_file_and_holds_the_watermark(
    prefect_harness: None, ma: HostileMa, tmp_path: Path
) -> None:
    ma.rewrite[(CUT_02, "actions/form")] = rename_header("occurred_at", "occurredAt")  # type: ignore[assignment]
    spec_path = ma.spec(tmp_path)
    with pytest.raises(ContractError) as raised:
        stage_range(str(spec_path), START, END)
    message = str(raised.value)
    assert "occurred_at" in message and "occurredAt" in message and CUT_02 in message
    assert "actions/form.parquet" in message
    staging = tmp_path / "staging" / "acme"
    assert not (staging / CUT_02 / MANIFEST_FILE).exists()
    assert not (staging / CUT_11 / MANIFEST_FILE).exists()  # a later cut never jumps the broken one
    state = state_store(load_spec(spec_path))
    assert state.watermark("staging", "cuts") is None

    ma.rewrite.clear()  # the MA fixes its export: the next run stages the cut whole
    staged = stage_range(str(spec_path), START, END)
    assert [s.cut for s in staged] == [CUT_02, CUT_11]
    rows = pq.read_table(staging / CUT_02 / action_file("form")).to_pylist()
    assert rows and all(r["occurred_at"] is not None for r in rows)
    assert state.watermark("staging", "cuts") == CUT_11


def test_a_missing_column_is_named_and_extra_columns_are_not_staged(
    prefect_harness: None, ma: HostileMa, tmp_path: Path
) -> None:
    ma.rewrite[(CUT_11, "actions/form")] = rename_header(",recorded_at", "")  # type: ignore[assignment]
    spec_path = ma.spec(tmp_path)
    with pytest.raises(ContractError, match=r"column\(s\) recorded_at missing"):
        stage_range(str(spec_path), START, END)
    state = state_store(load_spec(spec_path))
    assert state.watermark("staging", "cuts") == CUT_02  # the good cut before it is staged and counted
    assert not (tmp_path / "staging" / "acme" / CUT_11 / MANIFEST_FILE).exists()

    ma.rewrite[(CUT_11, "actions/form")] = add_column("campaign_note", "秋の展示会")  # type: ignore[assignment]
    staged = stage_range(str(spec_path), START, END)  # an extra column: staged without it, reported
    assert [s.cut for s in staged][-1] == CUT_11
    table = pq.read_table(tmp_path / "staging" / "acme" / CUT_11 / action_file("form"))
    assert "campaign_note" not in table.schema.names and table.num_rows == 1
