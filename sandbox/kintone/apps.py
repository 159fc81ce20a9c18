"""Building apps: the preview form, deploy, and a direct path for seed data (demo apps, tests)."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from pydantic import ValidationError

from sandbox.kintone.errors import KintoneError
from sandbox.kintone.fields import (
    SUBTABLE,
    SUPPORTED_TYPES,
    SYSTEM_TYPES,
    WRITABLE_TYPES,
    FieldDef,
    format_datetime,
)
from sandbox.kintone.records import system_fields
from sandbox.kintone.store import App, Store
from schemas import clock


def new_app(store: Store, name: str, space: int | None = None, guest: bool = False) -> App:
    """A fresh app in preview: only the fields every app has; must run inside a transaction."""
    app = App(
        id=store.next_app_id(),
        name=name,
        space=space,
        guest=guest,
        preview=system_fields(),
        created_at=format_datetime(clock.now()),
    )
    store.save_app(app)
    return app


def parse_properties(properties: Any, existing: dict[str, FieldDef], *, adding: bool) -> dict[str, FieldDef]:
    """Field definitions from a form-fields request body, checked as kintone checks them."""
    if not isinstance(properties, dict) or not properties:
        raise KintoneError("CB_VA01", errors={"properties": ["必須です。"]})
    out: dict[str, FieldDef] = {}
    for code, body in properties.items():
        path = f"properties[{code}]"
        if not isinstance(body, dict):
            raise KintoneError("CB_VA01", errors={path: ["値の形式が正しくありません。"]})
        merged = {**(existing[code].model_dump() if code in existing and not adding else {}), **body}
        merged.setdefault("code", code)
        if isinstance(merged.get("fields"), dict):  # a table's fields, each named by its key too
            merged["fields"] = {
                k: {"code": k, **v} if isinstance(v, dict) else v for k, v in merged["fields"].items()
            }
        try:
            fdef = FieldDef.model_validate(merged)
        except ValidationError as exc:
            raise KintoneError("CB_VA01", errors={path: [str(exc.errors()[0]["msg"])]}) from None
        if fdef.type not in SUPPORTED_TYPES or (adding and fdef.type in SYSTEM_TYPES):
            raise KintoneError(
                "CB_VA01", errors={f"{path}.type": [f"{fdef.type}はこのサンドボックスでは作成できません。"]}
            )
        if adding and code in all_codes(existing) | all_codes(out):
            raise KintoneError("CB_VA01", errors={f"{path}.code": ["フィールドコードが重複しています。"]})
        if not adding and code not in existing:
            raise KintoneError("CB_VA01", errors={f"{path}.code": ["指定したフィールドが見つかりません。"]})
        if fdef.unique and fdef.type not in ("SINGLE_LINE_TEXT", "NUMBER", "LINK"):
            raise KintoneError(
                "CB_VA01", errors={f"{path}.unique": ["このフィールドには重複禁止を設定できません。"]}
            )
        if fdef.type == SUBTABLE:
            own = set(existing[code].fields) | {code} if code in existing else {code}
            taken = (all_codes(existing) - own) | all_codes(out) | (set(properties) - {code})
            _check_table(fdef, path, taken)
        out[fdef.code] = fdef
    return out


def all_codes(fields: dict[str, FieldDef]) -> set[str]:
    """Every field code in use, tables' own fields included: codes are unique across the app."""
    return {*fields, *(code for f in fields.values() for code in f.fields)}


def _check_table(table: FieldDef, path: str, taken: set[str]) -> None:
    """A table holds value fields only, none unique, with codes no other field of the app uses."""
    if not table.fields:
        raise KintoneError("CB_VA01", errors={f"{path}.fields": ["必須です。"]})
    for code, inner in table.fields.items():
        where = f"{path}.fields[{code}]"
        if inner.type not in WRITABLE_TYPES:
            raise KintoneError(
                "CB_VA01", errors={f"{where}.type": [f"{inner.type}はテーブルに追加できません。"]}
            )
        if inner.unique:
            raise KintoneError(
                "CB_VA01",
                errors={f"{where}.unique": ["テーブル内のフィールドには重複禁止を設定できません。"]},
            )
        if code in taken:
            raise KintoneError("CB_VA01", errors={f"{where}.code": ["フィールドコードが重複しています。"]})


def deploy(store: Store, app: App, revert: bool = False) -> None:
    """Make the preview settings live — form, layout, general settings (the app's name among them) and
    views — or discard them; must run inside a transaction."""
    updated = app.model_copy(deep=True)
    if revert:
        updated.preview, updated.preview_layout, updated.preview_settings, updated.preview_views = deepcopy(
            (app.fields, app.layout, app.settings, app.views)
        )
    else:
        updated.fields, updated.layout, updated.settings, updated.views = deepcopy(
            (app.preview, app.preview_layout, app.preview_settings, app.preview_views)
        )
        updated.name = updated.settings.get("name", app.name)
        updated.revision = updated.preview_revision
        updated.deployed = True
    store.save_app(updated)


def build_app(
    store: Store, name: str, fields: list[FieldDef], space: int | None = None, guest: bool = False
) -> App:
    """Create, define and deploy an app in one step, as a user would through the preview APIs."""
    with store.transaction():
        app = new_app(store, name, space, guest)
        app.preview.update(
            parse_properties({f.code: f.model_dump() for f in fields}, app.preview, adding=True)
        )
        app.preview_revision += 1
        deploy(store, app)
    return store.apps[app.id]
