"""The app APIs: app.json, form fields and layout, and the preview / deploy APIs that build an app."""

from __future__ import annotations

from typing import Any

from sandbox.kintone.apps import deploy, new_app, parse_properties
from sandbox.kintone.context import Context, as_list
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.records import user
from sandbox.kintone.store import App

Body = dict[str, Any]


def get_app(ctx: Context) -> Body:
    app = ctx.app("view", name="id")
    return {
        "appId": str(app.id),
        "code": "",
        "name": app.name,
        "description": "",
        "spaceId": None if app.space is None else str(app.space),
        "threadId": None if app.space is None else str(app.space),
        "createdAt": app.created_at,
        "creator": user(ctx.state.user),
        "modifiedAt": app.created_at,
        "modifier": user(ctx.state.user),
    }


def _form(app: App, preview: bool) -> Body:
    fields = app.preview if preview else app.fields
    revision = app.preview_revision if preview else app.revision
    return {"properties": {c: f.properties() for c, f in fields.items()}, "revision": str(revision)}


def get_fields(ctx: Context) -> Body:
    return _form(ctx.app("view"), preview=False)


def get_layout(ctx: Context) -> Body:
    app = ctx.app("view")
    rows = [
        {"type": "ROW", "fields": [{"type": f.type, "code": f.code, "size": {}}]}
        for f in app.fields.values()
        if f.type not in ("RECORD_NUMBER", "CREATOR", "MODIFIER", "CREATED_TIME", "UPDATED_TIME")
        and f.type not in ("STATUS", "STATUS_ASSIGNEE", "CATEGORY")
    ]
    return {"layout": rows, "revision": str(app.revision)}


def _admin_app(ctx: Context) -> App:
    ctx.caller.require_password()
    return ctx.app()


def get_preview_fields(ctx: Context) -> Body:
    return _form(_admin_app(ctx), preview=True)


def _check_revision(app: App, revision: Any) -> None:
    if revision not in (None, "", -1, "-1") and str(revision) != str(app.preview_revision):
        raise KintoneError("GAIA_CO02", revision)


def change_preview_fields(ctx: Context, *, adding: bool) -> Body:
    app = _admin_app(ctx)
    _check_revision(app, ctx.params.get("revision"))
    with ctx.store.transaction():
        changed = app.model_copy(deep=True)
        changed.preview.update(parse_properties(ctx.params.get("properties"), app.preview, adding=adding))
        changed.preview_revision += 1
        ctx.store.save_app(changed)
    return {"revision": str(changed.preview_revision)}


def post_preview_fields(ctx: Context) -> Body:
    return change_preview_fields(ctx, adding=True)


def put_preview_fields(ctx: Context) -> Body:
    return change_preview_fields(ctx, adding=False)


def delete_preview_fields(ctx: Context) -> Body:
    app = _admin_app(ctx)
    _check_revision(app, ctx.params.get("revision"))
    codes = as_list(ctx.params.get("fields")) or []
    with ctx.store.transaction():
        changed = app.model_copy(deep=True)
        for code in codes:
            if code not in changed.preview or changed.preview[code].type in ("RECORD_NUMBER", "CREATOR"):
                raise KintoneError("CB_VA01", errors={"fields": [f"{code}は削除できません。"]})
            del changed.preview[code]
        changed.preview_revision += 1
        ctx.store.save_app(changed)
    return {"revision": str(changed.preview_revision)}


def post_preview_app(ctx: Context) -> Body:
    ctx.caller.require_password()
    name = ctx.param("name")
    space = ctx.space if ctx.space is not None else ctx.params.get("space")
    with ctx.store.transaction():
        app = new_app(ctx.store, str(name), int(space) if space else None, guest=ctx.space is not None)
    return {"app": str(app.id), "revision": str(app.preview_revision)}


def post_deploy(ctx: Context) -> Body:
    ctx.caller.require_password()
    items = as_list(ctx.params.get("apps"))
    if not items:
        raise KintoneError("CB_VA01", errors={"apps": ["必須です。"]})
    with ctx.store.transaction():
        for item in items:
            ctx.params["app"] = item.get("app") if isinstance(item, dict) else item
            app = ctx.app()
            if isinstance(item, dict):
                _check_revision(app, item.get("revision"))
            deploy(ctx.store, app, revert=bool(ctx.params.get("revert")))
    return {}


def get_deploy(ctx: Context) -> Body:
    ctx.caller.require_password()
    statuses = []
    for raw in as_list(ctx.params.get("apps")) or []:
        ctx.params["app"] = raw
        app = ctx.app()
        statuses.append({"app": str(app.id), "status": "SUCCESS" if app.deployed else "PROCESSING"})
    return {"apps": statuses}
