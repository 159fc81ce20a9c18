"""MA values as kintone field values (MA → kintone), and which MA types a kintone field can hold.

kintone refuses a whole batch for one value that does not fit, so every value is checked against its
field's type and limits before it is sent: a value that cannot fit becomes a rejection naming the
field and the rule (選択肢にない値, 文字数超過 …) instead of a failed request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from schemas.catalog import FieldType
from schemas.coerce import parse_date_text, parse_number

TENANT_TZ = ZoneInfo("Asia/Tokyo")  # kintone reads DATE and TIME values as the tenant's local day
TEXT_TYPES = frozenset({"SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "RICH_TEXT", "LINK"})
CHOICE_TYPES = frozenset({"DROP_DOWN", "RADIO_BUTTON"})
MULTI_CHOICE_TYPES = frozenset({"CHECK_BOX", "MULTI_SELECT"})
WRITABLE_TYPES = TEXT_TYPES | CHOICE_TYPES | MULTI_CHOICE_TYPES | {"NUMBER", "DATE", "DATETIME", "TIME"}
READ_ONLY_TYPES = frozenset({"CALC", "RECORD_NUMBER", "CREATED_TIME", "UPDATED_TIME"})
TIME_TEXT = re.compile(r"^(\d{1,2}):(\d{2})(?::\d{2})?$")
KEY_TYPES = frozenset({"SINGLE_LINE_TEXT", "NUMBER"})  # what an upsert updateKey may be

_T = FieldType
# the kintone types that can hold each MA type (outbound); inbound also accepts READ_ONLY_FITS
FITS: dict[FieldType, frozenset[str]] = {
    _T.TEXT: TEXT_TYPES | CHOICE_TYPES,
    _T.TEXTAREA: frozenset({"MULTI_LINE_TEXT", "RICH_TEXT"}),
    _T.EMAIL: frozenset({"SINGLE_LINE_TEXT", "LINK"}),
    _T.INTEGER: frozenset({"NUMBER", "SINGLE_LINE_TEXT"}),
    _T.DECIMAL: frozenset({"NUMBER", "SINGLE_LINE_TEXT"}),
    _T.DATE: frozenset({"DATE", "DATETIME", "SINGLE_LINE_TEXT"}),
    _T.DATETIME: frozenset({"DATETIME", "DATE", "SINGLE_LINE_TEXT"}),
    _T.SELECT: CHOICE_TYPES | {"SINGLE_LINE_TEXT"},
    _T.MULTI_SELECT: MULTI_CHOICE_TYPES,
    _T.BOOLEAN: CHOICE_TYPES | {"SINGLE_LINE_TEXT", "NUMBER"},
}
READ_ONLY_FITS: dict[FieldType, frozenset[str]] = {
    _T.TEXT: frozenset({"CALC", "RECORD_NUMBER"}),
    _T.INTEGER: frozenset({"CALC"}),
    _T.DECIMAL: frozenset({"CALC"}),
    _T.DATETIME: frozenset({"CREATED_TIME", "UPDATED_TIME"}),
}


class FieldInfo(BaseModel):
    """One field of an app's form (GET app/form/fields.json), as the sync maps and coerces values."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    code: str
    type: str
    label: str = ""
    required: bool = False
    unique: bool = False
    max_length: str = PydanticField("", alias="maxLength")
    min_length: str = PydanticField("", alias="minLength")
    max_value: str = PydanticField("", alias="maxValue")
    min_value: str = PydanticField("", alias="minValue")
    options: dict[str, dict[str, str]] = PydanticField(default_factory=dict)

    @property
    def choices(self) -> list[str]:
        return sorted(self.options, key=lambda k: int(self.options[k].get("index", 0)))


class KintoneValueError(ValueError):
    """A value that cannot fit its kintone field: the field code, the rule broken, and what to do."""

    def __init__(self, field: str, rule: str, message: str):
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


def fits(ma_type: FieldType, kintone_type: str, *, outbound: bool) -> bool:
    """Whether a kintone field of ``kintone_type`` can carry an MA field of ``ma_type``."""
    if kintone_type in FITS.get(ma_type, frozenset()):
        return True
    return not outbound and kintone_type in READ_ONLY_FITS.get(ma_type, frozenset())


def kintone_record(values: Mapping[str, Any], form: Mapping[str, FieldInfo]) -> dict[str, Any]:
    """Every value of a record in its field's wire form; the first problem (of all found) is raised."""
    out: dict[str, Any] = {}
    problems: list[KintoneValueError] = []
    for code, value in values.items():
        field = form.get(code)
        if field is None:
            problems.append(
                KintoneValueError(code, "field_missing", f"{code}: the app has no field with this code")
            )
            continue
        try:
            out[code] = to_kintone_value(field, value)
        except KintoneValueError as exc:
            problems.append(exc)
    if problems:
        first = problems[0]
        rules = "; ".join(p.message for p in problems)
        raise KintoneValueError(first.field, first.rule, rules)
    return out


def to_kintone_value(field: FieldInfo, value: Any) -> Any:
    """``value`` as kintone takes it for ``field``; KintoneValueError when it cannot fit."""
    kind, code = field.type, field.code
    if kind not in WRITABLE_TYPES:
        raise KintoneValueError(code, "not_writable", f"{code}: a {kind} field cannot be written")
    if _empty(value):
        if field.required:
            raise KintoneValueError(code, "required", f"{code}: the field is required and the value is empty")
        return [] if kind in MULTI_CHOICE_TYPES else ""
    if kind in MULTI_CHOICE_TYPES:
        return _choices(field, value)
    if kind in CHOICE_TYPES:
        text = _text(value)
        if text not in field.options:
            raise KintoneValueError(
                code, "unknown_option", f"{code}: {text!r} is not one of its options {field.choices}"
            )
        return text
    if kind == "NUMBER":
        return _number(field, value)
    if kind == "DATE":
        return _date(code, value).isoformat()
    if kind == "DATETIME":
        return _datetime(code, value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")
    if kind == "TIME":
        return _time(code, value)
    return _limited_text(field, _text(value))


def _empty(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        return _canonical(Decimal(str(value)))
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    return str(value)


def _limited_text(field: FieldInfo, text: str) -> str:
    code = field.code
    if field.max_length and len(text) > int(field.max_length):
        raise KintoneValueError(
            code,
            "too_long",
            f"{code}: {len(text)} characters, the field allows at most {field.max_length}",
        )
    if field.min_length and len(text) < int(field.min_length):
        raise KintoneValueError(
            code, "too_short", f"{code}: {len(text)} characters, the field needs at least {field.min_length}"
        )
    if field.type == "SINGLE_LINE_TEXT" and ("\n" in text or "\r" in text):
        raise KintoneValueError(
            code, "line_break", f"{code}: a single-line text field cannot hold a line break"
        )
    return text


def _choices(field: FieldInfo, value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple | set | frozenset) else str(value).split(";")
    chosen = list(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))
    unknown = [v for v in chosen if v not in field.options]
    if unknown:
        raise KintoneValueError(
            field.code,
            "unknown_option",
            f"{field.code}: {', '.join(map(repr, unknown))} not among its options {field.choices}",
        )
    return chosen


def _canonical(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _number(field: FieldInfo, value: Any) -> str:
    code = field.code
    if isinstance(value, bool):
        raise KintoneValueError(code, "not_a_number", f"{code}: {value!r} is not a number")
    try:
        number = parse_number(value)
    except ValueError as exc:
        raise KintoneValueError(code, "not_a_number", f"{code}: {exc}") from None
    if field.max_value and number > Decimal(field.max_value):
        raise KintoneValueError(
            code, "out_of_range", f"{code}: {value} is above its maximum {field.max_value}"
        )
    if field.min_value and number < Decimal(field.min_value):
        raise KintoneValueError(
            code, "out_of_range", f"{code}: {value} is below its minimum {field.min_value}"
        )
    return _canonical(number)


def _date(code: str, value: Any) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(TENANT_TZ) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    try:
        return parse_date_text(value)
    except ValueError:
        raise KintoneValueError(
            code, "invalid_date", f"{code}: {value!r} is not a date (YYYY-MM-DD)"
        ) from None


def _datetime(code: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        return datetime.combine(value, time(), TENANT_TZ)
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise KintoneValueError(
                code, "invalid_datetime", f"{code}: {value!r} is not an ISO 8601 date and time"
            ) from None
    if parsed.tzinfo is None:
        raise KintoneValueError(
            code, "datetime_without_offset", f"{code}: {value!r} has no UTC offset, so its instant is unknown"
        )
    return parsed


def _time(code: str, value: Any) -> str:
    if isinstance(value, datetime):
        return (value.astimezone(TENANT_TZ) if value.tzinfo else value).strftime("%H:%M")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    match = TIME_TEXT.match(str(value).strip())
    if not match or int(match[1]) > 23:
        raise KintoneValueError(code, "invalid_time", f"{code}: {value!r} is not a time (HH:MM)")
    return f"{int(match[1]):02d}:{match[2]}"
