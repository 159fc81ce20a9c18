"""The corpus's pure cases: emails, MA / kintone / Salesforce value coercion, Sansan cards.

Each case asserts the value kept, or the rule that refuses it; nothing raises anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from schemas.cards import select_cards
from schemas.catalog import FieldDef, FieldType
from schemas.coerce import CoercionError, to_ma_value
from schemas.email import normalise_email
from schemas.kintone_values import FieldInfo as KintoneField
from schemas.kintone_values import KintoneValueError, to_kintone_value
from schemas.salesforce_values import FieldInfo as SalesforceField
from schemas.salesforce_values import to_salesforce
from tests.corpus.corpus_cases import params


def _text(case: dict[str, Any], key: str = "raw") -> Any:
    value = case[key]
    if isinstance(value, str):
        return case.get("prefix", "") + value + case.get("suffix", "")
    return value


@pytest.mark.parametrize("case", params("emails"))
def test_email(case: dict[str, Any]) -> None:
    result = normalise_email(_text(case))
    if "rule" in case:
        assert result.problem is not None and result.problem.rule == case["rule"], result
        assert result.value is None and result.problem.message
    else:
        assert result.ok, result.problem
        assert result.value == case.get("email", result.value)
        assert result.value is not None and result.value.isascii()


@pytest.mark.parametrize("case", params("ma_values"))
def test_ma_value(case: dict[str, Any]) -> None:
    field = FieldDef(
        "f",
        FieldType(case["type"]),
        "項目",
        case.get("max_length"),
        tuple(case.get("options", ())),
    )
    if "rule" in case:
        with pytest.raises(CoercionError) as caught:
            to_ma_value(field, case["value"])
        assert (caught.value.field, caught.value.rule) == ("f", case["rule"])
        assert str(caught.value).startswith("f: ")
    else:
        assert to_ma_value(field, case["value"]) == case["out"]


@pytest.mark.parametrize("case", params("kintone_values"))
def test_kintone_value(case: dict[str, Any]) -> None:
    field = KintoneField.model_validate(case["field"])
    if "rule" in case:
        with pytest.raises(KintoneValueError) as caught:
            to_kintone_value(field, case["value"])
        assert (caught.value.field, caught.value.rule) == (field.code, case["rule"])
        assert caught.value.message.startswith(f"{field.code}: ")
    else:
        assert to_kintone_value(field, case["value"]) == case["out"]


@pytest.mark.parametrize("case", params("salesforce_values"))
def test_salesforce_value(case: dict[str, Any]) -> None:
    spec = dict(case["field"])
    spec["picklist_values"] = tuple(spec.get("picklist_values", ()))
    field = SalesforceField(**spec)
    value = _text(case, "value")
    if "rule" in case:
        with pytest.raises(CoercionError) as caught:
            to_salesforce(field, value)
        assert (caught.value.field, caught.value.rule) == (field.name, case["rule"])
        assert str(caught.value).startswith(f"{field.name} ({field.type}): ")
    else:
        assert to_salesforce(field, value) == case["out"]


@dataclass(frozen=True)
class Card:
    id: str
    person_id: str | None
    exchange_date: date | None
    email: str | None
    entry_status: str = "completed"
    updated_time: datetime = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("case", params("cards"))
def test_cards(case: dict[str, Any]) -> None:
    cards = [Card(c[0], c[1], c[2], c[3], *c[4:]) for c in case["cards"]]
    selection = select_cards(cards, case.get("duplicates", "reject"))
    assert selection.card_count == len(cards)  # nothing lost
    assert {s.card.id: s.email for s in selection.selected} == case["selected"]
    assert {r.card.id: r.rule for r in selection.rejected} == case.get("rejected", {})
    assert all(r.field == "email" and r.message for r in selection.rejected)
    assert [c.id for c in selection.superseded] == case.get("superseded", [])
    assert [c.id for c in selection.pending] == case.get("pending", [])
