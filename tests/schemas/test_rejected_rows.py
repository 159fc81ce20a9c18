"""Rejected rows a person can fix: who, which record, what was refused, why, what to do (CSV, xlsx)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from schemas.notice import rejected_rows_csv
from schemas.rejected import RowContext, column_headers, fixable_rows, person_fields, stream_label
from schemas.validate import load_spec
from schemas.workbook import rejected_rows_xlsx
from tests.schemas.test_notice import Row

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
EVIL = '=HYPERLINK("http://evil.example","click")'


ROWS = [
    Row(
        "kintone-customers",
        "customers",
        "sato.hanako@example.co.jp",
        "CB_VA01",
        "「検討中」は選択肢にありません。",
        "商談ステージ",
        {"メールアドレス": "sato.hanako@example.co.jp", "姓": "佐藤", "名": "花子", "会社名": EVIL,
         "商談ステージ": "検討中"},
    ),
    Row(
        "salesforce-leads",
        "customers",
        "a1b2c3d4e5f60718",
        "string_too_long",
        "Title (string): 300 characters, at most 128 fit",
        "Title",
        {"Email": "ito.ken@example.co.jp", "LastName": "伊藤", "FirstName": "健", "Company": "伊藤商事",
         "Title": "x" * 300},
    ),
    Row(
        "sansan-cards",
        "inbound",
        "person-9",
        "not_an_option",
        "custom:sales_stage must be one of 未接触, 商談中",
        "custom:sales_stage",
        {"email": "yamada@example.co.jp", "last_name": "山田", "first_name": "一郎",
         "lead_company_name": "山田工業", "custom:sales_stage": "検討中"},
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def context() -> RowContext:
    spec = load_spec(DEMO, {})
    ids = {
        ("kintone-customers", "customers", "sato.hanako@example.co.jp"): "17",
        ("sansan-cards", "inbound", "person-9"): "person-9",
    }
    return RowContext(person_fields(spec), ids)


def test_each_row_names_the_person_the_record_and_what_to_fix(context: RowContext) -> None:
    kintone, salesforce, sansan = fixable_rows(ROWS, "both", context)
    assert (kintone["email"], kintone["name"], kintone["company"]) == (
        "sato.hanako@example.co.jp",
        "佐藤 花子",
        EVIL,
    )
    assert kintone["record_id"] == "17" and kintone["link"] == "http://127.0.0.1:8702/k/1/show#record=17"
    assert (kintone["field"], kintone["value"]) == ("商談ステージ", "検討中")
    assert kintone["reason"] == "kintone が入力値を受け付けませんでした / kintone refused the value"
    assert kintone["message"] == "「検討中」は選択肢にありません。"
    # a Salesforce Lead matched on hashcode: the email comes from the mapped Email field
    assert (salesforce["email"], salesforce["name"], salesforce["company"]) == (
        "ito.ken@example.co.jp",
        "伊藤 健",
        "伊藤商事",
    )
    assert salesforce["record_id"] == "" and salesforce["value"] == "x" * 300
    # a write-back into the MA: MA field names, keyed by the card person's id
    assert (sansan["email"], sansan["name"], sansan["record_id"]) == (
        "yamada@example.co.jp",
        "山田 一郎",
        "person-9",
    )
    assert sansan["reason"].startswith("選択肢にない値です / ") and "MA の選択肢" in sansan["fix"]
    assert list(kintone)[-1] == "payload"  # fmt: skip


def test_japanese_rows_leave_our_english_detail_out_and_keep_the_targets_words(context: RowContext) -> None:
    kintone, salesforce, sansan = fixable_rows(ROWS, "ja", context)
    assert kintone["message"] == "「検討中」は選択肢にありません。"  # kintone's own message
    assert salesforce["message"] == "" and sansan["message"] == ""
    for row in (kintone, salesforce, sansan):
        assert JAPANESE.search(row["reason"]) and JAPANESE.search(row["fix"])
        assert " / " not in row["reason"]
    assert [r["stream"] for r in (kintone, salesforce, sansan)] == [
        "顧客",
        stream_label(ROWS[1].stream, "ja"),
        "書き戻し（連携先→MA）",
    ]


@pytest.mark.parametrize(
    ("stream", "ja", "en"),
    [
        ("customers", "顧客", "customers"),
        ("customers:snapshot", "顧客（初回の全件）", "customers:snapshot"),
        ("actions:segment_added", "行動履歴（セグメント追加）", "actions:segment_added"),
        ("masters:form", "マスタ（フォーム）", "masters:form"),
        ("inbound", "書き戻し（連携先→MA）", "inbound"),
        ("mapping", "mapping", "mapping"),  # not a stream a person meets: left as it is
    ],
)
def test_a_stream_reads_as_words_in_japanese(stream: str, ja: str, en: str) -> None:
    assert (stream_label(stream, "ja"), stream_label(stream, "en")) == (ja, en)
    assert stream_label(stream, "both") == (f"{ja} / {en}" if ja != en else ja)


def test_the_csv_is_utf8_bom_with_japanese_and_english_headers_and_inert_formulas(
    context: RowContext,
) -> None:
    raw = rejected_rows_csv(fixable_rows(ROWS, "both", context), "both")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert list(rows[0]) == column_headers("both") and "メールアドレス / email" in rows[0]
    assert rows[0]["会社名 / company"] == "'" + EVIL
    assert rows[2]["氏名 / name"] == "山田 一郎"


def read_workbook(data: bytes) -> dict[str, pd.DataFrame]:
    return pd.read_excel(io.BytesIO(data), sheet_name=None, dtype=str, keep_default_na=False)


def test_the_workbook_has_a_summary_and_one_sheet_per_target(context: RowContext) -> None:
    sheets = read_workbook(rejected_rows_xlsx(fixable_rows(ROWS, "both", context), "both"))
    assert list(sheets) == ["概要 summary", "kintone-customers", "salesforce-leads", "sansan-cards"]
    kintone = sheets["kintone-customers"]
    assert kintone.loc[0, "メールアドレス / email"] == "sato.hanako@example.co.jp"
    assert kintone.loc[0, "氏名 / name"] == "佐藤 花子"
    assert kintone.loc[0, "会社名 / company"] == EVIL  # read back as the text it is
    summary = sheets["概要 summary"]
    assert summary["件数 / rows"].tolist() == ["1", "1", "1"]
    assert summary["コード / code"].tolist() == ["CB_VA01", "string_too_long", "not_an_option"]


def test_notify_language_ja_gives_an_all_japanese_workbook(context: RowContext) -> None:
    data = rejected_rows_xlsx(fixable_rows(ROWS, "ja", context), "ja")
    sheets = read_workbook(data)
    assert list(sheets) == ["概要", "kintone-customers", "salesforce-leads", "sansan-cards"]
    for frame in sheets.values():
        for header in frame.columns:
            assert JAPANESE.search(header) and " / " not in header, header
    sansan = sheets["sansan-cards"]
    assert sansan.loc[0, "メールアドレス"] == "yamada@example.co.jp" and sansan.loc[0, "氏名"] == "山田 一郎"
    assert sansan.loc[0, "理由"] == "選択肢にない値です"
    for text in [*sheets["概要"]["理由"], *sheets["概要"]["直し方"]]:
        assert JAPANESE.search(text) and not re.search(r"\b(the|value|field)\b", text), text


def test_the_workbook_reads_well_and_never_runs_a_formula(context: RowContext) -> None:
    book = openpyxl.load_workbook(io.BytesIO(rejected_rows_xlsx(fixable_rows(ROWS, "ja", context), "ja")))
    sheet = book["kintone-customers"]
    company = sheet.cell(row=2, column=column_headers("ja").index("会社名") + 1)
    assert company.value == EVIL and company.data_type == "s"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    assert all(cell.font.bold for cell in sheet[1])
    link = sheet.cell(row=2, column=column_headers("ja").index("レコードのリンク") + 1)
    assert link.hyperlink is not None and link.hyperlink.target == "http://127.0.0.1:8702/k/1/show#record=17"
    fix = sheet.cell(row=2, column=column_headers("ja").index("直し方") + 1)
    assert fix.alignment.wrap_text and (sheet.row_dimensions[2].height or 0) >= 30  # the fix wraps, unclipped
    widths = {c: sheet.column_dimensions[c].width for c in ("A", "C", "O")}
    assert widths["C"] >= len("sato.hanako@example.co.jp") and widths["O"] == 60  # the payload is capped


def test_a_refused_card_names_its_person_even_when_the_names_are_not_mapped() -> None:
    spec = load_spec(Path(__file__).parents[2] / "examples" / "public.yaml", {})
    assert "last_name" not in spec.target("sansan-cards").map  # public: names are read, not written
    cards = person_fields(spec)["sansan-cards"]
    card = {"id": "C1", "lastName": "山田", "firstName": "一郎", "companyName": "山田商事"}
    assert (cards.name(card), cards.value(card, "lead_company_name")) == ("山田 一郎", "山田商事")
