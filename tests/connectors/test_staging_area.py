"""The staging area: typed streaming CSV → Parquet, determinism, atomicity, fsspec roots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from connectors.staging import ROW_GROUP_ROWS, StagingArea
from schemas.staging import ACTION_SCHEMA

HEADER = (
    b"event_id,kind,customer_id,hashcode,email,master_id,master_name,event_type,occurred_at,recorded_at,url\n"
)


def csv_rows(count: int, chunk_bytes: int) -> Iterator[bytes]:
    body = b"".join(
        f"{i:010d},form,{i % 7},h{i % 7},u{i % 7}@example.co.jp,f1,資料請求フォーム,submitted,"
        f"2026-11-27T23:59:59+09:00,2026-11-28T00:00:01+09:00,\n".encode()
        for i in range(count)
    )
    data = HEADER + body
    for start in range(0, len(data), chunk_bytes):
        yield data[start : start + chunk_bytes]


def test_typed_timezone_aware_columns(tmp_path: Path) -> None:
    staging = StagingArea(str(tmp_path))
    stats = staging.write_csv_stream("acme/c/actions/form.parquet", ACTION_SCHEMA, csv_rows(3, 50))
    table = pq.read_table(tmp_path / "acme/c/actions/form.parquet")
    assert stats.rows == 3 and table.schema.equals(ACTION_SCHEMA, check_metadata=False)
    first = table.to_pylist()[0]
    assert first["master_name"] == "資料請求フォーム" and first["url"] is None
    assert first["occurred_at"].utcoffset().total_seconds() == 9 * 3600


def test_same_rows_give_the_same_bytes_whatever_the_chunking(tmp_path: Path) -> None:
    staging = StagingArea(str(tmp_path))
    rows = ROW_GROUP_ROWS + 1000  # more than one row group
    a = staging.write_csv_stream("a.parquet", ACTION_SCHEMA, csv_rows(rows, 1 << 16))
    b = staging.write_csv_stream("b.parquet", ACTION_SCHEMA, csv_rows(rows, 777))
    assert a.rows == b.rows == rows
    assert a.sha256 == b.sha256 == staging.sha256("a.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert pq.ParquetFile(tmp_path / "a.parquet").metadata.num_row_groups == 2


def test_empty_stream_still_writes_a_typed_empty_file(tmp_path: Path) -> None:
    staging = StagingArea(str(tmp_path))
    for name, chunks in (("none.parquet", iter([])), ("header.parquet", iter([HEADER]))):
        assert staging.write_csv_stream(name, ACTION_SCHEMA, chunks).rows == 0
        assert pq.read_table(tmp_path / name).schema.names == ACTION_SCHEMA.names


def test_a_failed_write_leaves_no_file_behind(tmp_path: Path) -> None:
    staging = StagingArea(str(tmp_path))

    def broken() -> Iterator[bytes]:
        yield from csv_rows(5, 100)
        raise ConnectionError("stream cut")

    with pytest.raises(ConnectionError):
        staging.write_csv_stream("acme/broken.parquet", ACTION_SCHEMA, broken())
    assert list((tmp_path / "acme").iterdir()) == []


def test_fsspec_memory_root() -> None:
    staging = StagingArea("memory://renkei-test")
    stats = staging.write_csv_stream("acme/x.parquet", ACTION_SCHEMA, csv_rows(10, 64))
    staging.write_json("acme/manifest.json", {"rows": stats.rows})
    assert staging.read_json("acme/manifest.json") == {"rows": 10}
    assert staging.parquet("acme/x.parquet").metadata.num_rows == 10
