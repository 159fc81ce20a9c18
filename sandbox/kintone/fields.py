"""Field definitions and the per-type rules: what a value may be written as, and how it is returned.

Stored values are already in kintone's response form (strings, lists, ``None``), so reading a record
is a dictionary copy and the query evaluator compares what a client would see.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TEXT_TYPES = frozenset({"SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "RICH_TEXT", "LINK"})
CHOICE_TYPES = frozenset({"DROP_DOWN", "RADIO_BUTTON"})
MULTI_CHOICE_TYPES = frozenset({"CHECK_BOX", "MULTI_SELECT"})
TIME_TYPES = frozenset({"DATETIME", "CREATED_TIME", "UPDATED_TIME"})
USER_TYPES = frozenset({"CREATOR", "MODIFIER"})
ENTITY_TYPES = frozenset({"USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT"})
SYSTEM_TYPES = (
    frozenset({"RECORD_NUMBER", "__ID__", "__REVISION__"}) | USER_TYPES | {"CREATED_TIME", "UPDATED_TIME"}
)
WRITABLE_TYPES = (
    TEXT_TYPES | CHOICE_TYPES | MULTI_CHOICE_TYPES | ENTITY_TYPES | {"NUMBER", "DATE", "TIME", "DATETIME"}
)
LAYOUT_ONLY = frozenset({"STATUS", "STATUS_ASSIGNEE", "CATEGORY"})
SUBTABLE = "SUBTABLE"
FILE = "FILE"
STORED_TYPES = WRITABLE_TYPES | {SUBTABLE, FILE}  # the fields a record holds a value of
SUPPORTED_TYPES = STORED_TYPES | SYSTEM_TYPES | LAYOUT_ONLY
UNIQUE_TYPES = frozenset({"SINGLE_LINE_TEXT", "NUMBER", "LINK"})

DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::\d{2})?$")


class Option(BaseModel):
    label: str
    index: str


class FieldDef(BaseModel):
    """One field as GET app/form/fields.json describes it (the subset the stand-in enforces)."""

    model_config = ConfigDict(extra="ignore")

    type: str
    code: str
    label: str = ""
    noLabel: bool = False
    required: bool = False
    unique: bool = False
    maxLength: str = ""
    minLength: str = ""
    maxValue: str = ""
    minValue: str = ""
    defaultValue: Any = ""
    options: dict[str, Option] = Field(default_factory=dict)
    entities: list[dict[str, str]] = Field(default_factory=list)  # the choices a user field offers
    fields: dict[str, FieldDef] = Field(default_factory=dict)  # a SUBTABLE's own fields

    def properties(self) -> dict[str, Any]:
        """This field as the form-fields API returns it: only the keys kintone gives for the type."""
        out: dict[str, Any] = {"type": self.type, "code": self.code, "label": self.label or self.code}
        if self.type == SUBTABLE:
            inner = {code: f.properties() for code, f in self.fields.items()}
            return {**out, "noLabel": self.noLabel, "fields": inner}
        if self.type in SYSTEM_TYPES or self.type in LAYOUT_ONLY:
            if self.type in LAYOUT_ONLY:
                out["enabled"] = False
            elif self.type == "RECORD_NUMBER":
                out["noLabel"] = self.noLabel
            return out
        out.update(noLabel=self.noLabel, required=self.required)
        if self.type in UNIQUE_TYPES:
            out["unique"] = self.unique
        if self.type in ("SINGLE_LINE_TEXT", "LINK"):
            out.update(minLength=self.minLength, maxLength=self.maxLength)
        if self.type == "NUMBER":
            out.update(
                minValue=self.minValue, maxValue=self.maxValue, digit=False, unit="", unitPosition="BEFORE"
            )
        if self.type in CHOICE_TYPES | MULTI_CHOICE_TYPES:
            out["options"] = {k: v.model_dump() for k, v in self.options.items()}
        if self.type in ENTITY_TYPES:  # the form keeps the entities as defined: {code, type}
            out.update(entities=self.entities, defaultValue=list(self.defaultValue or []))
            return out
        out["defaultValue"] = self.default()
        return out

    def default(self) -> Any:
        """The stored value a new record gets when the field is omitted."""
        if self.type in MULTI_CHOICE_TYPES:
            return list(self.defaultValue or [])
        if self.type in (SUBTABLE, FILE):  # a new record gets no rows, no files, unless it sends some
            return []
        if self.type in ENTITY_TYPES:  # LOGINUSER() and the like need a login: left out here
            return [entity(e["code"]) for e in self.defaultValue or [] if e.get("type") != "FUNCTION"]
        if self.type == "RADIO_BUTTON":
            return self.defaultValue or next(iter(self.options), "")
        if self.type in ("DROP_DOWN", "DATE", "TIME"):
            return self.defaultValue or None
        return self.defaultValue or ""


FieldDef.model_rebuild()


class FieldRuleError(ValueError):
    """A value that does not fit its field; ``suffix`` is the error path's tail (value / values).

    ``bracket``: kintone names a number that is not one as ``record[code].value``, not ``record.code.value``.
    """

    def __init__(self, message: str, suffix: str = "value", *, bracket: bool = False):
        super().__init__(message)
        self.message = message
        self.suffix = suffix
        self.bracket = bracket

    def path(self, prefix: str, code: str) -> str:
        """Where kintone reports this error for field ``code`` under ``prefix`` (record, records[3] …)."""
        return f"{prefix}[{code}].{self.suffix}" if self.bracket else f"{prefix}.{code}.{self.suffix}"


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def normalize_value(field: FieldDef, raw: Any) -> Any:
    """A request value checked against the field's type and limits, in stored (response) form."""
    kind = field.type
    if type(raw) is str and raw and kind in TEXT_TYPES:  # the common case first: a batch has many
        return _text(field, raw)
    if kind in MULTI_CHOICE_TYPES:
        return _multi_choice(field, raw)
    if kind in ENTITY_TYPES:
        return _entities(field, raw)
    if raw is None:
        raw = ""
    if isinstance(raw, (bool, list, dict)):
        raise FieldRuleError("値の形式が正しくありません。")
    text = str(raw)
    if text == "":
        if field.required:
            raise FieldRuleError("必須です。")
        return (
            field.default()
            if kind in CHOICE_TYPES
            else (None if kind in ("DROP_DOWN", "DATE", "TIME") else "")
        )
    if kind in TEXT_TYPES:
        return _text(field, text)
    if kind == "NUMBER":
        return _number(field, text)
    if kind in CHOICE_TYPES:
        if text not in field.options:
            raise FieldRuleError(f'"{text}"は選択肢にありません。')
        return text
    if kind == "DATE":
        return parse_date(text).isoformat()
    if kind == "TIME":
        match = TIME_RE.match(text)
        if not match or int(match[1]) > 23:
            raise FieldRuleError("時刻の形式が正しくありません。")
        return f"{int(match[1]):02d}:{match[2]}"
    if kind in TIME_TYPES:
        return format_datetime(parse_datetime(text))
    raise FieldRuleError("このフィールドは値を変更できません。")


def _text(field: FieldDef, text: str) -> str:
    if field.maxLength and len(text) > int(field.maxLength):
        raise FieldRuleError(f"{int(field.maxLength) + 1}文字より短くなければなりません。")
    if field.minLength and len(text) < int(field.minLength):
        raise FieldRuleError(f"{int(field.minLength) - 1}文字より長くなければなりません。")
    if field.type == "SINGLE_LINE_TEXT" and ("\n" in text or "\r" in text):
        raise FieldRuleError("改行は使用できません。")
    return text


def is_number(text: str) -> bool:
    try:
        return Decimal(text.strip()).is_finite()
    except InvalidOperation:
        return False


def _number(field: FieldDef, text: str) -> str:
    if not is_number(text):
        raise FieldRuleError("数字でなければなりません。", bracket=True)
    number = Decimal(text.strip())
    if field.maxValue and number > Decimal(field.maxValue):
        raise FieldRuleError(f"{field.maxValue}以下である必要があります。")
    if field.minValue and number < Decimal(field.minValue):
        raise FieldRuleError(f"{field.minValue}以上である必要があります。")
    return format_number(number)


def format_number(number: Decimal) -> str:
    """kintone's canonical number text: "1.5e1" → "15", "2.50" → "2.5"."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _multi_choice(field: FieldDef, raw: Any) -> list[str]:
    if raw is None or raw == "":
        raw = []
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise FieldRuleError("値の形式が正しくありません。", "values")
    for i, value in enumerate(raw):
        if value not in field.options:
            raise FieldRuleError(f'"{value}"は選択肢にありません。', f"values[{i}].value")
    if field.required and not raw:
        raise FieldRuleError("必須です。", "values")
    return list(dict.fromkeys(raw))


def entity(code: str) -> dict[str, str]:
    """A user, organisation or group as kintone returns it; the stand-in has no directory: name = code."""
    return {"code": code, "name": code}


def _entities(field: FieldDef, raw: Any) -> list[dict[str, str]]:
    """USER_SELECT / ORGANIZATION_SELECT / GROUP_SELECT: a list of ``{"code": …}``, names filled in."""
    if raw is None or raw == "":
        raw = []
    if not isinstance(raw, list) or not all(
        isinstance(v, dict) and isinstance(v.get("code"), str) and v["code"] for v in raw
    ):
        raise FieldRuleError("値の形式が正しくありません。", "values.value")
    if field.required and not raw:
        raise FieldRuleError("必須です。", "values.value")
    return [entity(code) for code in dict.fromkeys(v["code"] for v in raw)]


def parse_date(text: str) -> date:
    """DATE input: YYYY-MM-DD, also the padded short forms 2015, 2015-7, 2015-7-5."""
    match = DATE_RE.match(text.strip())
    if not match:
        raise FieldRuleError("日付の形式が正しくありません。")
    try:
        return date(int(match[1]), int(match[2] or 1), int(match[3] or 1))
    except ValueError:
        raise FieldRuleError("日付の形式が正しくありません。") from None


def parse_datetime(text: str) -> datetime:
    """DATETIME input: ISO 8601 with Z or an offset; a bare date is midnight UTC."""
    text = text.strip()
    if DATE_RE.match(text):
        return datetime.combine(parse_date(text), datetime.min.time(), UTC)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FieldRuleError("日時の形式が正しくありません。") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def format_datetime(when: datetime) -> str:
    """UTC with the seconds dropped, as kintone stores every datetime."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")
