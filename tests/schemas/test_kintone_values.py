"""MA values into kintone field types: what fits, in which form, and the rule named when it cannot."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from schemas.catalog import FieldType
from schemas.kintone_values import FieldInfo, KintoneValueError, fits, kintone_record, to_kintone_value

JST = timezone(timedelta(hours=9))
STAGES = {s: {"label": s, "index": str(i)} for i, s in enumerate(("未接触", "商談中", "受注"))}


def field(kind: str, code: str = "f", **rules: Any) -> FieldInfo:
    return FieldInfo.model_validate({"code": code, "type": kind, **rules})


@pytest.mark.parametrize(
    ("kind", "rules", "value", "expected"),
    [
        ("SINGLE_LINE_TEXT", {}, "田中", "田中"),
        ("SINGLE_LINE_TEXT", {}, 42, "42"),
        ("SINGLE_LINE_TEXT", {}, 1.50, "1.5"),
        ("SINGLE_LINE_TEXT", {}, True, "true"),
        ("SINGLE_LINE_TEXT", {}, date(2026, 11, 28), "2026-11-28"),
        ("SINGLE_LINE_TEXT", {"maxLength": "4"}, "ａｂｃｄ", "ａｂｃｄ"),
        ("SINGLE_LINE_TEXT", {}, None, ""),
        ("SINGLE_LINE_TEXT", {}, "   ", ""),
        ("MULTI_LINE_TEXT", {}, "東京都\n千代田区", "東京都\n千代田区"),
        ("LINK", {}, "https://example.co.jp/a?b=1", "https://example.co.jp/a?b=1"),
        ("NUMBER", {}, 15, "15"),
        ("NUMBER", {}, 2.50, "2.5"),
        ("NUMBER", {}, Decimal("1.5e1"), "15"),
        ("NUMBER", {}, "1,200", "1200"),
        ("NUMBER", {}, "-0", "0"),
        ("NUMBER", {"maxValue": "100"}, 100, "100"),
        ("NUMBER", {}, None, ""),
        ("DATE", {}, date(2026, 1, 5), "2026-01-05"),
        ("DATE", {}, "2026/01/05", "2026-01-05"),
        ("DATE", {}, datetime(2026, 11, 27, 16, 30, tzinfo=UTC), "2026-11-28"),  # the JST day
        ("DATETIME", {}, datetime(2026, 11, 28, 9, 30, 45, tzinfo=JST), "2026-11-28T00:30:00Z"),
        ("DATETIME", {}, "2026-11-28T09:30:59+09:00", "2026-11-28T00:30:00Z"),
        ("DATETIME", {}, "2026-11-28T00:30:00Z", "2026-11-28T00:30:00Z"),
        ("DATETIME", {}, date(2026, 11, 28), "2026-11-27T15:00:00Z"),  # midnight in Tokyo
        ("TIME", {}, "9:05", "09:05"),
        ("TIME", {}, time(18, 0), "18:00"),
        ("TIME", {}, datetime(2026, 11, 28, 0, 5, tzinfo=UTC), "09:05"),
        ("DROP_DOWN", {"options": STAGES}, "商談中", "商談中"),
        ("DROP_DOWN", {"options": STAGES}, None, ""),
        ("RADIO_BUTTON", {"options": STAGES}, "受注", "受注"),
        ("CHECK_BOX", {"options": STAGES}, ["受注", "未接触", "受注"], ["受注", "未接触"]),
        ("MULTI_SELECT", {"options": STAGES}, "未接触;商談中", ["未接触", "商談中"]),
        ("MULTI_SELECT", {"options": STAGES}, [], []),
    ],
)
def test_values_fit(kind: str, rules: dict[str, Any], value: object, expected: object) -> None:
    assert to_kintone_value(field(kind, **rules), value) == expected


@pytest.mark.parametrize(
    ("kind", "rules", "value", "rule"),
    [
        ("SINGLE_LINE_TEXT", {"maxLength": "4"}, "abcde", "too_long"),
        ("SINGLE_LINE_TEXT", {"minLength": "3"}, "ab", "too_short"),
        ("SINGLE_LINE_TEXT", {}, "一行目\n二行目", "line_break"),
        ("LINK", {"maxLength": "10"}, "https://example.co.jp/", "too_long"),
        ("SINGLE_LINE_TEXT", {"required": True}, "", "required"),
        ("NUMBER", {}, "たくさん", "not_a_number"),
        ("NUMBER", {}, True, "not_a_number"),
        ("NUMBER", {}, float("inf"), "not_a_number"),
        ("NUMBER", {"maxValue": "100"}, 101, "out_of_range"),
        ("NUMBER", {"minValue": "0"}, -1, "out_of_range"),
        ("DATE", {}, "来週", "invalid_date"),
        ("DATETIME", {}, datetime(2026, 11, 28, 9, 0), "datetime_without_offset"),
        ("DATETIME", {}, "明日の朝", "invalid_datetime"),
        ("TIME", {}, "25時", "invalid_time"),
        ("DROP_DOWN", {"options": STAGES}, "リード", "unknown_option"),
        ("RADIO_BUTTON", {"options": STAGES}, "失注", "unknown_option"),
        ("CHECK_BOX", {"options": STAGES}, ["受注", "MQL"], "unknown_option"),
        ("MULTI_SELECT", {"options": STAGES, "required": True}, [], "required"),
        ("CALC", {}, "1", "not_writable"),
        ("UPDATED_TIME", {}, "2026-11-28T00:00:00Z", "not_writable"),
        ("FILE", {}, [], "not_writable"),
    ],
)
def test_values_that_cannot_fit_name_the_rule(
    kind: str, rules: dict[str, Any], value: object, rule: str
) -> None:
    with pytest.raises(KintoneValueError) as caught:
        to_kintone_value(field(kind, **rules), value)
    assert (caught.value.field, caught.value.rule) == ("f", rule)
    assert caught.value.message.startswith("f: ")


def test_rejections_say_what_the_field_allows() -> None:
    with pytest.raises(KintoneValueError, match="6 characters, the field allows at most 5"):
        to_kintone_value(field("SINGLE_LINE_TEXT", maxLength="5"), "abcdef")
    with pytest.raises(
        KintoneValueError, match=r"'リード' is not one of its options \['未接触', '商談中', '受注'\]"
    ):
        to_kintone_value(field("DROP_DOWN", options=STAGES), "リード")


def test_a_record_reports_every_problem_under_the_first_field() -> None:
    form = {
        "姓": field("SINGLE_LINE_TEXT", "姓", maxLength="2"),
        "スコア": field("NUMBER", "スコア"),
        "メモ": field("MULTI_LINE_TEXT", "メモ"),
    }
    assert kintone_record({"姓": "山田", "スコア": 3, "メモ": None}, form) == {
        "姓": "山田",
        "スコア": "3",
        "メモ": "",
    }
    with pytest.raises(KintoneValueError) as caught:
        kintone_record({"姓": "長谷川", "スコア": "x", "業種": "製造"}, form)
    error = caught.value
    assert (error.field, error.rule) == ("姓", "too_long")
    assert "スコア: 'x' is not a number" in error.message
    assert "業種: the app has no field with this code" in error.message


@pytest.mark.parametrize(
    ("ma_type", "kintone_type", "outbound", "ok"),
    [
        (FieldType.EMAIL, "SINGLE_LINE_TEXT", True, True),
        (FieldType.EMAIL, "NUMBER", True, False),
        (FieldType.TEXTAREA, "SINGLE_LINE_TEXT", True, False),
        (FieldType.INTEGER, "NUMBER", True, True),
        (FieldType.INTEGER, "CALC", True, False),
        (FieldType.INTEGER, "CALC", False, True),
        (FieldType.SELECT, "DROP_DOWN", True, True),
        (FieldType.MULTI_SELECT, "SINGLE_LINE_TEXT", True, False),
        (FieldType.MULTI_SELECT, "CHECK_BOX", True, True),
        (FieldType.DATETIME, "UPDATED_TIME", False, True),
        (FieldType.DATE, "DATETIME", True, True),
        (FieldType.TEXT, "FILE", False, False),
    ],
)
def test_which_kintone_types_carry_which_ma_types(
    ma_type: FieldType, kintone_type: str, outbound: bool, ok: bool
) -> None:
    assert fits(ma_type, kintone_type, outbound=outbound) is ok
