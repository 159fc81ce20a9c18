"""The app APIs: app(s).json, form, general settings, views, process management, and preview / deploy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.kintone.apps import deploy, new_app, parse_properties
from sandbox.kintone.context import Context, as_list
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.fields import entity
from sandbox.kintone.store import App

Body = dict[str, Any]
MAX_LISTED = 100  # apps.json: at most 100 apps per call, and at most 100 ids / codes / space ids


def _app_body(ctx: Context, app: App) -> Body:
    """One app as app.json and apps.json show it; the stand-in's apps have no app code."""
    return {
        "appId": str(app.id),
        "code": "",
        "name": app.name,
        "description": "",
        "spaceId": None if app.space is None else str(app.space),
        "threadId": None if app.space is None else str(app.space),
        "createdAt": app.created_at,
        "creator": entity(ctx.state.user),
        "modifiedAt": app.created_at,
        "modifier": entity(ctx.state.user),
    }


def get_app(ctx: Context) -> Body:
    return _app_body(ctx, ctx.app("view", name="id"))


def _number(value: Any, path: str, low: int, high: int | None = None) -> int:
    """An integer parameter within ``[low, high]``, or kintone's CB_VA01 on ``path``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise KintoneError("CB_VA01", errors={path: ["数字でなければなりません。"]}) from None
    if number < low:
        raise KintoneError("CB_VA01", errors={path: [f"最小でも{low}以上です。"]})
    if high is not None and number > high:
        raise KintoneError("CB_VA01", errors={path: [f"最大でも{high}以下です。"]})
    return number


def _count(ctx: Context, name: str, default: int, low: int, high: int | None = None) -> int:
    """``limit`` / ``offset``: the default when omitted or null."""
    value = ctx.params.get(name)
    return default if value in (None, "") else _number(value, name, low, high)


def _filter_list(ctx: Context, name: str) -> list[Any] | None:
    """An optional array filter of apps.json; null or an empty array means it was not given."""
    values = as_list(ctx.params.get(name))
    if not values:
        return None
    if len(values) > MAX_LISTED:
        raise KintoneError("CB_VA01", errors={name: [f"{MAX_LISTED}件以下で指定してください。"]})
    return values


def _id_set(ctx: Context, name: str) -> set[int] | None:
    """``ids`` / ``spaceIds``: positive integers, given as numbers or strings."""
    values = _filter_list(ctx, name)
    return None if values is None else {_number(v, f"{name}[{i}]", 1) for i, v in enumerate(values)}


@dataclass(frozen=True)
class AppFilter:
    """The apps.json conditions, all of which an app must meet; None means the condition was not given."""

    ids: set[int] | None
    by_code: bool
    name: str
    space_ids: set[int] | None

    @classmethod
    def from_params(cls, ctx: Context) -> AppFilter:
        """The conditions a request names, each checked as kintone checks it."""
        return cls(
            ids=_id_set(ctx, "ids"),
            by_code=_filter_list(ctx, "codes") is not None,
            name=str(ctx.params.get("name") or "").casefold(),
            space_ids=_id_set(ctx, "spaceIds"),
        )

    def matches(self, app: App) -> bool:
        """Codes match exactly and no stand-in app has one; the name matches in part, ignoring case."""
        return (
            (self.ids is None or app.id in self.ids)
            and not self.by_code
            and self.name in app.name.casefold()
            and (self.space_ids is None or app.space in self.space_ids)
        )


def _on_path(ctx: Context, app: App) -> bool:
    """Whether the request path reaches the app: a guest space's apps only through its own guest path.

    The rule ``Context.app`` enforces with an error, as a yes/no check for listing many apps.
    """
    return app.space == ctx.space if app.guest else ctx.space is None


def get_apps(ctx: Context) -> Body:
    """Deployed apps the path reaches, by id, filtered and paged; counted against no app's daily limit.

    kintone accepts no API token here (its GAIA_NO01, the stand-in's CB_NO02, as for the other
    password-only APIs), and lists an app only once it has been deployed.
    """
    ctx.caller.require_password()
    wanted = AppFilter.from_params(ctx)
    limit = _count(ctx, "limit", MAX_LISTED, 1, MAX_LISTED)
    offset = _count(ctx, "offset", 0, 0)
    listed = [
        app
        for _, app in sorted(ctx.store.apps.items())
        if app.deployed and _on_path(ctx, app) and wanted.matches(app)
    ]
    return {"apps": [_app_body(ctx, app) for app in listed[offset : offset + limit]]}


def _revision(app: App, preview: bool) -> str:
    """The app's settings revision, live or pre-live, as the string kintone sends."""
    return str(app.preview_revision if preview else app.revision)


def _form(app: App, preview: bool) -> Body:
    fields = app.preview if preview else app.fields
    return {"properties": {c: f.properties() for c, f in fields.items()}, "revision": _revision(app, preview)}


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


def _settings(app: App, preview: bool) -> Body:
    """General settings as a new kintone app has them; the stand-in keeps only the app's name."""
    return {
        "name": app.name,
        "description": "",
        "icon": {"type": "PRESET", "key": "APP72"},
        "theme": "WHITE",
        "titleField": {"selectionMode": "AUTO"},
        "enableThumbnails": True,
        "enableBulkDeletion": False,
        "enableComments": True,
        "enableDuplicateRecord": True,
        "enableInlineRecordEditing": True,
        "numberPrecision": {"digits": "16", "decimalPlaces": "4", "roundingMode": "HALF_EVEN"},
        "firstMonthOfFiscalYear": "4",
        "revision": _revision(app, preview),
    }


def get_settings(ctx: Context) -> Body:
    return _settings(ctx.app("view"), preview=False)


def get_preview_settings(ctx: Context) -> Body:
    return _settings(_admin_app(ctx), preview=True)


def _views(app: App, preview: bool) -> Body:
    """The stand-in's apps have no custom views; kintone keys each view by its name."""
    return {"views": {}, "revision": _revision(app, preview)}


def get_views(ctx: Context) -> Body:
    return _views(ctx.app("view"), preview=False)


def get_preview_views(ctx: Context) -> Body:
    return _views(_admin_app(ctx), preview=True)


def _status(app: App, preview: bool) -> Body:
    """Process management never set up: kintone answers disabled, with null states and actions."""
    return {"enable": False, "states": None, "actions": None, "revision": _revision(app, preview)}


def get_status(ctx: Context) -> Body:
    return _status(ctx.app("view"), preview=False)


def get_preview_status(ctx: Context) -> Body:
    return _status(_admin_app(ctx), preview=True)


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
