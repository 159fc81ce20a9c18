"""The MA's write rules for one customer row: known field, writable, right type, within limits.

Every problem becomes a ``Rejection`` naming the field and the rule, so a bulk call can reject one
row and go on with the others. Values from JSON keep their types; values from CSV or form posts
(``from_text``) are parsed from text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from schemas.catalog import CustomFieldSpec, FieldDef, FieldType, custom_identifier, lookup_field
from schemas.email import normalise_email

NEVER_WRITABLE = frozenset({"score", "status", "hashcode", "customer_id"})
TRUE_TEXT = {"true": True, "1": True, "false": False, "0": False}


class Rejection(Exception):
    """Why a row cannot be written: the rule (code), a message, and the field."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.code = code
        self.message = message
        self.field = field


@dataclass
class Change:
    """A validated row: default-field columns, custom values by identifier, and tags (if sent)."""

    columns: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    tags: list[str] | None = None


def _wrong_type(fdef: FieldDef, expected: str) -> Rejection:
    return Rejection("wrong_type", f"{fdef.name} must be {expected}", fdef.name)


def _text(fdef: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        raise _wrong_type(fdef, "text")
    if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
        raise Rejection("invalid_character", f"{fdef.name} holds a NUL or a lone surrogate", fdef.name)
    if fdef.max_length is not None and len(value) > fdef.max_length:
        raise Rejection("too_long", f"{fdef.name} is longer than {fdef.max_length} characters", fdef.name)
    return value


def _integer(fdef: FieldDef, value: Any, from_text: bool) -> int:
    if from_text and isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _wrong_type(fdef, "an integer") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(fdef, "an integer")
    return value


def _decimal(fdef: FieldDef, value: Any, from_text: bool) -> float:
    if from_text and isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise _wrong_type(fdef, "a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _wrong_type(fdef, "a number")
    return float(value)


def _date(fdef: FieldDef, value: Any) -> str:
    try:
        return date.fromisoformat(value).isoformat() if isinstance(value, str) and len(value) == 10 else ""
    except ValueError:
        pass
    raise _wrong_type(fdef, "a date YYYY-MM-DD")


def _datetime(fdef: FieldDef, value: Any) -> str:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _wrong_type(fdef, "an ISO 8601 date-time with an offset")
    return parsed.isoformat()


def _choice(fdef: FieldDef, value: Any) -> str:
    text = _text(fdef, value)
    if fdef.options and text not in fdef.options:
        raise Rejection("not_an_option", f"{fdef.name} must be one of {', '.join(fdef.options)}", fdef.name)
    return text


def _choices(fdef: FieldDef, value: Any, from_text: bool) -> list[str]:
    if from_text and isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise _wrong_type(fdef, "a list of text")
    return [_choice(fdef, item) for item in value]


def _boolean(fdef: FieldDef, value: Any, from_text: bool) -> bool:
    if from_text and isinstance(value, str) and value.strip().lower() in TRUE_TEXT:
        return TRUE_TEXT[value.strip().lower()]
    if not isinstance(value, bool):
        raise _wrong_type(fdef, "true or false")
    return value


def coerce(fdef: FieldDef, value: Any, from_text: bool = False) -> Any:
    """The stored form of ``value`` for field ``fdef``, or a Rejection."""
    if value is None:
        return None
    match fdef.type:
        case FieldType.INTEGER:
            return _integer(fdef, value, from_text)
        case FieldType.DECIMAL:
            return _decimal(fdef, value, from_text)
        case FieldType.DATE:
            return _date(fdef, value)
        case FieldType.DATETIME:
            return _datetime(fdef, value)
        case FieldType.SELECT:
            return _choice(fdef, value)
        case FieldType.MULTI_SELECT:
            return _choices(fdef, value, from_text)
        case FieldType.BOOLEAN:
            return _boolean(fdef, value, from_text)
        case FieldType.EMAIL:
            normalised = normalise_email(value)
            if normalised.problem is not None:
                raise Rejection(normalised.problem.rule, normalised.problem.message, fdef.name)
            return normalised.value
        case _:
            return _text(fdef, value)


def validate_row(row: dict[str, Any], custom: dict[str, CustomFieldSpec], from_text: bool = False) -> Change:
    """Check every field of a flat row (``custom:<id>`` for custom fields); raise the first Rejection."""
    change = Change()
    for name, value in row.items():
        if not isinstance(name, str):
            raise Rejection("unknown_field", f"unknown field {name!r}", str(name))
        fdef = lookup_field(name, custom)
        if fdef is None:
            raise Rejection("unknown_field", f"unknown field {name!r}: see GET fields", name)
        if name in NEVER_WRITABLE:
            raise Rejection("not_writable", f"{name} is set by the MA and can never be written", name)
        if fdef.system:
            raise Rejection("read_only", f"{name} is maintained by the MA and is read-only", name)
        if name == "email" and value is None:
            raise Rejection("email_missing", "email cannot be cleared", name)
        stored = coerce(fdef, value, from_text)
        if fdef.is_custom:
            change.custom[custom_identifier(name)] = stored
        elif name == "tags":
            change.tags = list(dict.fromkeys(stored or []))
        else:
            change.columns[name] = stored
    return change
