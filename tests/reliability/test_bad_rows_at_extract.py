"""One bad row never blocks a cut: it is quarantined with its cut, line, column and value.

Before the fix an impossible date (``2026-11-31T25:61``), CP932 bytes or a missing ``event_id`` in
one row failed the whole cut's Arrow conversion; Prefect retried it, nothing was quarantined and the
clean newer cut was never requested. Now the rest of the cut stages, the manifest counts both
(rows in the file = staged + quarantined) and the next cut stages after it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from schemas.staging import JST, MANIFEST_FILE, action_file
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.reliability.conftest import stage_range
from tests.reliability.hostile_ma import CUT_02, CUT_11, HostileMa, hostile_ma

START, END = datetime(2026, 11, 28, 0, 0, tzinfo=JST), datetime(2026, 11, 28, 12, 0, tzinfo=JST)
FORM = action_file("form")


@pytest.fixture()
def ma(tmp_path: Path) -> Iterator[HostileMa]:
    with hostile_ma(tmp_path / "ma") as running:
        yield running


def with_bad_rows(body: bytes) -> bytes:
    """The real file plus three rows that cannot be typed and one clean row after them."""
    header, first = [line for line in body.split(b"\r\n") if line][:2]
    good = next(csv.reader(io.StringIO(first.decode("utf-8"))))
    columns = header.decode().split(",")

    def row(**changes: str) -> bytes:
        values = dict(zip(columns, good, strict=True)) | changes
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(values.values())
        return out.getvalue().encode("utf-8")

    bad_date = row(event_id="900001", occurred_at="2026-11-31T25:61")
    cp932 = row(event_id="900002").replace("資料請求".encode(), "資料請求".encode("cp932"))
    no_id = row(event_id="")
    clean = row(event_id="900004")
    return b"\r\n".join([header, first, bad_date, cp932, no_id, clean]) + b"\r\n"


def test_bad_rows_are_quarantined_and_the_rest_stages(
    prefect_harness: None, ma: HostileMa, tmp_path: Path
) -> None:
    ma.rewrite[(CUT_02, "actions/form")] = with_bad_rows
    spec_path = ma.spec(tmp_path)
    staged = stage_range(str(spec_path), START, END)
    assert [s.cut for s in staged] == [CUT_02, CUT_11]  # the cut never blocks the next one

    folder = tmp_path / "staging" / "acme" / CUT_02
    table = pq.read_table(folder / FORM).to_pylist()
    assert sorted(r["event_id"] for r in table) == ["1", "900004"]
    stats = staged[0].files[FORM]
    assert (stats.rows, stats.quarantined) == (2, 3)  # 5 rows in the file = 2 staged + 3 quarantined
    manifest = (folder / MANIFEST_FILE).read_text(encoding="utf-8")
    assert '"quarantined": 3' in manifest

    state = state_store(load_spec(spec_path))
    assert state.watermark("staging", "cuts") == CUT_11
    entries = {q.payload["line"]: q for q in state.quarantined("staging")}
    assert sorted(entries) == [3, 4, 5]
    assert {k: (e.payload["cut"], e.field, e.code) for k, e in entries.items()} == {
        3: (CUT_02, "occurred_at", "invalid_value"),
        4: (CUT_02, "master_name", "invalid_utf8"),
        5: (CUT_02, "event_id", "missing_value"),
    }
    assert entries[3].payload["value"] == "2026-11-31T25:61"
    assert entries[4].payload["value"].startswith("\\x8e")  # the raw bytes, shown escaped
    assert all(CUT_02 in e.reason and "line" in e.reason for e in entries.values())

    stage_range(str(spec_path), START, END)  # staged again: the same rows, the same entries (no twins)
    assert len(state.quarantined("staging")) == 3

    ma.rewrite.clear()  # the MA fixes the file: staging the cut again closes the entries
    stage_range(str(spec_path), START, END)
    assert state.quarantined("staging") == []
    assert len(state.quarantined("staging", status="replayed")) == 3
