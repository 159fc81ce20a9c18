"""Values from a target into MA field types, with a clear rule when a value cannot fit."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas.catalog import FieldDef, FieldType


class CoercionError(ValueError):
    def __init__(self, field: str, rule: str, message: str):
        self.field = field
        self.rule = rule
        super().__init__(message)


def to_ma_value(field: FieldDef, value: Any) -> Any:
    """``value`` as the MA stores ``field``; empty text becomes None."""
    if value is None or (isinstance(value, str) and not value.strip()) or value == []:
        return [] if field.type is FieldType.MULTI_SELECT else None
    kind = field.type
    try:
        if kind is FieldType.INTEGER:
            number = Decimal(str(value).replace(",", "").strip())
            if number != number.to_integral_value():
                raise CoercionError(
                    field.name, "not_an_integer", f"{field.name}: {value!r} is not a whole number"
                )
            return int(number)
        if kind is FieldType.DECIMAL:
            return float(Decimal(str(value).replace(",", "").strip()))
        if kind is FieldType.DATE:
            return _date(value).isoformat()
        if kind is FieldType.DATETIME:
            parsed = (
                value
                if isinstance(value, datetime)
                else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            )
            if parsed.tzinfo is None:
                raise CoercionError(
                    field.name, "datetime_without_offset", f"{field.name}: {value!r} has no offset"
                )
            return parsed.isoformat()
        if kind is FieldType.BOOLEAN:
            return _boolean(field, value)
        if kind is FieldType.MULTI_SELECT:
            items = value if isinstance(value, list | tuple) else str(value).split(";")
            return [str(v).strip() for v in items if str(v).strip()]
    except (InvalidOperation, ValueError) as exc:
        if isinstance(exc, CoercionError):
            raise
        raise CoercionError(
            field.name, "invalid_value", f"{field.name}: {value!r} is not a valid {kind.value}"
        ) from exc
    text = str(value)
    if field.options and kind is FieldType.SELECT and text not in field.options:
        raise CoercionError(
            field.name, "unknown_option", f"{field.name}: {text!r} is not one of {list(field.options)}"
        )
    if field.max_length is not None and len(text) > field.max_length:
        raise CoercionError(
            field.name, "too_long", f"{field.name}: longer than {field.max_length} characters"
        )
    return text


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10].replace("/", "-"))


def _boolean(field: FieldDef, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise CoercionError(field.name, "invalid_value", f"{field.name}: {value!r} is not true or false")
