"""What in a target would stop a clean one-to-one sync: shared and bad emails, schema drift.

Pure decisions over what a target's scan read (its records' emails, its form or describe); the
scans themselves are in each kind's adapter (tasks/targets/), the rendering in flows/.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from schemas.catalog import CustomFieldSpec, lookup_field
from schemas.email import group_by_email
from schemas.kintone_values import KEY_TYPES, FieldInfo, fits
from schemas.mapping import FieldMap
from schemas.salesforce_values import FieldInfo as SalesforceField


@dataclass(frozen=True)
class DuplicateEmail:
    """One normalised address held by several records: none of them can be matched one-to-one."""

    email: str
    record_ids: tuple[str, ...]


@dataclass(frozen=True)
class BadEmail:
    record_id: str
    raw: str | None
    rule: str
    message: str


@dataclass(frozen=True)
class SchemaDrift:
    """A mapped field the target does not have, or has in a form the sync cannot use."""

    target_field: str
    ma_field: str
    rule: str
    message: str


@dataclass
class AuditReport:
    target: str
    kind: str
    scanned: int = 0
    duplicates: list[DuplicateEmail] = field(default_factory=list)
    bad_emails: list[BadEmail] = field(default_factory=list)
    drift: list[SchemaDrift] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.duplicates or self.bad_emails or self.drift)


def email_findings(records: Iterable[tuple[str, object]]) -> tuple[int, list[DuplicateEmail], list[BadEmail]]:
    """(records seen, shared emails with every record id, unusable emails with the rule) of (id, email)."""
    rows = list(records)
    grouping = group_by_email(rows, lambda row: row[1])
    duplicates = [DuplicateEmail(c.email, tuple(rid for rid, _ in c.rows)) for c in grouping.conflicts]
    bad = [BadEmail(rid, p.raw, p.rule, p.message) for (rid, _), p in grouping.invalid]
    return len(rows), duplicates, bad


def kintone_drift(
    fmap: FieldMap,
    form: Mapping[str, FieldInfo],
    custom: dict[str, CustomFieldSpec],
    updated_field: str | None = None,
) -> list[SchemaDrift]:
    """Mapped fields the customer app lacks or types that cannot carry them; the key must be unique."""
    drift: list[SchemaDrift] = []
    key = form.get(fmap.key_target)
    if key is None:
        drift.append(_missing(fmap.key_target, fmap.key_ma))
    elif key.type not in KEY_TYPES or not key.unique:
        drift.append(
            SchemaDrift(
                fmap.key_target,
                fmap.key_ma,
                "key_not_unique",
                f"{fmap.key_target} is the match key: make it a single-line text or number field "
                "with 重複禁止 (prohibit duplicate values)",
            )
        )
    for link in fmap.links:
        found = form.get(link.target)
        ma_field = lookup_field(link.ma, custom)
        if found is None:
            drift.append(_missing(link.target, link.ma))
        elif ma_field is not None and not fits(ma_field.type, found.type, outbound=link.direction.reads):
            way = "written from" if link.direction.reads else "read into"
            drift.append(
                SchemaDrift(
                    link.target,
                    link.ma,
                    "incompatible_type",
                    f"{link.target} is {found.type}: it cannot be {way} {link.ma} ({ma_field.type.value})",
                )
            )
    stamp = form.get(updated_field) if updated_field is not None else None
    if updated_field is not None and (stamp is None or stamp.type != "UPDATED_TIME"):
        drift.append(
            SchemaDrift(
                updated_field, "updated_at", "not_updated_time", f"{updated_field} is not an 更新日時 field"
            )
        )
    return drift


def action_drift(
    app: int, fields: Iterable[str], event_field: str, form: Mapping[str, FieldInfo]
) -> list[SchemaDrift]:
    """An action app must have every mapped field and a unique event-id field."""
    drift = [_missing(code, f"action app {app}") for code in fields if code not in form]
    event = form.get(event_field)
    if event is not None and (event.type not in KEY_TYPES or not event.unique):
        drift.append(
            SchemaDrift(
                event_field,
                "event_id",
                "key_not_unique",
                f"{event_field} in app {app} must be unique (重複禁止)",
            )
        )
    return drift


def salesforce_drift(fmap: FieldMap, obj: str, described: Mapping[str, SalesforceField]) -> list[SchemaDrift]:
    """Mapped fields the object lacks; the match key must be an External ID (or unique) field."""
    drift = [_missing(link.target, link.ma, obj) for link in fmap.links if link.target not in described]
    key = described.get(fmap.key_target)
    if key is None:
        drift.insert(0, _missing(fmap.key_target, fmap.key_ma, obj))
    elif not (key.external_id or key.unique):
        drift.insert(
            0,
            SchemaDrift(
                fmap.key_target,
                fmap.key_ma,
                "key_not_unique",
                f"{fmap.key_target} is the match key: mark it External ID (外部ID) and unique in {obj}",
            ),
        )
    return drift


def salesforce_object_drift(
    obj: str,
    fields: Iterable[str],
    described: Mapping[str, SalesforceField],
    customer: tuple[str, str] | None = None,
) -> list[SchemaDrift]:
    """An action or master object must have every mapped field; an action's customer key (``customer``:
    the key field and the customer object) may instead be a lookup to the customer's record."""
    linked = customer is not None and any(
        f.type == "reference" and customer[1] in f.reference_to for f in described.values()
    )
    return [
        _missing(code, f"{obj} object", obj)
        for code in dict.fromkeys(fields)
        if code not in described and not (linked and customer is not None and code == customer[0])
    ]


def _missing(code: str, ma_field: str, where: str = "the app") -> SchemaDrift:
    return SchemaDrift(
        code, ma_field, "field_missing", f"{code} is mapped but {where} has no field with this code"
    )
