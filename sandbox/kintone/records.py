"""Record writes with kintone's rules: typed validation, unique fields, revisions, all-or-nothing batches."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from sandbox.kintone.errors import FieldErrors, KintoneError, invalid
from sandbox.kintone.fields import (
    ENTITY_TYPES,
    FILE,
    LAYOUT_ONLY,
    MULTI_CHOICE_TYPES,
    STORED_TYPES,
    SUBTABLE,
    WRITABLE_TYPES,
    FieldDef,
    FieldRuleError,
    entity,
    format_datetime,
    is_number,
    normalize_value,
)
from sandbox.kintone.store import App, Record, Store
from schemas import clock

MAX_WRITE = 100
ADMIN_SETTABLE = frozenset({"CREATED_TIME", "UPDATED_TIME", "CREATOR", "MODIFIER"})
DUPLICATE = "値がほかのレコードと重複しています。"
Row = dict[str, Any]  # a table row as stored and returned: {"id": "368", "value": {code: {type, value}}}


def system_fields() -> dict[str, FieldDef]:
    """The fields every app has; ``$id`` and ``$revision`` appear in records, not in the form."""
    return {
        f.code: f
        for f in (
            FieldDef(type="RECORD_NUMBER", code="レコード番号", label="レコード番号"),
            FieldDef(type="CREATOR", code="作成者", label="作成者"),
            FieldDef(type="CREATED_TIME", code="作成日時", label="作成日時"),
            FieldDef(type="MODIFIER", code="更新者", label="更新者"),
            FieldDef(type="UPDATED_TIME", code="更新日時", label="更新日時"),
            FieldDef(type="STATUS", code="ステータス", label="ステータス"),
            FieldDef(type="STATUS_ASSIGNEE", code="作業者", label="作業者"),
            FieldDef(type="CATEGORY", code="カテゴリー", label="カテゴリー"),
        )
    }


def record_fields(app: App) -> dict[str, FieldDef]:
    """The form's fields plus ``$id`` and ``$revision``: what a query or a ``fields`` list may name."""
    out = {
        "$id": FieldDef(type="__ID__", code="$id"),
        "$revision": FieldDef(type="__REVISION__", code="$revision"),
    }
    out.update({code: f for code, f in app.fields.items() if f.type not in LAYOUT_ONLY})
    return out


def renderer(app: App, wanted: list[str] | None = None) -> Callable[[Record], dict[str, dict[str, Any]]]:
    """Stored records as kintone returns them: ``{code: {"type", "value"}}``, optionally only some fields."""
    fields = record_fields(app)
    codes = [c for c in wanted if c in fields] if wanted else list(fields)
    spec = [(c, fields[c].type, fields[c].default()) for c in codes]

    def render(record: Record) -> dict[str, dict[str, Any]]:
        return {c: {"type": kind, "value": record.get(c, default)} for c, kind, default in spec}

    return render


def _blank_row(table: FieldDef) -> dict[str, Any]:
    return {code: {"type": f.type, "value": f.default()} for code, f in table.fields.items()}


def _key(kind: str, code: str) -> str:
    """Where kintone reports a missing required value of a field of this type."""
    if kind in ENTITY_TYPES:
        return f"{code}.values.value"
    return f"{code}.values" if kind in MULTI_CHOICE_TYPES or kind == FILE else f"{code}.value"


class RecordWriter:
    """One request's writes; errors of every record are gathered, then the whole request fails."""

    def __init__(self, store: Store, app: App, login: str):
        self.store = store
        self.app = app
        self.login = login
        self.errors: FieldErrors = {}
        self.now = format_datetime(clock.now())
        fields = list(app.fields.values())
        # The form read once per request, not once per record: a batch of 100 repeats these rules.
        self.defaults = [(f.code, f.default()) for f in fields if f.type in STORED_TYPES]
        self.required = [f for f in fields if f.required and f.type in STORED_TYPES]
        self.uniques = [f.code for f in fields if f.unique]
        self.numbered = [f.code for f in fields if f.type == "RECORD_NUMBER"]
        self.created = [f.code for f in fields if f.type == "CREATED_TIME"]
        self.updated = [f.code for f in fields if f.type == "UPDATED_TIME"]
        self.keys: dict[str, FieldDef] = {}

    def finish(self) -> None:
        if self.errors:
            raise invalid(self.errors)

    def _apply(self, record: Record, values: Any, prefix: str, *, inserting: bool) -> None:
        if values is None:
            values = {}
        if not isinstance(values, dict):
            self.errors.setdefault(prefix, []).append("値の形式が正しくありません。")
            return
        for code, wrapped in values.items():
            fdef = self.app.fields.get(code)
            if fdef is None or fdef.type in LAYOUT_ONLY:
                continue
            if not isinstance(wrapped, dict) or "value" not in wrapped:
                self.errors.setdefault(f"{prefix}.{code}.value", []).append("必須です。")
                continue
            if fdef.type in ADMIN_SETTABLE and inserting:
                self._admin_value(record, fdef, wrapped["value"], prefix)
            elif fdef.type in WRITABLE_TYPES:
                try:
                    record[code] = normalize_value(fdef, wrapped["value"])
                except FieldRuleError as exc:
                    self.errors.setdefault(exc.path(prefix, code), []).append(exc.message)
            elif fdef.type == SUBTABLE:
                record[code] = self._table(fdef, wrapped["value"], record.get(code) or [], f"{prefix}.{code}")
            elif fdef.type == FILE:
                record[code] = self._files(wrapped["value"], record.get(code) or [], f"{prefix}.{code}")

    def _files(self, sent: Any, current: list[dict[str, str]], path: str) -> list[dict[str, str]]:
        """Attachments as sent: a file the record holds stays (by its download key), an uploaded one
        is attached under a new key, and a file left out is removed."""
        if sent is None or sent == "":
            sent = []
        if not isinstance(sent, list) or not all(
            isinstance(item, dict) and isinstance(item.get("fileKey"), str) for item in sent
        ):
            self.errors.setdefault(f"{path}.values", []).append("値の形式が正しくありません。")
            return current
        held = {item["fileKey"]: item for item in current}
        files: list[dict[str, str]] = []
        for item in sent:
            key = item["fileKey"]
            attached = held.get(key) or self.store.attach_upload(key, self.app.id)
            if attached is None:
                raise KintoneError("GAIA_BL01", key)
            files.append(attached)
        return files

    def _table(self, table: FieldDef, sent: Any, current: list[Row], path: str) -> list[Row]:
        """The rows as sent: a row naming a current row's id keeps its unsent cells, any other row is
        new (a fresh id, defaults for unsent cells), and a current row not sent is deleted."""
        if sent is None:
            sent = []
        if not isinstance(sent, list) or not all(isinstance(row, dict) for row in sent):
            self.errors.setdefault(f"{path}.value", []).append("値の形式が正しくありません。")
            return current
        known = {row["id"]: row for row in current}
        rows: list[Row] = []
        for i, row in enumerate(sent):
            old = known.pop(str(row.get("id")), None)
            cells = copy.deepcopy(old["value"]) if old else _blank_row(table)
            self._cells(table, cells, row.get("value"), f"{path}.value[{i}].value")
            rid = old["id"] if old else str(self.store.next_row_id(self.app))
            rows.append({"id": rid, "value": cells})
        return rows

    def _cells(self, table: FieldDef, cells: dict[str, Any], sent: Any, path: str) -> None:
        if not isinstance(sent, dict):
            sent = {}
        for code, wrapped in sent.items():
            inner = table.fields.get(code)
            if inner is None:
                continue
            raw = wrapped.get("value") if isinstance(wrapped, dict) else None
            if inner.type == "NUMBER" and isinstance(raw, str) and raw.strip() and not is_number(raw):
                raw = ""  # kintone keeps a table's non-numeric number as blank, without an error
            try:
                cells[code] = {"type": inner.type, "value": normalize_value(inner, raw)}
            except FieldRuleError as exc:
                self.errors.setdefault(exc.path(path, code), []).append(exc.message)
        for inner in table.fields.values():
            where = f"{path}.{_key(inner.type, inner.code)}"
            empty = cells.get(inner.code, {}).get("value") in (None, "", [])
            if inner.required and empty and where not in self.errors:
                self.errors[where] = ["必須です。"]

    def _admin_value(self, record: Record, fdef: FieldDef, value: Any, prefix: str) -> None:
        try:
            if fdef.type in ("CREATOR", "MODIFIER"):
                record[fdef.code] = entity(str((value or {}).get("code") or self.login))
            elif value:
                record[fdef.code] = normalize_value(fdef.model_copy(update={"type": "DATETIME"}), value)
        except (FieldRuleError, AttributeError):
            self.errors.setdefault(f"{prefix}.{fdef.code}.value", []).append("値の形式が正しくありません。")

    def _check(self, record: Record, rid: int, prefix: str) -> None:
        """Required and unique rules over the record as it would be stored."""
        for fdef in self.required:
            if record.get(fdef.code) in (None, "", []):
                path = f"{prefix}.{_key(fdef.type, fdef.code)}"
                if "必須です。" not in self.errors.get(path, []):
                    self.errors.setdefault(path, []).append("必須です。")
        index = self.store.unique.get(self.app.id, {})
        for code in self.uniques:
            value = record.get(code)
            if value not in (None, "") and index.get(code, {}).get(str(value), rid) != rid:
                self.errors.setdefault(f"{prefix}.{code}.value", []).append(DUPLICATE)

    def insert(self, values: Any, prefix: str, preset: Record | None = None) -> tuple[int, int]:
        """A new record: defaults, the given values, then the service-maintained fields."""
        rid = self.store.next_record_id(self.app)
        record: Record = {code: copy.deepcopy(v) if isinstance(v, list) else v for code, v in self.defaults}
        record.update(preset or {})
        record.update({"作成者": entity(self.login), "更新者": entity(self.login)})
        self._apply(record, values, prefix, inserting=True)
        self._stamp(record, rid, 1, created=True)
        self._check(record, rid, prefix)
        self.store.put_record(self.app.id, rid, record)  # a failed request is rolled back whole
        return rid, 1

    def update(self, rid: int, values: Any, prefix: str, revision: Any) -> int:
        current = self.store.records[self.app.id].get(rid)
        if current is None:
            raise KintoneError("GAIA_RE01", rid)
        self._check_revision(current, revision)
        record = dict(current)
        self._apply(record, values, prefix, inserting=False)
        new_revision = int(current["$revision"]) + 1
        record["更新者"] = entity(self.login)
        self._stamp(record, rid, new_revision, created=False)
        self._check(record, rid, prefix)
        self.store.put_record(self.app.id, rid, record)
        return new_revision

    @staticmethod
    def _check_revision(current: Record, revision: Any) -> None:
        if revision in (None, "", -1, "-1"):
            return
        if str(revision) != current["$revision"]:
            raise KintoneError("GAIA_CO02", revision)

    def _stamp(self, record: Record, rid: int, revision: int, *, created: bool) -> None:
        record["$id"] = str(rid)
        record["$revision"] = str(revision)
        for code in self.numbered:
            record[code] = str(rid)
        for code in (*self.created, *self.updated) if created else self.updated:
            if not (created and record.get(code)):  # an admin may set both times on insert
                record[code] = self.now

    def find_by_key(self, key: Any, prefix: str) -> tuple[str, str, int | None]:
        """The record an ``updateKey`` names: (field, normalised value, id or None)."""
        if not isinstance(key, dict) or "field" not in key:
            raise invalid({f"{prefix}.updateKey.field": ["必須です。"]})
        code = str(key["field"])
        fdef = self.app.fields.get(code)
        if fdef is None or not fdef.unique or fdef.type not in ("SINGLE_LINE_TEXT", "NUMBER"):
            raise invalid(
                {
                    f"{prefix}.updateKey.field": [
                        "重複禁止が設定された文字列（1行）または数値フィールドを指定してください。"
                    ]
                }
            )
        if code not in self.keys:
            self.keys[code] = fdef.model_copy(update={"required": True})
        try:
            value = normalize_value(self.keys[code], key.get("value"))
        except FieldRuleError as exc:
            raise invalid({f"{prefix}.updateKey.value": [exc.message]}) from None
        return code, str(value), self.store.unique[self.app.id].get(code, {}).get(str(value))

    def delete(self, ids: list[Any], revisions: list[Any] | None) -> None:
        for i, raw in enumerate(ids):
            rid = int(raw)
            current = self.store.records[self.app.id].get(rid)
            if current is None:
                raise KintoneError("GAIA_RE01", rid)
            if revisions and i < len(revisions):
                self._check_revision(current, revisions[i])
            self.store.put_record(self.app.id, rid, None)
