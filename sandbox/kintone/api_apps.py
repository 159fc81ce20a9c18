"""The app APIs: app(s).json, form, general settings, views, process management, and preview / deploy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, model_validator

from sandbox.kintone.apps import all_codes, deploy, new_app, parse_properties
from sandbox.kintone.context import Context, as_list
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.fields import LAYOUT_ONLY, SUBTABLE, SYSTEM_TYPES, FieldDef, entity
from sandbox.kintone.store import App

Body = dict[str, Any]
MAX_LISTED = 100  # apps.json: at most 100 apps per call, and at most 100 ids / codes / space ids
NOT_ENUM = "Enum値のいずれかでなければなりません。"
DECORATIONS = {"LABEL": ("label",), "SPACER": ("elementId",), "HR": ()}  # layout parts with no field behind
VIEW_KEYS = {  # what a view of each type holds besides its type, name, id and index
    "LIST": ("fields", "filterCond", "sort"),
    "CALENDAR": ("date", "title", "filterCond", "sort"),
    "CUSTOM": ("html", "pager", "device", "filterCond", "sort"),
}


def _app_body(ctx: Context, app: App) -> Body:
    """One app as app.json and apps.json show it; the stand-in's apps have no app code."""
    return {
        "appId": str(app.id),
        "code": "",
        "name": app.name,
        "description": app.settings.get("description", ""),
        "spaceId": None if app.space is None else str(app.space),
        "threadId": None if app.space is None else str(app.space),
        "createdAt": app.created_at,
        "creator": entity(ctx.state.user),
        "modifiedAt": app.created_at,
        "modifier": entity(ctx.state.user),
    }


def get_app(ctx: Context) -> Body:
    return _app_body(ctx, ctx.app("view", name="id"))


def number_param(value: Any, path: str, low: int, high: int | None = None) -> int:
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


def count_param(ctx: Context, name: str, default: int, low: int, high: int | None = None) -> int:
    """``limit`` / ``offset``: the default when omitted or null."""
    value = ctx.params.get(name)
    return default if value in (None, "") else number_param(value, name, low, high)


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
    return None if values is None else {number_param(v, f"{name}[{i}]", 1) for i, v in enumerate(values)}


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
    limit = count_param(ctx, "limit", MAX_LISTED, 1, MAX_LISTED)
    offset = count_param(ctx, "offset", 0, 0)
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


def _unknown(code: Any) -> str:
    return f"指定したフィールド（code: {code}）が見つかりません。"


def _part(field: FieldDef) -> Body:
    return {"type": field.type, "code": field.code, "size": {}}


def _default_row(field: FieldDef) -> Body:
    """Where kintone puts a field no layout placed: a row of its own; a table's row lists its fields."""
    if field.type == SUBTABLE:
        return {"type": SUBTABLE, "code": field.code, "fields": [_part(f) for f in field.fields.values()]}
    return {"type": "ROW", "fields": [_part(field)]}


def _layout(app: App, preview: bool) -> Body:
    """The layout as last set, less the fields deleted since, plus a row for each field added since
    (every field but the system ones when no layout was ever set)."""
    form = app.preview if preview else app.fields
    rows: list[Body] = []
    for row in (app.preview_layout if preview else app.layout) or []:
        table = form.get(row.get("code", ""))
        if row["type"] == SUBTABLE and table is None:
            continue
        inner = form if table is None else table.fields
        parts = [part for part in row["fields"] if part["type"] in DECORATIONS or part["code"] in inner]
        if parts:
            rows.append({**row, "fields": parts})
    placed = {row.get("code") for row in rows} | {part.get("code") for row in rows for part in row["fields"]}
    rows += [
        _default_row(f)
        for f in form.values()
        if f.code not in placed and f.type not in SYSTEM_TYPES | LAYOUT_ONLY
    ]
    return {"layout": rows, "revision": _revision(app, preview)}


def get_layout(ctx: Context) -> Body:
    return _layout(ctx.app("view"), preview=False)


def _admin_app(ctx: Context) -> App:
    ctx.caller.require_password()
    return ctx.app()


def get_preview_fields(ctx: Context) -> Body:
    return _form(_admin_app(ctx), preview=True)


def get_preview_layout(ctx: Context) -> Body:
    return _layout(_admin_app(ctx), preview=True)


def _layout_part(part: Any, form: dict[str, FieldDef], path: str, *, in_table: bool) -> Body:
    """A field of a layout row, of the form and with its type; outside tables also a LABEL, SPACER or HR."""
    if not isinstance(part, dict):
        raise KintoneError("CB_VA01", errors={path: ["値の形式が正しくありません。"]})
    kind, code = part.get("type"), part.get("code")
    size = part["size"] if isinstance(part.get("size"), dict) else {}
    keys = DECORATIONS.get(kind) if isinstance(kind, str) and not in_table else None
    if keys is not None:
        return {"type": kind, **{key: str(part.get(key) or "") for key in keys}, "size": size}
    field = form.get(code) if isinstance(code, str) else None
    if field is None or field.type in LAYOUT_ONLY or field.type == SUBTABLE:
        raise KintoneError("CB_VA01", errors={f"{path}.code": [_unknown(code)]})
    if kind != field.type:
        raise KintoneError(
            "CB_VA01", errors={f"{path}.type": [f"{code}のフィールドの種類は{field.type}です。"]}
        )
    return {"type": kind, "code": code, "size": size}


def _layout_row(row: Any, form: dict[str, FieldDef], path: str) -> Body:
    """One row of a layout PUT; the stand-in has no group fields, so a GROUP row names an unknown one."""
    if not isinstance(row, dict) or row.get("type") not in ("ROW", SUBTABLE, "GROUP"):
        raise KintoneError("CB_VA01", errors={f"{path}.type": [NOT_ENUM]})
    table = None if row["type"] == "ROW" else form.get(str(row.get("code")))
    if row["type"] != "ROW" and (table is None or table.type != row["type"]):
        raise KintoneError("CB_VA01", errors={f"{path}.code": [_unknown(row.get("code"))]})
    parts = row.get("fields")
    if not isinstance(parts, list):
        raise KintoneError("CB_VA01", errors={f"{path}.fields": ["必須です。"]})
    inner = form if table is None else table.fields
    placed = [
        _layout_part(part, inner, f"{path}.fields[{i}]", in_table=table is not None)
        for i, part in enumerate(parts)
    ]
    return (
        {"type": "ROW", "fields": placed}
        if table is None
        else {"type": SUBTABLE, "code": table.code, "fields": placed}
    )


def _edited(ctx: Context, name: str, kind: type) -> tuple[App, Any]:
    """The app a preview change names (password login, current revision) and its required ``name``."""
    app = _admin_app(ctx)
    _check_revision(app, ctx.params.get("revision"))
    value = ctx.params.get(name)
    if not isinstance(value, kind):
        raise KintoneError("CB_VA01", errors={name: ["必須です。"]})
    return app, value


def put_preview_layout(ctx: Context) -> Body:
    app, layout = _edited(ctx, "layout", list)
    rows = [_layout_row(row, app.preview, f"layout[{i}]") for i, row in enumerate(layout)]
    return _save_preview(ctx, app, preview_layout=rows)


class Icon(BaseModel):
    """A preset icon; the stand-in keeps no uploaded icon files."""

    type: Literal["PRESET"]
    key: str = Field(min_length=1)


class TitleField(BaseModel):
    selectionMode: Literal["AUTO", "MANUAL"]
    code: str | None = None

    @model_validator(mode="after")
    def _code_when_manual(self) -> TitleField:
        """MANUAL names the title's field; AUTO ignores a code."""
        if self.selectionMode == "AUTO":
            self.code = None
        elif not self.code:
            raise ValueError("codeは必須です。")
        return self


class NumberPrecision(BaseModel):
    digits: int = Field(default=16, ge=1, le=30)
    decimalPlaces: int = Field(default=4, ge=0, le=10)
    roundingMode: Literal["HALF_EVEN", "UP", "DOWN"] = "HALF_EVEN"

    @field_serializer("digits", "decimalPlaces")
    def _as_text(self, value: int) -> str:
        return str(value)


class GeneralSettings(BaseModel):
    """General settings as kintone checks them; the defaults are a new app's, ``name`` None the app's own."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=64)
    description: str = Field(default="", max_length=10_000)
    icon: Icon = Field(default_factory=lambda: Icon(type="PRESET", key="APP72"))
    theme: Literal["WHITE", "RED", "GREEN", "BLUE", "YELLOW", "BLACK"] = "WHITE"
    titleField: TitleField = Field(default_factory=lambda: TitleField(selectionMode="AUTO"))
    enableThumbnails: bool = True
    enableBulkDeletion: bool = False
    enableComments: bool = True
    enableDuplicateRecord: bool = True
    enableInlineRecordEditing: bool = True
    numberPrecision: NumberPrecision = Field(default_factory=NumberPrecision)
    firstMonthOfFiscalYear: int = Field(default=4, ge=1, le=12)

    @field_serializer("firstMonthOfFiscalYear")
    def _as_text(self, value: int) -> str:
        return str(value)


def _settings(app: App, preview: bool) -> Body:
    """General settings as last set (a new app's until then); the name is the app's unless renamed."""
    stored = GeneralSettings.model_validate(app.preview_settings if preview else app.settings)
    return {"name": app.name, **stored.model_dump(exclude_none=True), "revision": _revision(app, preview)}


def get_settings(ctx: Context) -> Body:
    return _settings(ctx.app("view"), preview=False)


def get_preview_settings(ctx: Context) -> Body:
    return _settings(_admin_app(ctx), preview=True)


def _merged(stored: Body, sent: Body) -> Body:
    """``sent`` over ``stored``, objects key by key: kintone keeps whatever a request leaves out."""
    return {
        **stored,
        **{
            key: {**stored[key], **value}
            if isinstance(value, dict) and isinstance(stored.get(key), dict)
            else value
            for key, value in sent.items()
        },
    }


def put_preview_settings(ctx: Context) -> Body:
    app = _admin_app(ctx)
    _check_revision(app, ctx.params.get("revision"))
    sent = {key: ctx.params[key] for key in GeneralSettings.model_fields if key in ctx.params}
    try:
        settings = GeneralSettings.model_validate(_merged(app.preview_settings, sent))
    except ValidationError as exc:
        error = exc.errors()[0]
        raise KintoneError("CB_VA01", errors={".".join(map(str, error["loc"])): [error["msg"]]}) from None
    title = settings.titleField.code
    if title is not None and title not in app.preview:
        raise KintoneError("CB_VA01", errors={"titleField.code": [_unknown(title)]})
    return _save_preview(ctx, app, preview_settings=settings.model_dump(exclude_none=True))


def _views(app: App, preview: bool) -> Body:
    """Views by name, in the order of their index, as last set; a new app has none."""
    return {"views": app.preview_views if preview else app.views, "revision": _revision(app, preview)}


def get_views(ctx: Context) -> Body:
    return _views(ctx.app("view"), preview=False)


def get_preview_views(ctx: Context) -> Body:
    return _views(_admin_app(ctx), preview=True)


def _view_defaults(form: dict[str, FieldDef], kind: str) -> Body:
    """A new view's settings: a calendar by update time, titled by record number; a custom view paged."""
    by_type = {f.type: code for code, f in form.items()}
    defaults = {
        "filterCond": "",
        "sort": "",
        "date": by_type.get("UPDATED_TIME", ""),
        "title": by_type.get("RECORD_NUMBER", ""),
        "html": "",
        "pager": True,
        "device": "DESKTOP",
    }
    return {key: defaults[key] for key in VIEW_KEYS[kind] if key in defaults}


def _view(app: App, key: str, body: Any) -> Body:
    """One view of a views PUT, keyed by its current name: a kept view keeps its id and what is not sent;
    a new one gets its id (None here) when the request is saved."""
    path = f"views.{key}"
    if not isinstance(body, dict) or body.get("type") not in VIEW_KEYS:
        raise KintoneError("CB_VA01", errors={f"{path}.type": [NOT_ENUM]})
    kind, kept = body["type"], app.preview_views.get(key)
    if kept is None and not body.get("name"):
        raise KintoneError("CB_VA01", errors={f"{path}.name": ["必須です。"]})
    if kind == "LIST":
        shown, codes = body.get("fields"), all_codes(app.preview)
        if not isinstance(shown, list):
            raise KintoneError("CB_VA01", errors={f"{path}.fields": ["必須です。"]})
        for i, code in enumerate(shown):
            if not isinstance(code, str) or code not in codes:
                raise KintoneError("CB_VA01", errors={f"{path}.fields[{i}]": [_unknown(code)]})
    base = kept if kept is not None and kept["type"] == kind else _view_defaults(app.preview, kind)
    return {
        "type": kind,
        "name": str(body.get("name") or key),
        "id": None if kept is None else kept["id"],
        "index": str(number_param(body.get("index"), f"{path}.index", 0)),
        **{setting: body.get(setting, base.get(setting)) for setting in VIEW_KEYS[kind]},
    }


def put_preview_views(ctx: Context) -> Body:
    """Replace every view: views left out are deleted, new ones numbered from the app's view counter."""
    app, sent = _edited(ctx, "views", dict)
    views = sorted((_view(app, key, body) for key, body in sent.items()), key=lambda view: int(view["index"]))
    if len({view["name"] for view in views}) < len(views):
        raise KintoneError("CB_VA01", errors={"views": ["一覧名が重複しています。"]})
    fresh = [view for view in views if view["id"] is None]
    for number, view in enumerate(fresh, start=app.next_view):
        view["id"] = str(number)
    saved = _save_preview(
        ctx, app, preview_views={view["name"]: view for view in views}, next_view=app.next_view + len(fresh)
    )
    return {**saved, "views": {view["name"]: {"id": view["id"]} for view in views}}


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


def _save_preview(ctx: Context, app: App, **changes: Any) -> Body:
    """Replace parts of the app's preview settings, one settings revision further, and say which."""
    with ctx.store.transaction():
        changed = app.model_copy(deep=True, update=changes)
        changed.preview_revision += 1
        ctx.store.save_app(changed)
    return {"revision": str(changed.preview_revision)}


def change_preview_fields(ctx: Context, *, adding: bool) -> Body:
    app = _admin_app(ctx)
    _check_revision(app, ctx.params.get("revision"))
    parsed = parse_properties(ctx.params.get("properties"), app.preview, adding=adding)
    return _save_preview(ctx, app, preview={**app.preview, **parsed})


def post_preview_fields(ctx: Context) -> Body:
    return change_preview_fields(ctx, adding=True)


def put_preview_fields(ctx: Context) -> Body:
    return change_preview_fields(ctx, adding=False)


def delete_preview_fields(ctx: Context) -> Body:
    app = _admin_app(ctx)
    _check_revision(app, ctx.params.get("revision"))
    codes = as_list(ctx.params.get("fields")) or []
    for code in codes:
        if code not in app.preview or app.preview[code].type in ("RECORD_NUMBER", "CREATOR"):
            raise KintoneError("CB_VA01", errors={"fields": [f"{code}は削除できません。"]})
    return _save_preview(ctx, app, preview={c: f for c, f in app.preview.items() if c not in codes})


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
