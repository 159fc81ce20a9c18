"""Record comments: record/comment.json (add, delete) and record/comments.json (read), kept in SQLite."""

from __future__ import annotations

from typing import Any

from sandbox.kintone.api_apps import count_param, number_param
from sandbox.kintone.context import Context
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.fields import entity
from sandbox.kintone.store import App
from schemas import clock

Body = dict[str, Any]
MAX_TEXT = 65_535
MAX_MENTIONS = 10
MAX_PAGE = 10  # comments.json: limit 0–10, 10 when omitted
MENTION_TYPES = ("USER", "GROUP", "ORGANIZATION")


def _record(ctx: Context) -> tuple[App, int]:
    """The app and one of its records; reading, adding and deleting comments all need the view right."""
    app = ctx.app("view")
    rid = number_param(ctx.param("record"), "record", 1)
    if rid not in ctx.store.records[app.id]:
        raise KintoneError("GAIA_RE01", rid)
    return app, rid


def _mentions(raw: Any) -> list[dict[str, str]]:
    """``comment.mentions``: at most 10 users, groups or organisations, each ``{code, type}``."""
    mentions = raw or []
    if not isinstance(mentions, list) or not all(
        isinstance(m, dict)
        and isinstance(m.get("code"), str)
        and m["code"]
        and m.get("type") in MENTION_TYPES
        for m in mentions
    ):
        raise KintoneError("CB_VA01", errors={"comment.mentions": ["値の形式が正しくありません。"]})
    if len(mentions) > MAX_MENTIONS:
        raise KintoneError(
            "CB_VA01", errors={"comment.mentions": [f"{MAX_MENTIONS}件以下で指定してください。"]}
        )
    return [{"code": m["code"], "type": m["type"]} for m in mentions]


def post_comment(ctx: Context) -> Body:
    """Add a comment as the caller (an API token posts as Administrator); kintone writes the mentioned
    names before the text, then a space and a line break."""
    app, rid = _record(ctx)
    comment = ctx.param("comment")
    text = comment.get("text") if isinstance(comment, dict) else None
    if not isinstance(text, str) or not text:
        raise KintoneError("CB_VA01", errors={"comment.text": ["必須です。"]})
    if len(text) > MAX_TEXT:
        raise KintoneError(
            "CB_VA01", errors={"comment.text": [f"{MAX_TEXT + 1}文字より短くなければなりません。"]}
        )
    mentions = _mentions(comment.get("mentions"))
    names = " ".join(entity(m["code"])["name"] for m in mentions)
    stored = {
        "text": f"{names} \n{text}" if mentions else text,
        "createdAt": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "creator": entity(ctx.caller.login),
        "mentions": mentions,
    }
    with ctx.store.transaction():
        comment_id = ctx.store.add_comment(app.id, rid, stored)
    return {"id": str(comment_id)}


def get_comments(ctx: Context) -> Body:
    """A page of a record's comments by id, newest first unless ``order`` is asc; ``older`` / ``newer``
    say whether comments lie beyond the page on either side."""
    app, rid = _record(ctx)
    order = ctx.params.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise KintoneError("CB_VA01", errors={"order": ["Enum値のいずれかでなければなりません。"]})
    offset = count_param(ctx, "offset", 0, 0)
    limit = count_param(ctx, "limit", MAX_PAGE, 0, MAX_PAGE)
    comments = ctx.store.comments(app.id, rid)
    if order == "desc":
        comments.reverse()
    before, after = min(offset, len(comments)) > 0, offset + limit < len(comments)
    return {
        "comments": comments[offset : offset + limit],
        "older": before if order == "asc" else after,
        "newer": after if order == "asc" else before,
    }


def delete_comment(ctx: Context) -> Body:
    """Delete one of the caller's own comments (with an API token: those posted as Administrator)."""
    app, rid = _record(ctx)
    comment_id = number_param(ctx.param("comment"), "comment", 1)
    found = next((c for c in ctx.store.comments(app.id, rid) if c["id"] == str(comment_id)), None)
    if found is None:
        raise KintoneError("GAIA_RE02")
    if found["creator"]["code"] != ctx.caller.login:
        raise KintoneError("CB_NO02")
    with ctx.store.transaction():
        ctx.store.delete_comment(app.id, rid, comment_id)
    return {}
