"""The direction policy as a table: every default field against every integration type."""

from __future__ import annotations

import pytest

from schemas.catalog import DEFAULT_FIELDS, CustomFieldSpec, FieldDef, FieldType, catalog, lookup_field
from schemas.policy import Direction, check_direction

NEVER_WRITABLE = {"score", "status", "hashcode", "customer_id", "segments", "created_at", "updated_at"}
NEVER_INTEGRATED = {"delivery_status", "mail_status"}


def expected_rule(name: str, direction: Direction) -> str | None:
    if direction is Direction.NG:
        return None
    if name in NEVER_INTEGRATED:
        return "never_integrated"
    if direction.writes and name in NEVER_WRITABLE:
        return "never_writable"
    return None


@pytest.mark.parametrize("field", DEFAULT_FIELDS, ids=lambda f: f.name)
@pytest.mark.parametrize("direction", list(Direction), ids=lambda d: d.value)
def test_default_field(field: FieldDef, direction: Direction) -> None:
    violation = check_direction(field, direction)
    assert (violation.rule if violation else None) == expected_rule(field.name, direction)


def test_catalog_names_match_the_public_api() -> None:
    names = {f.name for f in DEFAULT_FIELDS}
    assert {
        "email",
        "last_name",
        "first_name",
        "last_name_reading",
        "first_name_reading",
        "lead_company_name",
        "department",
        "title",
        "phone_number",
        "mobile_phone_number",
        "fax",
        "postcode",
        "address",
        "url",
        "collection_route",
        "collection_date",
        "memo",
        "star",
        "status",
        "score",
        "hashcode",
        "customer_id",
        "delivery_permission",
        "delivery_status",
        "mail_status",
        "tags",
        "segments",
        "created_at",
        "updated_at",
    } == names


@pytest.mark.parametrize("direction", [Direction.READABLE, Direction.WRITABLE, Direction.READABLE_WRITABLE])
def test_unique_custom_field_is_never_integrated(direction: Direction) -> None:
    custom = {
        "code": CustomFieldSpec("code", FieldType.TEXT, unique=True),
        "stage": CustomFieldSpec("stage", FieldType.SELECT),
    }
    unique_field = lookup_field("custom:code", custom)
    plain_field = lookup_field("custom:stage", custom)
    assert unique_field is not None and plain_field is not None
    violation = check_direction(unique_field, direction)
    assert violation is not None and violation.rule == "never_integrated"
    assert check_direction(plain_field, direction) is None
    assert [f.name for f in catalog(custom)][-2:] == ["custom:code", "custom:stage"]


def test_unknown_fields_are_not_in_the_catalog() -> None:
    assert lookup_field("nickname") is None
    assert lookup_field("custom:nothing", {}) is None
