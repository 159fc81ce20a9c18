"""The admin screen's customer exports staged under ``ma.access: public``: header contract, encodings,
row quarantine, archive."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from connectors.csv_rows import ContractError
from schemas.spec import Spec
from schemas.staging import CUSTOMERS_FILE, cut_path
from schemas.validate import load_spec
from tasks.clients import state_store
from tasks.exports import stage_exports

HEADER = "顧客ID,ハッシュコード,メールアドレス,苗字,名前,情報獲得日,業種,更新日時,スコア\r\n"


def public_spec(root: Path) -> Spec:
    data = {
        "version": 1,
        "company": "acme",
        "notify": {"error_email": ["ops@example.co.jp"]},
        "storage": {"staging": str(root / "staging"), "state": f"sqlite:///{root / 'state.db'}"},
        "ma": {
            "url": "http://127.0.0.1:9",
            "access": "public",
            "v4": {"user_key": "u", "user_secret": "s", "company_key": "acme", "company_secret": "k"},
            "exports": str(root / "exports" / "*.csv"),
        },
        "custom_fields": {"industry": {"type": "text", "label": "業種"}},
        "fields": {
            "email": "readable",
            "last_name": "readable",
            "collection_date": "readable",
            "custom:industry": "readable",
            "first_name": "writable",
        },
    }
    path = root / "spec.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (root / "exports").mkdir()
    return load_spec(path)


def test_both_encodings_are_staged_bad_rows_quarantined_and_files_archived(tmp_path: Path) -> None:
    spec = public_spec(tmp_path)
    cp932 = HEADER + "1,h1,Ｓato@Example.jp,佐藤,花子,2026/11/01,製造業,2026/11/28 10:00:00,12\r\n"
    cp932 += "2,h2,bad-date@example.jp,鈴木,一郎,2026/13/45,小売,2026/11/28 10:01:00,3\r\n"
    (tmp_path / "exports" / "a_20261128.csv").write_bytes(cp932.encode("cp932"))
    utf8 = HEADER + "3,h3,takahashi@example.jp,髙橋,,,,2026-11-28T10:02:00+09:00,\r\n"
    (tmp_path / "exports" / "b_20261128.csv").write_bytes(b"\xef\xbb\xbf" + utf8.encode("utf-8"))

    [staged] = stage_exports(spec, "run-1")

    table = pq.read_table(tmp_path / "staging" / cut_path("acme", staged.cut) / CUSTOMERS_FILE)
    rows = {r["customer_id"]: r for r in table.to_pylist()}
    assert sorted(rows) == ["1", "3"]
    assert rows["1"]["email"] == "sato@example.jp"  # normalised as the MA holds it
    assert (rows["1"]["last_name"], rows["1"]["custom:industry"]) == ("佐藤", "製造業")
    assert rows["1"]["first_name"] == "花子"  # a Writable field the export shows: kept for comparison
    assert rows["1"]["updated_at"].isoformat() == "2026-11-28T10:00:00+09:00"
    assert rows["3"]["last_name"] == "髙橋"
    assert "score" not in table.column_names  # shown by the export, not read by the spec
    quarantined = state_store(spec).quarantined("staging")
    assert [(q.key, q.code) for q in quarantined] == [(f"{staged.cut}/a_20261128.csv#3", "invalid_value")]
    assert "line 3, column collection_date" in quarantined[0].reason
    assert not list((tmp_path / "exports").glob("*.csv"))
    archived = sorted(p.name for p in (tmp_path / "exports" / "archive").iterdir())
    assert archived == [f"{staged.cut}_a_20261128.csv", f"{staged.cut}_b_20261128.csv"]
    assert stage_exports(spec, "run-2") == []  # nothing new dropped: nothing staged


def test_a_header_outside_the_catalog_fails_the_file_naming_it_and_the_column(tmp_path: Path) -> None:
    spec = public_spec(tmp_path)
    text = HEADER.replace("業種", "従業員数") + "1,h1,a@example.jp,佐藤,花子,,,2026/11/28 10:00:00,1\r\n"
    (tmp_path / "exports" / "other.csv").write_bytes(text.encode("cp932"))
    with pytest.raises(ContractError) as caught:
        stage_exports(spec, "run-1")
    message = str(caught.value)
    assert "other.csv" in message and "column 従業員数: not a field" in message
    assert "column 業種" in message  # the spec reads it and the export lacks it
    assert (tmp_path / "exports" / "other.csv").exists()  # left for the user to fix, then picked up
    assert state_store(spec).watermark("staging", "cuts") is None
