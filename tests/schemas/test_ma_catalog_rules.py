"""The spec against the MA's field catalog, by table: every difference names the field and both values."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.catalog import CustomFieldSpec, FieldType
from schemas.ma_catalog import MaCatalog, catalog_problems, follow_catalog
from schemas.mapping import field_map
from schemas.spec import Spec

MA = MaCatalog(
    {
        "customer_code": CustomFieldSpec("customer_code", FieldType.TEXT, unique=True),
        "sales_stage": CustomFieldSpec("sales_stage", FieldType.SELECT, options=("リード", "SQL", "受注")),
        "employees": CustomFieldSpec("employees", FieldType.INTEGER),
    },
    ("02:00", "11:00"),
)


def spec(custom: dict[str, Any], fields: dict[str, str], mapped: dict[str, str], **extra: Any) -> Spec:
    return Spec.model_validate(
        {
            "company": "acme",
            "ma": {"url": "http://127.0.0.1:1", "token": "t"},
            "custom_fields": custom,
            "fields": {"email": "readable", **fields},
            "targets": [
                {
                    "name": "kt",
                    "kind": "kintone",
                    "url": "http://127.0.0.1:2",
                    "app": 1,
                    "match": {"ma": "email", "target": "mail"},
                    "map": {"email": "mail", **mapped},
                }
            ],
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("custom", "fields", "mapped", "extra", "expected"),
    [
        ({"employees": {"type": "integer"}}, {}, {}, {}, []),
        (
            {"customer_code": {"type": "text"}},
            {"custom:customer_code": "readable"},
            {"custom:customer_code": "code"},
            {},
            [("fields.custom:customer_code", "ma_unique_field", "spec: unique: false and integrated")],
        ),
        (
            {"customer_code": {"type": "text", "unique": True}},
            {},
            {},
            {},
            [],
        ),
        (
            {"customer_code": {"type": "text"}},
            {},
            {},
            {},
            [
                (
                    "custom_fields.customer_code.unique",
                    "ma_unique_mismatch",
                    "spec: unique: false, MA: unique: true",
                )
            ],
        ),
        (
            {"sales_stage": {"type": "select", "options": ["未接触", "商談中"]}},
            {},
            {},
            {},
            [
                (
                    "custom_fields.sales_stage.options",
                    "ma_options_mismatch",
                    "spec: ['未接触', '商談中'], MA: ['リード', 'SQL', '受注']",
                )
            ],
        ),
        (
            {"employees": {"type": "text"}},
            {},
            {},
            {},
            [("custom_fields.employees.type", "ma_type_mismatch", "spec: text, MA: integer")],
        ),
        (
            {"budget": {"type": "integer"}},
            {},
            {},
            {},
            [("custom_fields.budget", "ma_field_missing", "spec: integer, MA: no such field")],
        ),
        (
            {},
            {},
            {},
            {"cuts": ["02:00", "17:30"]},
            [
                (
                    "cuts[1]",
                    "ma_cut_mismatch",
                    "spec: 17:30, MA: generates action histories and masters at 02:00, 11:00",
                )
            ],
        ),
    ],
)
def test_catalog_problems(
    custom: dict[str, Any],
    fields: dict[str, str],
    mapped: dict[str, str],
    extra: dict[str, Any],
    expected: list[tuple[str, str, str]],
) -> None:
    found = catalog_problems(spec(custom, fields, mapped, **extra), MA)
    assert [(p.path, p.rule) for p in found] == [(path, rule) for path, rule, _ in expected]
    for problem, (_, _, both_values) in zip(found, expected, strict=True):
        assert both_values in problem.hint


def test_a_run_follows_the_ma_whatever_the_spec_says() -> None:
    declared = spec(
        {"customer_code": {"type": "text"}, "sales_stage": {"type": "select", "options": ["未接触"]}},
        {"custom:customer_code": "readable", "custom:sales_stage": "writable"},
        {"custom:customer_code": "code", "custom:sales_stage": "stage"},
    )
    followed = follow_catalog(declared, MA)
    fmap = field_map(followed, followed.targets[0])
    assert [link.ma for link in fmap.links] == ["custom:sales_stage"]
    assert followed.custom_specs()["sales_stage"].options == ("リード", "SQL", "受注")
    assert followed.custom_specs()["customer_code"].unique
    assert MaCatalog.from_wire(MA.to_wire()) == MA
