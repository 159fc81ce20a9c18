"""A target's own fields against the spec (validate --online): each drift at the spec entry to fix.

The drift rules are schemas/audit.py's (a run and `renkei audit` apply the same); here each finding
becomes a spec problem located where the field is named — ``targets[i].match.target``,
``targets[i].map.<MA field>``, ``targets[i].updated_field``, or an action or master app's entry — with
the field the target has that the spec most likely means.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.audit import SchemaDrift
from schemas.mapping import FieldMap
from schemas.spec import Problem
from schemas.spec_keys import suggest
from schemas.targets import ActionTarget


def customer_path(drift: SchemaDrift, fmap: FieldMap, path: str) -> str:
    """The spec entry that names a customer field: the match, an entry of map, or updated_field."""
    if drift.rule == "not_updated_time":
        return f"{path}.updated_field"
    if (drift.ma_field, drift.target_field) == (fmap.key_ma, fmap.key_target):
        return f"{path}.match.target"
    return f"{path}.map.{drift.ma_field}"


def column_path(drift: SchemaDrift, entry: ActionTarget, fields: Mapping[str, str], where: str) -> str:
    """An action or master app's field: its line under ``fields`` when the spec names it, else the entry."""
    column = next((c for c, f in fields.items() if f == drift.target_field and c in entry.fields), None)
    return f"{where}.fields.{column}" if column else where


def drift_problem(drift: SchemaDrift, path: str, fields: Mapping[str, str]) -> Problem:
    """One finding as ``validate`` prints it; a missing field names the closest the target has."""
    guess = closest_field(drift.target_field, fields) if drift.rule == "field_missing" else None
    return Problem(path, drift.target_field, drift.rule, drift.message, suggestion=guess)


def closest_field(name: str, fields: Mapping[str, str]) -> str | None:
    """The target field a mistyped ``name`` most likely means: the one whose label is ``name`` (a label
    written where the code belongs), else the closest code or label (``fields``: code → label)."""
    by_label = {label: code for code, label in fields.items() if label and label not in fields}
    if name in by_label:
        return by_label[name]
    guess = suggest(name, [*fields, *by_label])
    return by_label.get(guess, guess) if guess is not None else None
