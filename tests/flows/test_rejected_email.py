"""The failure email's attachments from a real state DB: the quarantine, the links and the spec's map."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from connectors.state import Rejection, StateStore
from schemas.messages import lookup
from schemas.notice import ATTACHMENT_NAME, WORKBOOK_NAME, build_notice
from schemas.outcomes import Counts, RowOutcome
from schemas.report import RunReport, StreamLine
from schemas.validate import load_spec
from tasks.rejected_rows import row_context
from tests.flows.conftest import demo_spec_with_sato

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def test_a_japanese_spec_gets_a_japanese_email_and_workbook_naming_the_person(tmp_path: Path) -> None:
    path, store = demo_spec_with_sato(tmp_path, "run-J", "「検討中」は選択肢にありません。", language="ja")
    spec = load_spec(path, {})
    store.quarantine_rows(
        "run-J",
        "sansan-cards",
        "inbound",
        [Rejection("p-7", {"last_name": "山田"}, "email_missing", "no email address", "email")],
    )
    rows = store.quarantined()
    refused = RowOutcome.rejected("p-7", "email_missing", "no email address", "email")
    line = StreamLine(
        "sansan-cards", "inbound", Counts(1, 0, 0, 1, 0), (refused.showing({"lastName": "山田"}),)
    )
    report = RunReport(company="demo", run_id="run-J", flow="sync", lines=[line], quarantine_open=2)
    message = build_notice(
        report,
        rows,
        sender=spec.notify.sender,
        recipients=spec.notify.error_email,
        redact=str,
        language=spec.notify.language,
        context=row_context(spec, store, rows),
    )
    body = message.get_body(("plain",))
    assert body is not None and "会社: demo" in body.get_content() and "Company" not in body.get_content()
    # the first errors name the person (the card's name, by the spec's map), not a hex key
    first_error = "- sansan-cards / 書き戻し（連携先→MA） / 山田 [email]: メールアドレスがありません\n"
    assert first_error in body.get_content()
    csv_part, xlsx_part = list(message.iter_attachments())
    assert (csv_part.get_filename(), xlsx_part.get_filename()) == (ATTACHMENT_NAME, WORKBOOK_NAME)
    data = xlsx_part.get_payload(decode=True)
    assert isinstance(data, bytes)
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None, dtype=str, keep_default_na=False)
    assert list(sheets) == ["概要", "kintone-customers", "sansan-cards"]
    kintone = sheets["kintone-customers"].iloc[0]
    assert (kintone["メールアドレス"], kintone["氏名"], kintone["会社名"]) == (
        "sato@example.co.jp",
        "佐藤 花子",
        "佐藤物産",
    )
    assert kintone["連携先のレコードID"] == "42" and kintone["レコードのリンク"].endswith(
        "/k/1/show#record=42"
    )
    assert (kintone["項目"], kintone["拒否された値"]) == ("商談ステージ", "検討中")
    sansan = sheets["sansan-cards"].iloc[0]
    assert sansan["氏名"] == "山田" and sansan["連携先のレコードID"] == "p-7"
    assert sansan["理由"] == "メールアドレスがありません" and sansan["連携先のメッセージ"] == ""
    for frame in sheets.values():
        assert all(JAPANESE.search(str(header)) for header in frame.columns)
    csv_text = csv_part.get_payload(decode=True).decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("連携先,データ,メールアドレス,氏名,会社名")
    assert "no email address" not in csv_text  # our own English detail stays out of a Japanese file


OURS = {  # our own rule codes, each with the English detail a row carries
    "email_missing": "no email address",
    "duplicate_email": "is shared by 2 people",
    "not_an_option": "'検討中' is not one of the options",
    "required": "a value is required",
}


@pytest.mark.parametrize("language", ["ja", "both"])
def test_the_japanese_section_has_no_english_rule_code_or_reason(tmp_path: Path, language: str) -> None:
    """Done-when: for notify.language ja (and the ja half of both), the email's Japanese is all Japanese."""
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    raw["notify"]["language"] = language
    raw["storage"] = {"staging": str(tmp_path / "staging"), "state": f"sqlite:///{tmp_path / 'state.db'}"}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    spec = load_spec(path, {})
    store = StateStore(spec.storage.state, spec.company)
    people = [
        {"メールアドレス": f"sato{i}@example.co.jp", "姓": "佐藤", "名": "花子", "商談ステージ": "検討中"}
        for i in range(len(OURS))
    ]  # one row each: the quarantine keeps one per key
    refused = [
        (p["メールアドレス"], p, code, detail) for p, (code, detail) in zip(people, OURS.items(), strict=True)
    ]
    store.quarantine_rows(
        "run-J",
        "kintone-customers",
        "customers:snapshot",
        [Rejection(k, p, c, d, "商談ステージ") for k, p, c, d in refused],
    )
    rows = store.quarantined()
    errors = tuple(RowOutcome.rejected(k, c, d, "商談ステージ").showing(p) for k, p, c, d in refused)
    lines = [
        StreamLine("kintone-customers", "customers:snapshot", Counts(4, 0, 0, 4, 0), errors),
        StreamLine("kintone-customers", "inbound", Counts(2, 2, 0, 0, 0), ()),
    ]
    report = RunReport(company="demo", run_id="run-J", flow="sync", lines=lines, quarantine_open=4)
    message = build_notice(
        report, rows, sender=spec.notify.sender, recipients=spec.notify.error_email, redact=str,
        language=spec.notify.language, context=row_context(spec, store, rows),
    )  # fmt: skip
    body = message.get_body(("plain",))
    assert body is not None
    ja = body.get_content().split("-" * 60)[0]
    assert "佐藤 花子" in ja and "直し方" in ja
    for code, detail in OURS.items():
        assert lookup(code).ja in ja
        assert code not in ja and detail not in ja and lookup(code).en not in ja, code
        assert lookup(code).fix_en not in ja
    assert "quarantine" not in ja
    for stream in ("customers:snapshot", "inbound"):  # a stream reads as words, in the table and each error
        assert stream not in ja
    assert ja.count("顧客（初回の全件）") == 1 + len(OURS) and "書き戻し（連携先→MA）" in ja
    if language == "both":  # the English section keeps the stream's own name, as replay and Prefect show it
        en = body.get_content().split("-" * 60)[1]
        assert en.count("customers:snapshot") == 1 + len(OURS) and "inbound" in en
    if language == "ja":
        csv_part, xlsx_part = list(message.iter_attachments())
        csv_text = csv_part.get_payload(decode=True).decode("utf-8-sig")
        data = xlsx_part.get_payload(decode=True)
        sheet = pd.read_excel(
            io.BytesIO(data), sheet_name="kintone-customers", dtype=str, keep_default_na=False
        )
        for code, detail in OURS.items():
            assert detail not in csv_text and lookup(code).en not in csv_text
            assert lookup(code).ja in set(sheet["理由"]) and detail not in sheet.to_string()
        assert list(sheet["メールアドレス"]) == [p["メールアドレス"] for p in people]
        assert set(sheet["氏名"]) == {"佐藤 花子"}
