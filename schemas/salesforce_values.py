"""MA values into Salesforce field types as describe() states them, with a clear rule when one cannot fit.

A value that Salesforce would refuse (too long, not an email, not in the picklist, not a number, a
date-time without offset) is refused here first, naming the field and the rule, so one bad value
never costs a request and the user reads what to fix. Required fields left empty take the spec's
``defaults`` (Lead's LastName and Company) or are refused the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from schemas.coerce import CoercionError, parse_date_text, parse_number

EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
TEXT_TYPES = frozenset({"string", "textarea", "phone", "url", "reference", "id", "encryptedstring"})
DECIMAL_TYPES = frozenset({"double", "currency", "percent"})
INTEGER_TYPES = frozenset({"int", "long"})
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on", "はい", "有効"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "off", "いいえ", "無効"})
REQUIRED = "required_field_missing"


@dataclass(frozen=True)
class FieldInfo:
    """What describe() says about one field, as the sync needs it (types, limits, keys)."""

    name: str
    type: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    unique: bool = False
    external_id: bool = False
    defaulted: bool = False
    picklist_values: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], ())


def _fail(field: FieldInfo, rule: str, message: str) -> CoercionError:
    return CoercionError(field.name, rule, f"{field.name} ({field.type}): {message}")


def _text(value: Any) -> str:
    if isinstance(value, list | tuple | set):
        return ";".join(str(v) for v in value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _number(field: FieldInfo, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _fail(field, "not_a_number", f"{value!r} is a yes/no value, not a number")
    try:
        return parse_number(value)
    except ValueError as exc:
        raise _fail(field, "not_a_number", str(exc)) from exc


def _boolean(field: FieldInfo, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise _fail(field, "not_a_boolean", f"{value!r} is not true/false")


def _datetime(field: FieldInfo, value: Any) -> str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        raise _fail(field, "datetime_without_time", f"{value!r} is a date: a date-time with offset is needed")
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise _fail(field, "not_a_datetime", f"{value!r} is not an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        raise _fail(
            field, "datetime_without_offset", f"{value!r} has no UTC offset: the instant is ambiguous"
        )
    return moment.isoformat(timespec="milliseconds")


def _date(field: FieldInfo, value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    try:
        return parse_date_text(value).isoformat()
    except ValueError as exc:
        raise _fail(field, "not_a_date", f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _picklist(field: FieldInfo, items: list[str]) -> None:
    unknown = [i for i in items if field.picklist_values and i not in field.picklist_values]
    if unknown:
        allowed = ", ".join(field.picklist_values[:10])
        raise _fail(field, "not_in_picklist", f"{', '.join(unknown)} is not one of its values ({allowed})")


def to_salesforce(field: FieldInfo, value: Any) -> Any:
    """``value`` as Salesforce takes ``field`` (JSON-ready); empty becomes None."""
    if _empty(value):
        return None
    kind = field.type
    if kind == "boolean":
        return _boolean(field, value)
    if kind in INTEGER_TYPES:
        number = _number(field, value)
        if number != number.to_integral_value():
            raise _fail(field, "not_an_integer", f"{value!r} is not a whole number")
        return int(number)
    if kind in DECIMAL_TYPES:
        return float(_number(field, value))
    if kind == "datetime":
        return _datetime(field, value)
    if kind == "date":
        return _date(field, value)
    text = _text(value).strip() if kind == "email" else _text(value)
    if kind == "email" and not EMAIL.match(text):
        raise _fail(field, "invalid_email", f"{text!r} is not an address Salesforce accepts")
    if kind == "picklist":
        _picklist(field, [text])
    if kind == "multipicklist":
        _picklist(field, [i.strip() for i in text.split(";") if i.strip()])
    if field.length and len(text) > field.length:
        raise _fail(field, "string_too_long", f"{len(text)} characters, at most {field.length} fit")
    return text


def salesforce_record(
    record: Mapping[str, Any],
    fields: Mapping[str, FieldInfo],
    defaults: Mapping[str, str],
    obj: str,
) -> dict[str, Any]:
    """The whole record coerced to ``obj``'s describe(); CoercionError names every field that failed."""
    out: dict[str, Any] = {}
    errors: list[CoercionError] = []
    for name, value in record.items():
        field = fields.get(name)
        try:
            if field is None:
                raise CoercionError(
                    name, "unknown_field", f"{obj} has no field {name}: create it or fix the map"
                )
            if not (field.createable or field.updateable):
                raise _fail(field, "read_only_field", f"{obj}.{name} cannot be written: map it one way only")
            coerced = to_salesforce(field, value)
            if coerced is None and field.required:
                coerced = _default(field, defaults.get(name), obj)
            out[name] = coerced
        except CoercionError as exc:
            errors.append(exc)
    if errors:
        first = errors[0]
        raise CoercionError(first.field, first.rule, "; ".join(str(e) for e in errors))
    return out


def _default(field: FieldInfo, default: str | None, obj: str) -> Any:
    if default is None:
        raise _fail(
            field,
            REQUIRED,
            f"required by {obj} and empty for this customer: fill it in the MA or set "
            f"defaults: {{{field.name}: ...}} on the target",
        )
    return to_salesforce(field, default)


def required_defaults(
    fields: Mapping[str, FieldInfo], defaults: Mapping[str, str], sent: set[str]
) -> dict[str, Any]:
    """Defaults for required fields the record does not carry at all (used when creating it)."""
    return {
        name: to_salesforce(field, defaults[name])
        for name, field in fields.items()
        if field.required and name in defaults and name not in sent
    }
