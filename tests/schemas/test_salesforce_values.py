"""MA values into Salesforce describe() types: what fits, and the rule named when it does not."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from schemas.coerce import CoercionError
from schemas.salesforce_values import FieldInfo, required_defaults, salesforce_record, to_salesforce

JST = timezone(timedelta(hours=9))
NAME = FieldInfo("LastName", "string", 5, nillable=False)
EMAIL = FieldInfo("Email", "email", 80)
STAGE = FieldInfo("Stage__c", "picklist", 255, picklist_values=("見込み", "商談中"))
TAGS = FieldInfo("Tags__c", "multipicklist", 4099, picklist_values=("A", "B"))
SCORE = FieldInfo("Score__c", "double")
COUNT = FieldInfo("Visits__c", "int")
OPTED = FieldInfo("HasOptedOutOfEmail", "boolean", nillable=False, defaulted=True)
BORN = FieldInfo("Since__c", "date")
SEEN = FieldInfo("Seen__c", "datetime")
PHONE = FieldInfo("Phone", "phone", 40)

FITS: list[tuple[FieldInfo, Any, Any]] = [
    (NAME, "田中", "田中"),
    (NAME, "", None),
    (NAME, "  ", None),
    (PHONE, 312345678, "312345678"),
    (EMAIL, " a@example.co.jp ", "a@example.co.jp"),
    (STAGE, "商談中", "商談中"),
    (TAGS, ["A", "B"], "A;B"),
    (SCORE, "1,234.5", 1234.5),
    (SCORE, 7, 7.0),
    (COUNT, "12", 12),
    (COUNT, 12.0, 12),
    (OPTED, "はい", True),
    (OPTED, "false", False),
    (OPTED, True, True),
    (BORN, "2026/11/28", "2026-11-28"),
    (BORN, datetime(2026, 11, 28, 23, 0, tzinfo=JST), "2026-11-28"),
    (SEEN, datetime(2026, 11, 28, 9, 0, tzinfo=JST), "2026-11-28T09:00:00.000+09:00"),
    (SEEN, "2026-11-28T00:00:00Z", "2026-11-28T00:00:00.000+00:00"),
    (SEEN, None, None),
]

REFUSED: list[tuple[FieldInfo, Any, str]] = [
    (NAME, "長すぎる名前", "string_too_long"),
    (EMAIL, "not-an-address", "invalid_email"),
    (EMAIL, "ａ@example.co.jp", "invalid_email"),
    (STAGE, "受注", "not_in_picklist"),
    (TAGS, "A;Z", "not_in_picklist"),
    (SCORE, "abc", "not_a_number"),
    (SCORE, True, "not_a_number"),
    (SCORE, "NaN", "not_a_number"),
    (COUNT, "1.5", "not_an_integer"),
    (OPTED, "maybe", "not_a_boolean"),
    (BORN, "28 Nov", "not_a_date"),
    (SEEN, "2026-11-28T09:00:00", "datetime_without_offset"),
    (SEEN, datetime(2026, 11, 28), "datetime_without_offset"),
    (SEEN, date(2026, 11, 28), "datetime_without_time"),
    (SEEN, "yesterday", "not_a_datetime"),
]


@pytest.mark.parametrize(("field", "value", "expected"), FITS)
def test_values_that_fit(field: FieldInfo, value: Any, expected: Any) -> None:
    assert to_salesforce(field, value) == expected


@pytest.mark.parametrize(("field", "value", "rule"), REFUSED)
def test_values_refused_name_field_and_rule(field: FieldInfo, value: Any, rule: str) -> None:
    with pytest.raises(CoercionError) as refused:
        to_salesforce(field, value)
    assert refused.value.rule == rule and refused.value.field == field.name
    assert field.name in str(refused.value)


LEAD = {
    f.name: f
    for f in (
        NAME,
        EMAIL,
        FieldInfo("Company", "string", 255, nillable=False),
        FieldInfo("SATORI_Customer_ID__c", "string", 64, external_id=True, unique=True),
        FieldInfo(
            "IsConverted", "boolean", nillable=False, createable=False, updateable=False, defaulted=True
        ),
    )
}


def test_record_takes_defaults_for_empty_required_fields() -> None:
    record = {"SATORI_Customer_ID__c": "h1", "LastName": "", "Company": None, "Email": "a@example.co.jp"}
    out = salesforce_record(record, LEAD, {"LastName": "(未設定)", "Company": "(未設定)"}, "Lead")
    assert out == {
        "SATORI_Customer_ID__c": "h1",
        "LastName": "(未設定)",
        "Company": "(未設定)",
        "Email": "a@example.co.jp",
    }


@pytest.mark.parametrize(
    ("record", "rule", "field", "words"),
    [
        ({"LastName": "田中", "Company": ""}, "required_field_missing", "Company", "defaults"),
        ({"LastName": "田中", "Company": "x", "Fax__c": "1"}, "unknown_field", "Fax__c", "Lead has no field"),
        (
            {"LastName": "田中", "Company": "x", "IsConverted": True},
            "read_only_field",
            "IsConverted",
            "one way",
        ),
        ({"LastName": "長すぎる名前", "Company": "", "Email": "x"}, "string_too_long", "LastName", "Email"),
    ],
)
def test_record_refusals_name_every_failing_field(
    record: dict[str, Any], rule: str, field: str, words: str
) -> None:
    with pytest.raises(CoercionError) as refused:
        salesforce_record(record, LEAD, {}, "Lead")
    assert (refused.value.rule, refused.value.field) == (rule, field)
    assert words in str(refused.value)


def test_required_defaults_only_for_fields_not_sent() -> None:
    defaults = {"LastName": "(未設定)", "Company": "(未設定)", "Email": "x@example.co.jp"}
    assert required_defaults(LEAD, defaults, {"LastName", "SATORI_Customer_ID__c"}) == {"Company": "(未設定)"}
    assert required_defaults(LEAD, {}, set()) == {}
