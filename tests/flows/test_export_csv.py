"""`renkei export`: a staged cut as the vendor's CSV hand-off, in UTF-8 with BOM or CP932."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
from typer.testing import CliRunner

from connectors.staging import StagingArea, manifest_document
from deployments.cli import app
from schemas.spec import ACTION_KINDS, MASTER_KINDS
from schemas.staging import ACTION_SCHEMA, CUSTOMERS_FILE, MASTER_SCHEMA, action_file, master_file
from tests.flows.conftest import write_spec

CUT = "20261128T0200+0900"
HEADER = (
    b"event_id,kind,customer_id,hashcode,email,master_id,master_name,event_type,occurred_at,recorded_at,url\n"
)


def stage_by_hand(root: Path) -> None:
    staging = StagingArea(str(root))
    folder = f"acme/{CUT}"
    files = {}
    for kind in ACTION_KINDS:
        body = b""
        if kind == "form":
            body = (
                "1,form,10,h10,tanaka@example.co.jp,fm-1,=資料請求🍣フォーム,submitted,"
                "2026-11-28T01:00:00+09:00,2026-11-28T01:00:00+09:00,\n"
            ).encode()
        files[action_file(kind)] = staging.write_csv_stream(
            f"{folder}/{action_file(kind)}", ACTION_SCHEMA, [HEADER + body]
        )
    for kind in MASTER_KINDS:
        files[master_file(kind)] = staging.write_csv_stream(
            f"{folder}/{master_file(kind)}", MASTER_SCHEMA, [b""]
        )
    schema = pa.schema([("customer_id", pa.string()), ("email", pa.string()), ("last_name", pa.string())])
    batch = pa.RecordBatch.from_pylist(
        [{"customer_id": "10", "email": "tanaka@example.co.jp", "last_name": "髙橋"}], schema
    )
    files[CUSTOMERS_FILE] = staging.write_batches(f"{folder}/{CUSTOMERS_FILE}", schema, [batch])
    staging.write_json(f"{folder}/manifest.json", manifest_document("acme", CUT, ("a", "b"), "r", files))


def test_export_utf8_with_bom_and_cp932(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec.yaml", "http://127.0.0.1:9", "tok", tmp_path)
    stage_by_hand(tmp_path / "staging")
    runner = CliRunner()
    out = tmp_path / "out"

    result = runner.invoke(app, ["export", str(spec), "--cut", CUT, "--out", str(out)])
    assert result.exit_code == 0, result.output
    form = (out / "acme" / CUT / "actions_form.csv").read_bytes()
    assert form.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    rows = list(csv.DictReader(io.StringIO(form.decode("utf-8-sig"))))
    assert rows[0]["master_name"] == "'=資料請求🍣フォーム"  # formula neutralised, text kept
    assert rows[0]["occurred_at"] == "2026-11-28T01:00:00+09:00"
    assert (out / "acme" / CUT / "masters_tag.csv").read_text(encoding="utf-8-sig").startswith("id,kind,name")

    result = runner.invoke(app, ["export", str(spec), "--cut", CUT, "--encoding", "cp932", "--out", str(out)])
    assert result.exit_code == 1
    assert "U+1F363" in result.output and "actions_form.csv" in result.output
    cp932 = (out / "acme" / CUT / "actions_form.csv").read_bytes().decode("cp932")
    assert "'=資料請求〓フォーム" in cp932
    assert "髙橋" in (out / "acme" / CUT / "customers.csv").read_bytes().decode("cp932")


def test_export_rejects_an_unknown_encoding(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec.yaml", "http://127.0.0.1:9", "tok", tmp_path)
    result = CliRunner().invoke(app, ["export", str(spec), "--cut", CUT, "--encoding", "latin-1"])
    assert result.exit_code == 2
