"""Field-level checks of one incoming record: names, types, lengths, e-mail format."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sandbox.salesforce.errors import RecordError
from sandbox.salesforce.objects import TEXT_TYPES, FieldSpec, ObjectSpec
from sandbox.salesforce.soql import parse_datetime
from sandbox.salesforce.soql_exec import format_datetime

EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
NUMBER_TYPES = frozenset({"double", "int", "currency", "percent"})
CSV_NULL = "#N/A"


def _label(spec: FieldSpec) -> str:
    return spec.describe()["label"]


def _coerce(spec: FieldSpec, raw: Any) -> Any:
    """The stored form of one value; ValueError when it is not of the field's type."""
    if raw is None:
        return None
    kind = spec.type
    if kind in TEXT_TYPES:
        if isinstance(raw, bool | dict | list):
            raise ValueError
        return str(raw)
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ValueError
    if kind == "datetime":
        return format_datetime(parse_datetime(str(raw)))
    if kind == "date":
        return date.fromisoformat(str(raw)[:10]).isoformat()
    if kind in NUMBER_TYPES:
        if isinstance(raw, bool):
            raise ValueError
        number = float(raw)
        return int(number) if kind == "int" else number
    raise ValueError


def prepare(
    obj: ObjectSpec, values: dict[str, Any], *, creating: bool, from_csv: bool = False
) -> tuple[dict[str, Any], list[RecordError]]:
    """Clean values keyed by API name, and every problem found (not only the first)."""
    clean: dict[str, Any] = {}
    errors: list[RecordError] = []
    locked: list[str] = []
    for name, raw in values.items():
        if name == "attributes":
            continue
        spec = obj.field(name)
        if spec is None:
            errors.append(
                RecordError(
                    "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", (name,)
                )
            )
            continue
        if from_csv:
            if raw == "":
                continue
            raw = None if raw == CSV_NULL else raw
        if spec.name == "Id":
            continue
        if not (spec.createable if creating else spec.updateable):
            locked.append(spec.name)
            continue
        try:
            value = _coerce(spec, raw)
        except (TypeError, ValueError):
            errors.append(
                RecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{_label(spec)}: value not of required type: {raw}",
                    (spec.name,),
                )
            )
            continue
        if isinstance(value, str) and spec.length and len(value) > spec.length:
            errors.append(
                RecordError(
                    "STRING_TOO_LONG",
                    f"{_label(spec)}: data value too large: {value[:60]} (max length={spec.length})",
                    (spec.name,),
                )
            )
            continue
        if spec.type == "email" and value and not EMAIL.match(value):
            errors.append(
                RecordError(
                    "INVALID_EMAIL_ADDRESS", f"{_label(spec)}: invalid email address: {value}", (spec.name,)
                )
            )
            continue
        clean[spec.name] = value
    if locked:
        errors.append(
            RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to {'create' if creating else 'update'} fields: {', '.join(locked)}. Please check "
                "the security settings of this field and verify that it is read/write for your profile.",
                tuple(locked),
            )
        )
    return clean, errors


def missing_required(obj: ObjectSpec, merged: dict[str, Any]) -> RecordError | None:
    missing = [f.name for f in obj.fields.values() if f.required and merged.get(f.name) in (None, "")]
    if not missing:
        return None
    return RecordError(
        "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", tuple(missing)
    )
