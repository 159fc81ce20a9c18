"""The record APIs: record.json, records.json, records/cursor.json and bulkRequest.json."""

from __future__ import annotations

from typing import Any

from sandbox.kintone.context import Context, as_bool, as_list
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.records import MAX_WRITE, RecordWriter, renderer
from sandbox.kintone.search import MAX_LIMIT, select

Body = dict[str, Any]


def get_record(ctx: Context) -> Body:
    app = ctx.app("view")
    rid = _int(ctx.param("id"), "id")
    record = ctx.store.records[app.id].get(rid)
    if record is None:
        raise KintoneError("GAIA_RE01", rid)
    return {"record": renderer(app)(record)}


def post_record(ctx: Context) -> Body:
    app = ctx.app("add")
    with ctx.store.transaction():
        writer = RecordWriter(ctx.store, app, ctx.caller.login)
        rid, revision = writer.insert(ctx.params.get("record"), "record")
        writer.finish()
    return {"id": str(rid), "revision": str(revision)}


def put_record(ctx: Context) -> Body:
    app = ctx.app("edit")
    with ctx.store.transaction():
        writer = RecordWriter(ctx.store, app, ctx.caller.login)
        result = _update_one(writer, ctx.params, "record", upsert=False, prefix="")
        writer.finish()
    return {"revision": result["revision"]}


def get_records(ctx: Context) -> Body:
    app = ctx.app("view")
    wanted = as_list(ctx.params.get("fields"))
    found, total = select(
        app,
        ctx.store.records[app.id],
        str(ctx.params.get("query") or ""),
        ctx.caller.login,
        count=as_bool(ctx.params.get("totalCount")),
    )
    return {
        "records": list(map(renderer(app, wanted), found)),
        "totalCount": None if total is None else str(total),
    }


def _batch(ctx: Context) -> list[Any]:
    records = ctx.params.get("records")
    if not isinstance(records, list):
        raise KintoneError("CB_VA01", errors={"records": ["必須です。"]})
    if len(records) > MAX_WRITE:
        raise KintoneError(
            "CB_VA01", errors={"records": [f"一度に{MAX_WRITE}件までのレコードを処理できます。"]}
        )
    return records


def post_records(ctx: Context) -> Body:
    app = ctx.app("add")
    records = _batch(ctx)
    with ctx.store.transaction():
        writer = RecordWriter(ctx.store, app, ctx.caller.login)
        done = [writer.insert(values, f"records[{i}]") for i, values in enumerate(records)]
        writer.finish()
    return {"ids": [str(rid) for rid, _ in done], "revisions": [str(rev) for _, rev in done]}


def put_records(ctx: Context) -> Body:
    upsert = as_bool(ctx.params.get("upsert"))
    app = ctx.app("add", "edit") if upsert else ctx.app("edit")
    records = _batch(ctx)
    with ctx.store.transaction():
        writer = RecordWriter(ctx.store, app, ctx.caller.login)
        results = [
            _update_one(writer, item, f"records[{i}].record", upsert=upsert, prefix=f"records[{i}].")
            for i, item in enumerate(records)
        ]
        writer.finish()
    return {"records": results}


def _update_one(writer: RecordWriter, item: Any, path: str, *, upsert: bool, prefix: str) -> dict[str, str]:
    """One PUT item by ``id`` or ``updateKey``; with ``upsert`` a miss inserts and says so."""
    if not isinstance(item, dict):
        raise KintoneError(
            "CB_VA01", errors={prefix.rstrip(".") or "record": ["値の形式が正しくありません。"]}
        )
    has_id, has_key = item.get("id") not in (None, ""), item.get("updateKey") is not None
    if has_id == has_key:
        raise KintoneError(
            "CB_VA01", errors={f"{prefix}id": ["idとupdateKeyのどちらか一方を指定してください。"]}
        )
    values = item.get("record")
    preset: dict[str, Any] = {}
    if has_id:
        rid: int | None = _int(item["id"], f"{prefix}id")
        if rid not in writer.store.records[writer.app.id]:
            if not upsert:
                raise KintoneError("GAIA_RE01", rid)
            rid = None
    else:
        code, value, rid = writer.find_by_key(item["updateKey"], prefix.rstrip("."))
        if rid is None and not upsert:
            raise KintoneError("GAIA_RE20", code, value)
        preset[code] = value
    if rid is None:
        new_id, revision = writer.insert(values, path, preset)
        return {"id": str(new_id), "revision": str(revision), "operation": "INSERT"}
    revision = writer.update(rid, values, path, item.get("revision"))
    result = {"id": str(rid), "revision": str(revision)}
    if upsert:
        result["operation"] = "UPDATE"
    return result


def delete_records(ctx: Context) -> Body:
    app = ctx.app("delete")
    ids = as_list(ctx.params.get("ids"))
    if not ids:
        raise KintoneError("CB_VA01", errors={"ids": ["必須です。", "1件以上指定してください。"]})
    if len(ids) > MAX_WRITE:
        raise KintoneError("CB_VA01", errors={"ids": [f"一度に{MAX_WRITE}件までのレコードを削除できます。"]})
    with ctx.store.transaction():
        RecordWriter(ctx.store, app, ctx.caller.login).delete(ids, as_list(ctx.params.get("revisions")))
    return {}


def post_cursor(ctx: Context) -> Body:
    app = ctx.app("view")
    size = _int(ctx.params.get("size") or 100, "size")
    if not 1 <= size <= MAX_LIMIT:
        raise KintoneError("CB_VA01", errors={"size": [f"1以上{MAX_LIMIT}以下の値を指定してください。"]})
    found, _ = select(
        app, ctx.store.records[app.id], str(ctx.params.get("query") or ""), ctx.caller.login, for_cursor=True
    )
    cursor = ctx.state.cursors.open(
        app.id, [int(r["$id"]) for r in found], as_list(ctx.params.get("fields")), size
    )
    return {"id": cursor.id, "totalCount": str(len(found))}


def get_cursor(ctx: Context) -> Body:
    cursors = ctx.state.cursors
    cursor = cursors.get(str(ctx.param("id")))
    ctx.params["app"] = cursor.app
    app = ctx.app("view")
    ids, more = cursors.take(cursor)
    stored = ctx.store.records[app.id]
    render = renderer(app, cursor.fields)
    return {
        "records": [render(stored[rid]) for rid in ids if rid in stored],
        "next": more,
    }


def delete_cursor(ctx: Context) -> Body:
    cursor = ctx.state.cursors.get(str(ctx.param("id")))
    ctx.params["app"] = cursor.app
    ctx.app("view")
    ctx.state.cursors.close(cursor.id)
    return {}


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise KintoneError("CB_VA01", errors={name: ["数字でなければなりません。"]}) from None
