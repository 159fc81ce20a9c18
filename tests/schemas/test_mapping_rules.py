"""Field maps both ways and the three conflict rules, as tables."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from schemas.catalog import lookup_field
from schemas.coerce import CoercionError, to_ma_value
from schemas.mapping import FieldMap, field_map, inbound_changes, outbound_record, values_hash
from schemas.validate import validate_spec_data

BASE = yaml.safe_load((Path(__file__).parents[2] / "examples" / "kintone.yaml").read_text(encoding="utf-8"))
EARLY, LATE = datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC)


def kintone_map(conflict: str = "newest_wins") -> FieldMap:
    data = copy.deepcopy(BASE)
    data["targets"][0]["map"]["custom:industry"] = {"target": "業種", "conflict": conflict}
    spec, problems = validate_spec_data(data, {})
    assert spec is not None and not [p for p in problems if p.severity == "error"]
    return field_map(spec, spec.targets[0])


def test_outbound_carries_readable_fields_and_the_key() -> None:
    fmap = kintone_map()
    customer = {
        "email": "a@example.jp",
        "last_name": "田中",
        "score": 12,
        "custom:industry": "製造業",
        "custom:sales_stage": "受注",
    }
    record = outbound_record(customer, fmap, new=False)
    assert record["メールアドレス"] == "a@example.jp" and record["姓"] == "田中" and record["スコア"] == 12
    assert record["業種"] == "製造業"
    assert "商談ステージ" not in record  # writable only: never sent out
    assert fmap.key_target == "メールアドレス" and "メールアドレス" not in [
        link.target for link in fmap.links
    ]


@pytest.mark.parametrize(
    ("conflict", "new", "sent"),
    [
        ("ma_wins", False, True),
        ("newest_wins", False, True),
        ("target_wins", False, False),
        ("target_wins", True, True),
    ],
)
def test_outbound_conflict_rules(conflict: str, new: bool, sent: bool) -> None:
    record = outbound_record(
        {"email": "a@example.jp", "custom:industry": "製造業"}, kintone_map(conflict), new=new
    )
    assert ("業種" in record) is sent


@pytest.mark.parametrize(
    ("conflict", "target_modified", "ma_updated", "taken"),
    [
        ("ma_wins", LATE, EARLY, False),
        ("target_wins", EARLY, LATE, True),
        ("newest_wins", LATE, EARLY, True),
        ("newest_wins", EARLY, LATE, False),
        ("newest_wins", None, LATE, True),
    ],
)
def test_inbound_conflict_rules(
    conflict: str, target_modified: datetime | None, ma_updated: datetime, taken: bool
) -> None:
    values = {"業種": "小売業", "商談ステージ": "受注", "姓": "X"}
    fmap = kintone_map(conflict)
    changes = inbound_changes(values, fmap, target_modified=target_modified, ma_updated=ma_updated)
    assert changes.get("custom:sales_stage") == "受注"  # writable: always taken in
    assert "last_name" not in changes  # readable only: never taken in
    assert ("custom:industry" in changes) is taken


def test_values_hash_is_stable_and_sensitive() -> None:
    a = {"姓": "田中", "スコア": 1, "日": datetime(2026, 11, 28, tzinfo=UTC)}
    assert values_hash(a) == values_hash(dict(reversed(list(a.items()))))
    assert values_hash(a) != values_hash({**a, "スコア": 2})


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("score", "12", 12),
        ("score", "1,200", 1200),
        ("collection_date", "2026/11/28", "2026-11-28"),
        ("star", "true", True),
        ("tags", "展示会;資料請求", ["展示会", "資料請求"]),
        ("last_name", "", None),
        ("last_name", "田中", "田中"),
        ("created_at", "2026-11-28T02:00:00Z", "2026-11-28T02:00:00+00:00"),
    ],
)
def test_coercion_into_ma_types(field: str, value: object, expected: object) -> None:
    definition = lookup_field(field)
    assert definition is not None and to_ma_value(definition, value) == expected


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("score", "12.5", "not_an_integer"),
        ("score", "十二", "invalid_value"),
        ("collection_date", "明日", "invalid_value"),
        ("status", "不明", "unknown_option"),
        ("phone_number", "0" * 40, "too_long"),
        ("created_at", "2026-11-28T02:00:00", "datetime_without_offset"),
        ("star", "maybe", "invalid_value"),
    ],
)
def test_coercion_names_field_and_rule(field: str, value: object, rule: str) -> None:
    definition = lookup_field(field)
    assert definition is not None
    with pytest.raises(CoercionError) as caught:
        to_ma_value(definition, value)
    assert caught.value.rule == rule and caught.value.field == field and field in str(caught.value)
