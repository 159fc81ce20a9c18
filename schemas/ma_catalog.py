"""The MA's own field catalog (項目定義) is the truth: the spec is checked against it and follows it.

The catalog lists the company's custom fields with type, options and the refuse-duplicates flag, and
the times the MA generates action histories and masters. ``catalog_problems`` names every place the
spec differs (the field, the spec's value and the MA's); ``follow_catalog`` is the spec a run uses:
custom fields as the MA defines them, and a field the MA marks unique never integrated, whatever the
spec says.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.catalog import CUSTOM_PREFIX, CustomFieldSpec, FieldType
from schemas.policy import Direction
from schemas.spec import CustomField, Problem, Spec


@dataclass(frozen=True)
class MaCatalog:
    """What the MA says about one company: its custom fields and its cut times (HH:MM)."""

    custom: dict[str, CustomFieldSpec]
    cut_times: tuple[str, ...]

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> MaCatalog:
        """The ``/fields`` document as the integration API returns it."""
        custom = {
            str(f["name"]).removeprefix(CUSTOM_PREFIX): CustomFieldSpec(
                str(f["name"]).removeprefix(CUSTOM_PREFIX),
                FieldType(f["type"]),
                bool(f.get("unique")),
                str(f.get("label") or ""),
                tuple(f.get("options") or ()),
                f.get("max_length"),
            )
            for f in body["fields"]
            if f.get("custom")
        }
        return cls(custom, tuple(body.get("cut_times") or ()))

    def to_wire(self) -> dict[str, Any]:
        """The inverse of ``from_wire`` (a run hands the catalog it read to its subflows)."""
        fields = [
            {
                "name": CUSTOM_PREFIX + spec.identifier,
                "type": spec.type.value,
                "unique": spec.unique,
                "label": spec.label,
                "options": list(spec.options),
                "max_length": spec.max_length,
                "custom": True,
            }
            for spec in self.custom.values()
        ]
        return {"fields": fields, "cut_times": list(self.cut_times)}


def integrated(spec: Spec, name: str) -> bool:
    """True when the spec gives ``name`` an integration type or maps it on any target."""
    return spec.direction(name) is not Direction.NG or any(name in t.map for t in spec.targets)


def catalog_problems(spec: Spec, ma: MaCatalog) -> list[Problem]:
    """Every difference between the spec and the MA, each naming the field and both values."""
    return [*_field_problems(spec, ma), *_cut_problems(spec, ma)]


def _field_problems(spec: Spec, ma: MaCatalog) -> Iterator[Problem]:
    for ident, declared in spec.custom_fields.items():
        name, path = CUSTOM_PREFIX + ident, f"custom_fields.{ident}"
        truth = ma.custom.get(ident)
        if truth is None:
            yield Problem(
                path,
                name,
                "ma_field_missing",
                f"spec: {declared.type}, MA: no such field — create {ident} in the MA or remove it",
            )
            continue
        if declared.type != truth.type.value:
            yield Problem(
                f"{path}.type",
                name,
                "ma_type_mismatch",
                f"spec: {declared.type}, MA: {truth.type.value} — write type: {truth.type.value}",
            )
        if truth.type in (FieldType.SELECT, FieldType.MULTI_SELECT) and set(declared.options) != set(
            truth.options
        ):
            yield Problem(
                f"{path}.options",
                name,
                "ma_options_mismatch",
                f"spec: {list(declared.options)}, MA: {list(truth.options)} — copy the MA's options",
            )
        if truth.unique and integrated(spec, name):
            yield Problem(
                f"fields.{name}",
                name,
                "ma_unique_field",
                f"spec: unique: {str(declared.unique).lower()} and integrated, MA: refuses duplicate "
                "values (重複不可) — such a field is never integrated: set it to ng and unmap it",
            )
        elif truth.unique != declared.unique:
            yield Problem(
                f"{path}.unique",
                name,
                "ma_unique_mismatch",
                f"spec: unique: {str(declared.unique).lower()}, MA: unique: {str(truth.unique).lower()}"
                f" — write unique: {str(truth.unique).lower()}",
            )


def _cut_problems(spec: Spec, ma: MaCatalog) -> Iterator[Problem]:
    if not ma.cut_times:
        return
    generated = ", ".join(ma.cut_times)
    for index, cut in enumerate(spec.cuts):
        if cut not in ma.cut_times:
            yield Problem(
                f"cuts[{index}]",
                cut,
                "ma_cut_mismatch",
                f"spec: {cut}, MA: generates action histories and masters at {generated} only — "
                f"use those times",
            )


def follow_catalog(spec: Spec, ma: MaCatalog) -> Spec:
    """The spec a run uses: declared custom fields as the MA defines them; MA-unique ones never integrated."""
    custom = {
        ident: declared
        if (truth := ma.custom.get(ident)) is None
        else CustomField(
            type=truth.type.value,
            unique=truth.unique,
            label=declared.label or truth.label,
            options=list(truth.options),
            max_length=truth.max_length if truth.max_length is not None else declared.max_length,
        )
        for ident, declared in spec.custom_fields.items()
    }
    excluded = {CUSTOM_PREFIX + ident for ident, truth in ma.custom.items() if truth.unique}
    targets = [
        t.model_copy(update={"map": {k: v for k, v in t.map.items() if k not in excluded}})
        for t in spec.targets
    ]
    fields = {k: v for k, v in spec.fields.items() if k not in excluded}
    return spec.model_copy(update={"custom_fields": custom, "fields": fields, "targets": targets})
