"""The Parquet staging area: streaming writes, atomic renames, checksums and the manifest.

The root is a local path or any fsspec URL (s3://, gs://, memory://; for s3:// the endpoint and keys
come from the usual ``AWS_*`` environment, e.g. ``AWS_ENDPOINT_URL`` for an S3-compatible store).
Every file is written to a temporary name and renamed when complete, and ``manifest.json`` is written
last: a cut folder with a manifest is whole. Rows stream through in fixed-size row groups, so memory
does not grow with the size of a cut and the same rows always give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from connectors.csv_rows import TypedCsv
from schemas.staging import SCHEMA_VERSION

ROW_GROUP_ROWS = 131_072


@dataclass(frozen=True)
class FileStats:
    """One staged file: ``rows`` staged; ``quarantined`` rows of the source set aside (rows in = both)."""

    rows: int
    sha256: str
    bytes: int
    schema_version: int = SCHEMA_VERSION
    quarantined: int = 0


class StagingArea:
    """Files under one staging root; paths are relative to it (``acme/20261128T0200+0900/…``)."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        # no listings cache: another process (a worker on another machine) adds cuts to an s3:// root
        self.fs, self._base = url_to_fs(self.root, use_listings_cache=False)
        self.fs.makedirs(self._base, exist_ok=True)
        self._local = isinstance(self.fs, LocalFileSystem)

    def full(self, relative: str) -> str:
        """The path under the root; a path that would resolve outside it (``..``, absolute, a link that
        leads elsewhere) is refused, whatever named it."""
        parts = relative.split("/")
        if any(part in ("", ".", "..") or "\\" in part or "\x00" in part for part in parts):
            raise ValueError(f"{relative!r} is outside the staging root {self.root}: refused")
        path = f"{self._base}/{relative}"
        if self._local and not Path(path).resolve().is_relative_to(Path(self._base).resolve()):
            raise ValueError(f"{relative!r} leads outside the staging root {self.root}: refused")
        return path

    def uri(self, relative: str) -> str:
        """A path or URL a user (or pyarrow, or pandas) can open."""
        return f"{self.root}/{relative}"

    def exists(self, relative: str) -> bool:
        return bool(self.fs.exists(self.full(relative)))

    def write_batches(self, relative: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> FileStats:
        """Stream record batches into one Parquet file in fixed row groups; atomic, hashed."""
        target = self.full(relative)
        temporary = f"{target}.tmp-{uuid.uuid4().hex}"
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        rows = 0
        try:
            # a local file is written by Arrow itself: a Python file object in between makes memory
            # grow with the size of the file (measured: +45% from 1M to 5M rows)
            with ExitStack() as stack:
                sink = temporary if self._local else stack.enter_context(self.fs.open(temporary, "wb"))
                writer = stack.enter_context(
                    pq.ParquetWriter(sink, schema, compression="zstd", write_statistics=True)
                )
                for group in _row_groups(batches, schema):
                    writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
                    rows += group.num_rows
            self.fs.mv(temporary, target)
        finally:
            if self.fs.exists(temporary):
                self.fs.rm(temporary)
        return FileStats(rows, self.sha256(relative), int(self.fs.size(target)))

    def write_csv_stream(self, relative: str, schema: pa.Schema, chunks: Iterable[bytes]) -> FileStats:
        """Parse a CSV byte stream (header row first) with the schema's types and stage it."""
        return self.write_typed_csv(relative, TypedCsv(chunks, schema, relative))

    def write_typed_csv(self, relative: str, typed: TypedCsv) -> FileStats:
        """Stage a CSV checked against its contract; rows that cannot be typed are counted (``typed.bad``)."""
        stats = self.write_batches(relative, typed.schema, typed.batches())
        return replace(stats, quarantined=len(typed.bad))

    def write_json(self, relative: str, document: dict[str, Any]) -> None:
        target = self.full(relative)
        temporary = f"{target}.tmp-{uuid.uuid4().hex}"
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(temporary, "w", encoding="utf-8") as out:
            json.dump(document, out, ensure_ascii=False, indent=2, sort_keys=True)
        self.fs.mv(temporary, target)

    def read_json(self, relative: str) -> dict[str, Any] | None:
        if not self.exists(relative):
            return None
        with self.fs.open(self.full(relative), "r", encoding="utf-8") as source:
            loaded: dict[str, Any] = json.load(source)
        return loaded

    def parquet(self, relative: str) -> pq.ParquetFile:
        return pq.ParquetFile(self.fs.open(self.full(relative), "rb"))

    def sha256(self, relative: str) -> str:
        digest = hashlib.sha256()
        with self.fs.open(self.full(relative), "rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()


def _row_groups(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.Table]:
    """Re-cut batches into tables of exactly ROW_GROUP_ROWS rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    emitted = False
    for batch in batches:
        batch = batch.select(schema.names).cast(schema) if batch.schema != schema else batch
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= ROW_GROUP_ROWS:
            table = pa.Table.from_batches(pending, schema)
            yield table.slice(0, ROW_GROUP_ROWS)
            emitted = True
            rest = table.slice(ROW_GROUP_ROWS)
            pending = rest.to_batches()
            pending_rows = rest.num_rows
    if pending_rows or not emitted:
        yield pa.Table.from_batches(pending, schema)


def manifest_document(
    company: str, cut: str, window: tuple[str, str], run_id: str, files: dict[str, FileStats]
) -> dict[str, Any]:
    return {
        "company": company,
        "cut": cut,
        "window": {"from": window[0], "to": window[1]},
        "run_id": run_id,
        "schema_version": SCHEMA_VERSION,
        "files": {name: asdict(stats) for name, stats in sorted(files.items())},
    }
