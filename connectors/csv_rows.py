"""An MA CSV file checked against its column contract, then typed row by row.

The header must name every column of the file's schema: a missing or renamed column fails the file
(ContractError naming both), before a row is staged. Extra columns are not staged; they are listed
in ``extra`` for the report. Values are read as text and typed column by column, so one bad value
(an impossible time, bytes that are not UTF-8, a missing event id) sets its row aside as a BadRow
with its line, column and value, and the rest of the file goes on: rows = staged + set aside.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

CSV_BLOCK_BYTES = 4 << 20
BOM = b"\xef\xbb\xbf"


class ChunkReader(io.RawIOBase):
    """A file-like view of an iterator of byte chunks, always filling whole reads (deterministic blocks)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = bytearray()

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        while len(self._buffer) < len(view):
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        size = min(len(view), len(self._buffer))
        view[:size] = self._buffer[:size]
        del self._buffer[:size]
        return size


class ContractError(ValueError):
    """The file's header does not hold the columns its contract names: nothing of it is staged."""


@dataclass(frozen=True)
class BadRow:
    """A row set aside: its line in the file (the header is line 1), the column, the value as received."""

    line: int
    column: str
    value: str
    rule: str  # invalid_utf8 | invalid_value | missing_value | wrong_column_count
    message: str


@dataclass
class TypedCsv:
    """``batches()`` streams the typed rows; afterwards ``bad`` and ``extra`` say what was left out."""

    chunks: Iterable[bytes]
    schema: pa.Schema
    name: str
    bad: list[BadRow] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def batches(self) -> Iterator[pa.RecordBatch]:
        stream = iter(self.chunks)
        head = b""
        for chunk in stream:
            head += chunk
            if b"\n" in head:
                break
        if not head.strip():
            return  # an empty file: no rows
        header = self._check_header(head.split(b"\n", 1)[0])
        source = io.BufferedReader(ChunkReader(chain([head], stream)), buffer_size=CSV_BLOCK_BYTES)
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, use_threads=True),
            parse_options=pacsv.ParseOptions(invalid_row_handler=self._wrong_width),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=self.schema.names,
                strings_can_be_null=True,
                check_utf8=False,
            ),
        )
        first_line = 2
        for batch in reader:
            yield self._typed(batch, first_line)
            first_line += batch.num_rows

    def _check_header(self, line: bytes) -> list[str]:
        try:
            text = line.removeprefix(BOM).decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise ContractError(f"{self.name}: the header is not UTF-8 ({exc}): nothing staged") from exc
        header = next(csv.reader([text]))
        missing = [name for name in self.schema.names if name not in header]
        self.extra = [name for name in header if name not in self.schema.names]
        if missing:
            instead = f"; it has {', '.join(self.extra)} instead" if self.extra else ""
            raise ContractError(
                f"{self.name}: column(s) {', '.join(missing)} missing from the header{instead}"
                " — the MA's file does not match its contract: nothing of it staged"
            )
        return header

    def _wrong_width(self, row: Any) -> str:
        self.bad.append(
            BadRow(
                row.number or 0,
                "",
                row.text[:200],
                "wrong_column_count",
                f"{row.actual_columns} values, the header has {row.expected_columns}",
            )
        )
        return "skip"

    def _typed(self, batch: pa.RecordBatch, first_line: int) -> pa.RecordBatch:
        """The batch in the schema's types without the rows that cannot be typed (those become BadRows)."""
        problems: dict[int, BadRow] = {}
        columns = []
        for column in self.schema:
            values = batch.column(column.name)
            try:
                values.validate(full=True)
            except pa.ArrowInvalid:
                values = self._utf8_rows(values, column.name, first_line, problems)
            typed = self._cast(values, column, first_line, problems)
            if not column.nullable:
                for index in pc.indices_nonzero(pc.is_null(typed)).to_pylist():
                    problems.setdefault(
                        index,
                        BadRow(first_line + index, column.name, "", "missing_value", "a value is required"),
                    )
            columns.append(typed)
        good = pa.RecordBatch.from_arrays(columns, names=self.schema.names)
        if not problems:
            return good.cast(self.schema)
        self.bad += [problems[i] for i in sorted(problems)]
        keep = pa.array([i not in problems for i in range(batch.num_rows)])
        return good.filter(keep).cast(self.schema)

    @staticmethod
    def _utf8_rows(values: pa.Array, name: str, first_line: int, problems: dict[int, BadRow]) -> pa.Array:
        """Rows whose bytes are not UTF-8 are set aside; their cells become null so the rest can be typed."""
        cells: list[bytes | None] = values.cast(pa.binary()).to_pylist()
        clean: list[str | None] = []
        for index, raw in enumerate(cells):
            try:
                clean.append(None if raw is None else raw.decode("utf-8"))
            except UnicodeDecodeError:
                shown = raw.decode("utf-8", errors="backslashreplace") if raw is not None else ""
                problems.setdefault(
                    index, BadRow(first_line + index, name, shown, "invalid_utf8", "the bytes are not UTF-8")
                )
                clean.append(None)
        return pa.array(clean, pa.string())

    @staticmethod
    def _cast(values: pa.Array, column: pa.Field, first_line: int, problems: dict[int, BadRow]) -> pa.Array:
        if values.type == column.type:
            return values
        try:
            return pc.cast(values, column.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        cells: list[Any] = []
        for index, value in enumerate(values.to_pylist()):
            try:
                cells.append(pc.cast(pa.array([value], pa.string()), column.type)[0].as_py())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                problems.setdefault(
                    index,
                    BadRow(
                        first_line + index,
                        column.name,
                        str(value),
                        "invalid_value",
                        f"not a {column.type} (times need a date, a time and an offset)",
                    ),
                )
                cells.append(None)
        return pa.array(cells, column.type)
