"""The admin screen's export header and cells (schemas.ma_export), without any server."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from schemas.catalog import CustomFieldSpec, FieldType, lookup_field
from schemas.ma_export import ValueProblem, read_header, typed

CUSTOM = {"industry": CustomFieldSpec("industry", FieldType.TEXT, label="業種")}
JST = ZoneInfo("Asia/Tokyo")


def test_labels_match_in_either_width_and_by_the_help_centres_spellings() -> None:
    header = [
        "カスタマーID",
        "メールアドレス",
        "苗字(ふりがな)",
        "姓（ふりがな）",
        "custom:industry",
        "ＵＲＬ",
    ]
    columns, problems = read_header(header, CUSTOM)
    assert [c.name if c else None for c in columns] == [
        "customer_id",
        "email",
        "last_name_reading",
        None,  # the same field twice
        "custom:industry",
        "url",
    ]
    assert [(p.column, p.rule) for p in problems] == [("姓（ふりがな）", "duplicate_export_column")]


def test_an_unknown_column_and_a_missing_email_are_named() -> None:
    _, problems = read_header(["顧客ID", "従業員数"], CUSTOM)
    assert [(p.column, p.rule) for p in problems] == [
        ("従業員数", "unknown_export_column"),
        ("メールアドレス", "missing_export_column"),
    ]


def test_cells_are_typed_in_the_admin_screens_forms() -> None:
    updated = lookup_field("updated_at")
    collected = lookup_field("collection_date")
    tags = lookup_field("tags")
    assert updated and collected and tags
    assert typed(updated, "2026/11/28 10:00:00", JST).isoformat() == "2026-11-28T10:00:00+09:00"
    assert typed(collected, "2026/11/01", JST) == date(2026, 11, 1)
    assert typed(tags, "展示会, 資料請求", JST) == ["展示会", "資料請求"]
    assert typed(collected, " ", JST) is None
    with pytest.raises(ValueProblem) as caught:
        typed(collected, "2026/13/45", JST)
    assert caught.value.rule == "invalid_value"
