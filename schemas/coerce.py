"""Values from a target into MA field types, with a clear rule when a value cannot fit."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas.catalog import FieldDef, FieldType

THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
MAX_DIGITS = 31  # more integer digits than any target holds (int64 has 19, Salesforce 18)
INT64 = 2**63 - 1


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
            number = parse_number(value)
            if number != number.to_integral_value():
                raise CoercionError(
                    field.name, "not_an_integer", f"{field.name}: {value!r} is not a whole number"
                )
            if abs(number) > INT64:
                raise CoercionError(
                    field.name, "out_of_range", f"{field.name}: {value!r} is beyond the MA's integer range"
                )
            return int(number)
        if kind is FieldType.DECIMAL:
            return float(parse_number(value))
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
    if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
        raise CoercionError(
            field.name,
            "invalid_character",
            f"{field.name}: holds a NUL or half of a UTF-16 surrogate pair (text cut mid-character?)",
        )
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
    return parse_date_text(value)


def parse_number(value: Any) -> Decimal:
    """A finite number from text or a number: full-width digits are read, commas only as thousands
    separators (``1,2`` is refused, never read as 12); ValueError says why not."""
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if "," in text:
        if not THOUSANDS.match(text):
            raise ValueError(f"{value!r}: a comma may only separate thousands")
        text = text.replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite() or number.adjusted() >= MAX_DIGITS:
        raise ValueError(f"{value!r} is not a finite number of at most {MAX_DIGITS} digits")
    return number


def parse_date_text(value: Any) -> date:
    """YYYY-MM-DD (or YYYY/MM/DD), alone or starting an ISO date-time; ``2024-01-0112`` is refused,
    never cut to 2024-01-01."""
    text = str(value).strip()
    if len(text) > 10 and text[10] not in "T ":
        raise ValueError(f"{value!r} is not a date")
    return date.fromisoformat(text[:10].replace("/", "-"))


def _boolean(field: FieldDef, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise CoercionError(field.name, "invalid_value", f"{field.name}: {value!r} is not true or false")
