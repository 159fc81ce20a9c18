"""The failure email as built (pure): subject, bilingual body, the rejected-rows CSV, no secret."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pandas as pd
import pytest

from schemas.notice import ATTACHMENT_NAME, build_notice, notice_subject
from schemas.outcomes import Counts, RowOutcome
from schemas.rejected import column_headers
from schemas.report import RunReport, StepFailure, StreamLine

SENTINEL = "s3ntinel-S3CRET-7f9c"


def mask(text: str) -> str:
    return text.replace(SENTINEL, "********")


@dataclasses.dataclass(frozen=True)
class Row:
    target: str
    stream: str
    key: str
    code: str
    reason: str
    field: str | None = None
    payload: dict[str, Any] = dataclasses.field(default_factory=dict)


def report(**overrides: Any) -> RunReport:
    values: dict[str, Any] = {
        "company": "acme",
        "run_id": "run-0001",
        "flow": "sync",
        "cuts": ["20261128T0200+0900"],
        "lines": [
            StreamLine(
                "kintone",
                "customers",
                Counts(10, 6, 1, 2, 1),
                (
                    RowOutcome.rejected("taro@example.co.jp", "CB_VA01", "必須です。", "company_name"),
                    RowOutcome.rejected("hanako@example.co.jp", "duplicate_email", "2 records share it"),
                ),
            ),
            StreamLine("salesforce", "action_form", Counts(4, 4, 0, 0, 0)),
        ],
        "quarantine_open": 7,
        "budget": {"kintone": "120/10000"},
        "next_cut": "20261128T1100+0900",
        "run_url": "http://127.0.0.1:4200/runs/flow-run/abc",
    }
    return RunReport(**{**values, **overrides})


ROWS = [
    Row(
        "kintone", "customers", "taro@example.co.jp", "CB_VA01", "必須です。", "company_name", {"姓": "山田"}
    ),
    Row("kintone", "customers", '=HYPERLINK("http://x")', "bad", "+SUM(A1)", "-f", {"n": 1}),
]


def build(r: RunReport | None = None, rows: list[Row] = ROWS, **kwargs: Any) -> EmailMessage:
    return build_notice(
        r or report(),
        rows,
        sender="renkei@example.co.jp",
        recipients=["a@example.co.jp", "b@example.co.jp"],
        redact=mask,
        **kwargs,
    )


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def attachment_text(message: EmailMessage) -> str:
    part, _xlsx = list(message.iter_attachments())
    assert part.get_filename() == ATTACHMENT_NAME
    assert part.get_content_type() == "text/csv"
    raw = part.get_payload(decode=True)
    assert isinstance(raw, bytes) and raw.startswith(b"\xef\xbb\xbf")
    return raw.decode("utf-8-sig")


def attachment_rows(message: EmailMessage) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(attachment_text(message), newline="")))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "一部の行がエラー / completed with rejected rows"),
        ({"failures": [StepFailure("sansan", "read", "down")]}, "失敗 / failed"),
        ({"lines": [], "dry_run": True}, "[dry run] acme: 完了 / completed"),
    ],
)
def test_subject_names_company_run_and_outcome_in_both_languages(
    overrides: dict[str, Any], expected: str
) -> None:
    subject = notice_subject(report(**overrides))
    assert expected in subject
    assert subject.startswith("[renkei]") and "acme" in subject and "run-0001" in subject


def test_headers_and_recipients() -> None:
    message = build()
    assert message["To"] == "a@example.co.jp, b@example.co.jp"
    assert message["From"] == "renkei@example.co.jp"
    assert message["X-Renkei-Run-Id"] == "run-0001"
    assert message.get_content_type() == "multipart/mixed"


def test_body_is_japanese_first_then_english_with_every_section() -> None:
    failed = report(failures=[StepFailure("sansan", "read_cards", "HTTP 503 from Sansan")])
    body = body_of(build(failed))
    ja, en = body.split("-" * 60)
    for text in (
        "会社: acme",
        "結果: 失敗",
        "■ 件数",
        "入力",
        "反映",
        "変更なし",
        "次回へ",
        "sansan / read_cards: HTTP 503 from Sansan",
        "キー taro@example.co.jp [company_name]: kintone が入力値を受け付けませんでした (CB_VA01)\n"
        "  連携先のメッセージ: 必須です。\n  直し方: 連携先の項目設定を確認し",
        "キー hanako@example.co.jp: 同じメールアドレスのレコードが連携先に複数あります\n"
        "  直し方: 連携先で重複レコードを 1 件にまとめるか",
        "■ 保留中の行: 7 件",
        "■ 次のカット: 20261128T1100+0900",
        "http://127.0.0.1:4200/runs/flow-run/abc",
        "kintone: 120/10000",
        "2 件を rejected_rows.csv（CSV）と rejected_rows.xlsx（Excel）で添付しました",
    ):
        assert text in ja, text
    for text in (
        "Company: acme",
        "Outcome: failed",
        "in  loaded  skipped  rejected  deferred",
        "key hanako@example.co.jp: several target records share this email address (duplicate_email)\n"
        "  message: 2 records share it\n  what to do: merge the duplicate records",
        "Rows in the quarantine: 7",
        "Next cut: 20261128T1100+0900",
        "Prefect run: http://127.0.0.1:4200/runs/flow-run/abc",
    ):
        assert text in en, text
    assert body.index("会社") < body.index("Company")


def test_notify_language_ja_gives_a_japanese_only_message() -> None:
    message = build(language="ja")
    body = body_of(message)
    assert "-" * 60 not in body and "会社: acme" in body and "Company" not in body
    assert "2 records share it" not in body  # our own rule's English detail stays out
    assert "必須です。" in body  # kintone's own words stay
    assert "一部の行がエラー" in message["Subject"] and "completed" not in message["Subject"]


def test_notify_language_en_gives_an_english_only_message() -> None:
    message = build(language="en")
    body = body_of(message)
    assert "Company: acme" in body and "会社" not in body
    assert "completed with rejected rows" in message["Subject"] and "一部" not in message["Subject"]


def test_counts_table_rows_and_total_line() -> None:
    en = body_of(build()).split("-" * 60)[1]
    table = [line.split() for line in en.splitlines() if line.startswith(("kintone", "salesforce", "total"))]
    assert table == [
        ["kintone", "customers", "10", "6", "1", "2", "1"],
        ["salesforce", "action_form", "4", "4", "0", "0", "0"],
        ["total", "14", "10", "1", "2", "1"],
    ]


def test_attachment_is_utf8_bom_csv_with_bilingual_headers_and_the_payload_last() -> None:
    rows = attachment_rows(build())
    assert list(rows[0].keys()) == column_headers("both")
    assert "メールアドレス / email" in rows[0] and list(rows[0])[-1] == "送信した値 (JSON) / payload (JSON)"
    first = rows[0]
    assert (
        first["連携先 / target"] == "kintone"
        and first["再送用のキー / key (for replay)"] == "taro@example.co.jp"
    )
    assert first["理由 / reason"].startswith("kintone が入力値を受け付けませんでした / kintone refused")
    assert first["連携先のメッセージ / message"] == "必須です。" and first["項目 / field"] == "company_name"
    assert json.loads(first["送信した値 (JSON) / payload (JSON)"]) == {"姓": "山田"}


def test_attachment_cells_cannot_run_as_formulas() -> None:
    second = attachment_rows(build())[1]
    assert second["再送用のキー / key (for replay)"] == '\'=HYPERLINK("http://x")'
    assert second["連携先のメッセージ / message"] == "'+SUM(A1)"
    assert second["項目 / field"] == "'-f"


def test_no_attachment_without_rejected_rows_and_the_body_says_so() -> None:
    message = build(report(failures=[StepFailure("kintone", "load", "down")]), rows=[])
    assert list(message.iter_attachments()) == []
    assert "まだ通知していないエラー行はありません" in body_of(message)
    assert "No rejected row is waiting to be reported." in body_of(message)


def test_attachment_is_capped_and_the_body_says_how_many_were_left_out() -> None:
    message = build(rows=ROWS * 3, max_rows=4)
    assert len(attachment_rows(message)) == 4
    body = body_of(message)
    assert "6 件" in body and "(先頭 4 件のみ)" in body and "(the first 4 only)" in body


def test_a_secret_anywhere_in_the_report_or_rows_never_reaches_the_message() -> None:
    leaky = report(
        failures=[StepFailure("salesforce", "login", f"invalid_grant for password {SENTINEL}")],
        lines=[
            StreamLine(
                "kintone",
                "customers",
                Counts(1, 0, 0, 1, 0),
                (RowOutcome.rejected("k", "CB_VA01", f"token={SENTINEL}"),),
            )
        ],
        run_url=f"http://127.0.0.1:4200/runs?t={SENTINEL}",
    )
    rows = [Row("kintone", "customers", "k", "CB_VA01", f"echo {SENTINEL}", payload={"api_token": SENTINEL})]
    raw = build(leaky, rows).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    decoded = body_of(parsed) + attachment_text(parsed)
    assert SENTINEL not in decoded and SENTINEL.encode() not in raw
    payload = attachment_rows(parsed)[0]["送信した値 (JSON) / payload (JSON)"]
    assert "********" in body_of(parsed) and "********" in payload
    xlsx = list(parsed.iter_attachments())[1].get_payload(decode=True)
    assert isinstance(xlsx, bytes) and SENTINEL.encode() not in xlsx  # zip-compressed: read it back too
    sheets = pd.read_excel(io.BytesIO(xlsx), sheet_name=None, dtype=str)
    assert all(SENTINEL not in frame.to_csv() for frame in sheets.values())
