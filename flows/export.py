"""`renkei export`: one staged cut as the vendor's CSV hand-off."""

from __future__ import annotations

from pathlib import Path

from connectors.csv_files import Encoding, parquet_rows, write_csv
from flows.extract import extract
from schemas.csvsafe import EncodingProblem
from schemas.spec import Spec
from schemas.staging import MANIFEST_FILE, cut_path, parse_cut, staged_files
from tasks.clients import staging_area


def export_cut(
    spec_path: Path, spec: Spec, cut: str, encoding: Encoding, out: Path
) -> tuple[list[tuple[Path, int]], list[tuple[str, EncodingProblem]]]:
    """Write every staged file of ``cut`` as CSV (staging it first when needed)."""
    cut = parse_cut(cut).strftime("%Y%m%dT%H%M%z")
    staging = staging_area(spec)
    folder = cut_path(spec.company, cut)
    if not staging.exists(f"{folder}/{MANIFEST_FILE}"):
        extract(str(spec_path), cut)
    written: list[tuple[Path, int]] = []
    problems: list[tuple[str, EncodingProblem]] = []
    for name in staged_files():
        source = staging.parquet(f"{folder}/{name}")
        target = out / spec.company / cut / name.replace("/", "_").replace(".parquet", ".csv")
        rows, found = write_csv(target, source.schema_arrow.names, parquet_rows(source), encoding)
        written.append((target, rows))
        problems += [(target.name, p) for p in found]
    return written, problems
