"""The corpus's CSV side: every CSV a person opens neutralises formulas and survives any text.

People open the export (connectors.csv_files) and the failure email's attachment
(schemas.notice) in Excel: a cell starting with = + - @ gets an apostrophe, a lone surrogate is
written as a visible escape, a CP932 miss is reported. The CSVs renkei sends to machines (the
MA's bulk CSV, Salesforce Bulk 2.0) are data, not documents: their values must come back exactly.
"""

from __future__ import annotations

import csv
import email
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from connectors.csv_files import write_csv
from connectors.salesforce_bulk import to_csv
from schemas.csvsafe import FORMULA_STARTS, escape_surrogates, safe_cell
from schemas.notice import build_notice
from schemas.outcomes import Counts, RowOutcome
from schemas.report import RunReport, StreamLine
from tests.corpus.corpus_cases import load, params

CELLS = load("csv_cells")
# text as staged (Parquet cannot hold a lone surrogate) is what reaches a machine-read CSV
TEXTS = [
    c["value"]
    for c in CELLS
    if isinstance(c["value"], str) and not any("\ud800" <= ch <= "\udfff" for ch in c["value"])
]


@dataclass(frozen=True)
class Rejected:
    target: str
    stream: str
    key: str
    code: str
    field: str | None
    reason: str
    payload: dict[str, Any]


def _unsafe(cell: str) -> bool:
    return cell.startswith(FORMULA_STARTS)


@pytest.mark.parametrize("case", params("csv_cells"))
def test_cell(case: dict[str, Any]) -> None:
    cell = safe_cell(case["value"])
    assert cell == case["cell"]
    assert not _unsafe(cell) or isinstance(case["value"], int)
    cell.encode("utf-8")  # always writable


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_export_writes_every_corpus_value_safely(tmp_path: Path, encoding: str) -> None:
    rows = [{"key": f"r{i}", "value": case["value"]} for i, case in enumerate(CELLS)]
    path = tmp_path / "export.csv"
    count, problems = write_csv(path, ["key", "value"], rows, encoding)  # type: ignore[arg-type]
    assert count == len(rows)
    read = list(csv.DictReader(io.StringIO(path.read_text(encoding=encoding))))
    assert [r["key"] for r in read] == [r["key"] for r in rows]  # no row lost beside a bad one
    assert not any(_unsafe(r["value"]) for r in read if not r["value"].lstrip("-").isdigit())
    if encoding == "cp932":  # emoji cannot be held: written as 〓 and each one reported
        assert {p.column for p in problems} == {"value"} and problems
        assert all("〓" in r["value"] for r, p in zip(read, rows, strict=True) if "😀" in str(p["value"]))
    else:
        assert problems == []


def test_failure_email_attachment_and_body_survive_formulas_and_lone_surrogates() -> None:
    bad = [
        Rejected("kintone", "customers", f"k{i}", "too_long", "会社名", f"reason {case['value']!s}",
                 {"会社名": case["value"]})
        for i, case in enumerate(CELLS)
    ]  # fmt: skip
    report = RunReport(
        "acme",
        "run-1",
        "sync",
        lines=[
            StreamLine(
                "kintone",
                "customers",
                Counts(len(bad), 0, 0, len(bad), 0),
                (RowOutcome.rejected("=1+\ud800", "too_long", "=cmd|' /C calc'!A0 \udfff", "会社名"),),
            )
        ],
    )
    message = build_notice(
        report, bad, sender="renkei@example.co.jp", recipients=["ops@example.co.jp"], redact=str
    )
    parsed = email.message_from_bytes(message.as_bytes())
    body, attachment, workbook = (part for part in parsed.walk() if not part.is_multipart())
    assert "\\ud800" in bytes(body.get_payload(decode=True)).decode("utf-8")
    data = bytes(attachment.get_payload(decode=True)).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))
    key = "再送用のキー / key (for replay)"
    assert [r[key] for r in rows] == [r.key for r in bad]
    for row in rows:
        assert not any(_unsafe(cell) for cell in row.values()), row
    book = openpyxl.load_workbook(io.BytesIO(bytes(workbook.get_payload(decode=True))))
    cells = [cell for row in book["kintone"].iter_rows() for cell in row]
    assert [c.value for c in book["kintone"]["N"][1:]] == [escape_surrogates(r.key) for r in bad]
    assert all(cell.data_type != "f" for cell in cells)  # a formula-looking value is text, never run


@pytest.mark.parametrize("value", TEXTS, ids=[c["id"] for c in CELLS if c["value"] in TEXTS])
def test_salesforce_bulk_csv_round_trips_values(value: str) -> None:
    text = to_csv([{"Ext__c": "k1", "Name": value}, {"Ext__c": "k2", "Name": "ok"}], ["Ext__c", "Name"])
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(r["Ext__c"], r["Name"]) for r in rows] == [("k1", value), ("k2", "ok")]
