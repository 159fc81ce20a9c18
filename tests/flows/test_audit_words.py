"""`renkei audit`'s words come from the message catalogue: the CLI in its language, the artifact in both."""

from __future__ import annotations

import io

from rich.console import Console

from flows.audit import audit_markdown, render_report
from schemas.audit import AuditReport, BadEmail, DuplicateEmail, SchemaDrift
from schemas.messages import lookup

REPORT = AuditReport(
    "kintone-customers",
    "kintone",
    1_200,
    [DuplicateEmail("sato@example.co.jp", ("12", "40"))],
    [BadEmail("7", "yamada@@example.co.jp", "email_invalid", "two @ signs")],
    [
        SchemaDrift(
            "姓氏", "last_name", "field_missing", "姓氏 is mapped but the app has no field with this code"
        )
    ],
)


def rendered(language: str) -> str:
    out = io.StringIO()
    Console(file=out, width=240).print(render_report(REPORT, language))  # type: ignore[arg-type]
    return " ".join(out.getvalue().split())


def test_the_japanese_audit_is_japanese_with_every_reason_and_fix_from_the_catalogue() -> None:
    ja = rendered("ja")
    assert "kintone-customers (kintone): 1,200 件を確認 — 問題あり" in ja
    for rule in ("duplicate_email", "email_invalid", "field_missing"):
        entry = lookup(rule)
        assert entry.fix_ja in ja and rule not in ja and entry.en not in ja
    assert lookup("email_invalid").ja in ja and lookup("field_missing").ja in ja
    assert "two @ signs" not in ja and "is mapped but" not in ja


def test_english_keeps_the_rule_and_our_detail_beside_the_catalogues_words() -> None:
    en = rendered("en")
    assert "1200 records scanned — problems found" in en
    assert "field_missing" in en and "姓氏 is mapped but the app" in en
    assert lookup("field_missing").fix_en in en and "件" not in en


def test_the_audit_artifact_gives_both_languages() -> None:
    text = audit_markdown([REPORT])
    assert "要対応 needs attention" in text
    drift = lookup("field_missing")
    assert f"- 姓氏 (last_name): {drift.ja} / {drift.en} (field_missing:" in text
    assert f"→ {drift.fix_ja} / {drift.fix_en}" in text
