"""CSV files for people: staged Parquet exported in UTF-8 with BOM (default) or CP932."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pyarrow.parquet as pq

from schemas.csvsafe import EncodingProblem, cp932_safe, safe_cell

Encoding = Literal["utf-8-sig", "cp932"]


def write_csv(
    path: Path, columns: list[str], rows: Iterable[dict[str, Any]], encoding: Encoding = "utf-8-sig"
) -> tuple[int, list[EncodingProblem]]:
    """Write rows (every cell neutralised against formula injection); CP932 misses are reported."""
    path.parent.mkdir(parents=True, exist_ok=True)
    problems: list[EncodingProblem] = []
    count = 0
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        for count, row in enumerate(rows, start=1):
            cells = [safe_cell(row.get(c)) for c in columns]
            if encoding == "cp932":
                checked = [
                    cp932_safe(cell, count, column) for cell, column in zip(cells, columns, strict=True)
                ]
                cells = [cell for cell, _ in checked]
                problems += [p for _, found in checked for p in found]
            writer.writerow(cells)
    temporary.replace(path)
    return count, problems


def parquet_rows(file: pq.ParquetFile) -> Iterable[dict[str, Any]]:
    for batch in file.iter_batches(batch_size=65_536):
        yield from batch.to_pylist()
