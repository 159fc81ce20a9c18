"""The write-back's pure decisions (target → MA), as tables: who may be written, and what is sent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from schemas.mapping import FieldMap, TargetRecord, field_map
from schemas.spec import Spec
from schemas.validate import validate_spec_data
from schemas.writeback import Candidate, latest_by_id, newest_modification, plan_rows, unique_candidates

EXAMPLE = Path(__file__).parents[2] / "examples" / "kintone.yaml"
EARLY, LATE = datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC)


def kintone() -> tuple[Spec, FieldMap]:
    spec, problems = validate_spec_data(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")), {})
    assert spec is not None and not [p for p in problems if p.severity == "error"]
    return spec, field_map(spec, spec.targets[0])


def record(
    rid: str, email: str | None, stage: str | None = "受注", modified: datetime = LATE
) -> TargetRecord:
    return TargetRecord(rid, modified, {"メールアドレス": email, "商談ステージ": stage})


def test_the_newest_version_of_each_record_wins_in_modified_order() -> None:
    pages = [
        [record("2", "b@example.jp", modified=EARLY)],
        [record("1", "a@example.jp"), record("2", "b@example.jp")],
    ]
    newest = latest_by_id(pages)
    assert [(r.id, r.modified) for r in newest] == [("1", LATE), ("2", LATE)]
    assert newest_modification(newest) == LATE and newest_modification([]) is None


def test_a_shared_email_rejects_every_record_that_holds_it() -> None:
    _, fmap = kintone()
    records = [record("1", "a@example.jp"), record("2", "A@EXAMPLE.JP"), record("3", "c@example.jp")]
    candidates, rejected = unique_candidates(records, fmap, "メールアドレス")
    assert [c.key for c in candidates] == ["c@example.jp"]
    assert sorted((r.key, r.code) for r in rejected) == [("1", "duplicate_email"), ("2", "duplicate_email")]


def test_a_record_without_a_key_is_rejected_naming_the_field() -> None:
    _, fmap = kintone()
    candidates, rejected = unique_candidates([record("9", None)], fmap, None)
    assert candidates == [] and [(r.key, r.code, r.field) for r in rejected] == [
        ("9", "key_missing", "メールアドレス")
    ]


def test_only_what_differs_from_the_ma_is_sent_and_non_customers_are_left_alone() -> None:
    spec, fmap = kintone()
    custom = spec.custom_specs()
    same, changed, stranger = (
        Candidate(record("1", "a@example.jp", "受注"), "a@example.jp"),
        Candidate(record("2", "b@example.jp", "失注"), "b@example.jp"),
        Candidate(record("3", "z@example.jp", "受注"), "z@example.jp"),
    )
    current = {
        key: {"email": key, "updated_at": EARLY.isoformat(), "custom": {"sales_stage": "受注"}}
        for key in ("a@example.jp", "b@example.jp")
    }
    planned = plan_rows([same, changed, stranger], current, fmap, custom)
    assert planned.rows == {"b@example.jp": {"email": "b@example.jp", "custom": {"sales_stage": "失注"}}}
    assert planned.owners == {"b@example.jp": "2"}
    assert sorted((o.key, o.status.value) for o in planned.outcomes) == [
        ("1", "unchanged"),
        ("3", "unchanged"),
    ]
    created = plan_rows([stranger], current, fmap, custom, create_missing=True)
    assert created.rows == {"z@example.jp": {"email": "z@example.jp", "custom": {"sales_stage": "受注"}}}


def test_a_value_the_ma_cannot_take_rejects_its_record_only() -> None:
    spec, fmap = kintone()
    current = {"a@example.jp": {"email": "a@example.jp", "updated_at": EARLY.isoformat(), "custom": {}}}
    bad = Candidate(record("1", "a@example.jp", "月面着陸"), "a@example.jp")
    planned = plan_rows([bad], current, fmap, spec.custom_specs())
    assert planned.rows == {}
    assert [(o.key, o.code, o.field) for o in planned.outcomes] == [
        ("1", "unknown_option", "custom:sales_stage")
    ]
