"""The kintone stand-in's app-admin write APIs (form layout, general settings, views) and record comments."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app
from sandbox.kintone.demo_apps import DemoApps, build_demo_apps
from tests.sandbox.kintone_http import client

USER, PASSWORD = "admin", "s3cret"
EMAILS = (f"comment{n}@x.jp" for n in itertools.count())
FORM = {
    "件名": {"type": "SINGLE_LINE_TEXT", "label": "件名"},
    "詳細": {"type": "MULTI_LINE_TEXT", "label": "詳細"},
    "明細": {
        "type": "SUBTABLE",
        "fields": {"品名": {"type": "SINGLE_LINE_TEXT"}, "数量": {"type": "NUMBER"}},
    },
}
LAYOUT = [
    {
        "type": "ROW",
        "fields": [
            {"type": "LABEL", "label": "<b>案件</b>", "size": {"width": "120"}},
            {"type": "SINGLE_LINE_TEXT", "code": "件名", "size": {"width": "300"}},
        ],
    },
    {"type": "SUBTABLE", "code": "明細", "fields": [{"type": "NUMBER", "code": "数量", "size": {}}]},
    {"type": "ROW", "fields": [{"type": "RECORD_NUMBER", "code": "レコード番号", "size": {}}]},
]


@dataclass(frozen=True)
class Stand:
    srv: BackgroundServer
    demo: DemoApps

    def admin(self) -> httpx.Client:
        return client(self.srv, login=(USER, PASSWORD))

    def token(self) -> httpx.Client:
        return client(self.srv, self.demo.customers.token)


@pytest.fixture(scope="module")
def stand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    app = create_app(tmp_path_factory.mktemp("kintone"), USER, PASSWORD)
    demo = build_demo_apps(app.state.kintone.store)
    with BackgroundServer(app) as srv:
        yield Stand(srv, demo)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def deployed_app(http: httpx.Client, name: str) -> int:
    """An app made through the preview APIs with FORM, deployed."""
    app = int(ok(http.post("/k/v1/preview/app.json", json={"name": name}))["app"])
    ok(http.post("/k/v1/preview/app/form/fields.json", json={"app": app, "properties": FORM}))
    deploy(http, app)
    return app


def deploy(http: httpx.Client, app: int) -> None:
    ok(http.post("/k/v1/preview/app/deploy.json", json={"apps": [{"app": app}]}))


def get(http: httpx.Client, resource: str, app: int) -> Any:
    return ok(http.get(f"/k/v1/{resource}.json", params={"app": app}))


def rows(layout: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [
        (row.get("code", row["type"]), [p.get("code", p["type"]) for p in row["fields"]]) for row in layout
    ]


# Form layout ----------------------------------------------------------------------------------------


def test_layout_is_set_in_preview_and_goes_live_on_deploy(stand: Stand) -> None:
    http = stand.admin()
    app = deployed_app(http, "レイアウト")
    default = get(http, "app/form/layout", app)
    assert rows(default["layout"]) == [("ROW", ["件名"]), ("ROW", ["詳細"]), ("明細", ["品名", "数量"])]
    revision = get(http, "preview/app/form/fields", app)["revision"]
    put = http.put(
        "/k/v1/preview/app/form/layout.json", json={"app": app, "layout": LAYOUT, "revision": revision}
    )
    assert ok(put) == {"revision": str(int(revision) + 1)}
    preview = get(http, "preview/app/form/layout", app)
    assert preview["revision"] == put.json()["revision"]
    # 詳細 and 明細's 品名 were left out of the layout: kintone keeps every field on the form
    assert preview["layout"][:3] == LAYOUT
    assert rows(preview["layout"][3:]) == [("ROW", ["詳細"])]
    assert get(http, "app/form/layout", app) == default  # live until deployed
    deploy(http, app)
    assert get(http, "app/form/layout", app) == preview


def test_layout_follows_fields_added_and_deleted_later(stand: Stand) -> None:
    http = stand.admin()
    app = deployed_app(http, "レイアウト追従")
    ok(http.put("/k/v1/preview/app/form/layout.json", json={"app": app, "layout": LAYOUT}))
    ok(
        http.post(
            "/k/v1/preview/app/form/fields.json", json={"app": app, "properties": {"期日": {"type": "DATE"}}}
        )
    )
    ok(http.delete("/k/v1/preview/app/form/fields.json", params={"app": app, "fields[0]": "件名"}))
    layout = get(http, "preview/app/form/layout", app)["layout"]
    assert rows(layout) == [
        ("ROW", ["LABEL"]),
        ("明細", ["数量"]),
        ("ROW", ["レコード番号"]),
        ("ROW", ["詳細"]),
        ("ROW", ["期日"]),
    ]


def test_layout_refuses_tokens_stale_revisions_and_unknown_fields(stand: Stand) -> None:
    http = stand.admin()
    app = deployed_app(http, "レイアウト拒否")
    customers = stand.demo.customers.id
    assert error(stand.token().get("/k/v1/preview/app/form/layout.json", params={"app": customers})) == (
        403,
        "CB_NO02",
    )
    token_put = stand.token().put("/k/v1/preview/app/form/layout.json", json={"app": customers, "layout": []})
    assert error(token_put) == (403, "CB_NO02")
    stale = http.put("/k/v1/preview/app/form/layout.json", json={"app": app, "layout": LAYOUT, "revision": 1})
    assert error(stale) == (409, "GAIA_CO02")
    before = get(http, "preview/app/form/layout", app)
    refusals = {
        "layout[1].fields[0].code": [
            {"type": "ROW", "fields": [{"type": "SINGLE_LINE_TEXT", "code": "件名"}]},
            {"type": "ROW", "fields": [{"type": "SINGLE_LINE_TEXT", "code": "ない"}]},
        ],
        "layout[0].fields[0].type": [{"type": "ROW", "fields": [{"type": "NUMBER", "code": "件名"}]}],
        "layout[0].fields[1].code": [
            {
                "type": "SUBTABLE",
                "code": "明細",
                "fields": [{"type": "NUMBER", "code": "数量"}, {"type": "HR"}],
            }
        ],
        "layout[0].code": [{"type": "GROUP", "code": "グループ", "layout": []}],
        "layout[0].type": [{"type": "COLUMN", "fields": []}],
        "layout": None,
    }
    for path, layout in refusals.items():
        response = http.put("/k/v1/preview/app/form/layout.json", json={"app": app, "layout": layout})
        assert error(response) == (400, "CB_VA01"), path
        assert list(response.json()["errors"]) == [path]
    assert get(http, "preview/app/form/layout", app) == before  # nothing changed, not even the revision


# General settings -----------------------------------------------------------------------------------


def test_settings_change_in_preview_and_rename_the_app_on_deploy(stand: Stand) -> None:
    http = stand.admin()
    app = deployed_app(http, "設定前")
    live_before = get(http, "app/settings", app)
    change = {
        "app": app,
        "name": "設定後",
        "description": "<p>案件の管理</p>",
        "icon": {"type": "PRESET", "key": "APP39"},
        "theme": "GREEN",
        "titleField": {"selectionMode": "MANUAL", "code": "件名"},
        "enableComments": False,
        "numberPrecision": {"digits": 20},
        "firstMonthOfFiscalYear": 1,
    }
    revision = ok(http.put("/k/v1/preview/app/settings.json", json=change))["revision"]
    preview = get(http, "preview/app/settings", app)
    assert preview == {
        "name": "設定後",
        "description": "<p>案件の管理</p>",
        "icon": {"type": "PRESET", "key": "APP39"},
        "theme": "GREEN",
        "titleField": {"selectionMode": "MANUAL", "code": "件名"},
        "enableThumbnails": True,
        "enableBulkDeletion": False,
        "enableComments": False,
        "enableDuplicateRecord": True,
        "enableInlineRecordEditing": True,
        "numberPrecision": {"digits": "20", "decimalPlaces": "4", "roundingMode": "HALF_EVEN"},
        "firstMonthOfFiscalYear": "1",
        "revision": revision,
    }
    assert get(http, "app/settings", app) == live_before
    assert ok(http.get("/k/v1/app.json", params={"id": app}))["name"] == "設定前"
    # a later change keeps what it leaves out, objects key by key
    again = {"app": app, "theme": "RED", "numberPrecision": {"roundingMode": "UP"}, "revision": revision}
    ok(http.put("/k/v1/preview/app/settings.json", json=again))
    preview = get(http, "preview/app/settings", app)
    assert (preview["theme"], preview["name"], preview["numberPrecision"]) == (
        "RED",
        "設定後",
        {"digits": "20", "decimalPlaces": "4", "roundingMode": "UP"},
    )
    deploy(http, app)
    assert get(stand.admin(), "app/settings", app) == preview
    listed = ok(http.get("/k/v1/app.json", params={"id": app}))
    assert (listed["name"], listed["description"]) == ("設定後", "<p>案件の管理</p>")
    assert [a["appId"] for a in ok(http.get("/k/v1/apps.json", params={"name": "設定後"}))["apps"]] == [
        str(app)
    ]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"theme": "PURPLE"}, "theme"),
        ({"name": "x" * 65}, "name"),
        ({"titleField": {"selectionMode": "MANUAL"}}, "titleField"),
        ({"titleField": {"selectionMode": "MANUAL", "code": "ない"}}, "titleField.code"),
        ({"numberPrecision": {"digits": 31}}, "numberPrecision.digits"),
        ({"firstMonthOfFiscalYear": 13}, "firstMonthOfFiscalYear"),
        ({"icon": {"type": "FILE", "file": {"fileKey": "k"}}}, "icon.type"),
    ],
)
def test_settings_refuse_bad_values(stand: Stand, change: dict[str, Any], path: str) -> None:
    http = stand.admin()
    app = stand.demo.form_history.id
    before = get(http, "preview/app/settings", app)
    response = http.put("/k/v1/preview/app/settings.json", json={"app": app, **change})
    assert error(response) == (400, "CB_VA01")
    assert list(response.json()["errors"]) == [path]
    assert get(http, "preview/app/settings", app) == before


def test_settings_refuse_tokens_and_stale_revisions(stand: Stand) -> None:
    customers = stand.demo.customers.id
    by_token = stand.token().put("/k/v1/preview/app/settings.json", json={"app": customers, "theme": "RED"})
    assert error(by_token) == (403, "CB_NO02")
    stale = stand.admin().put(
        "/k/v1/preview/app/settings.json", json={"app": customers, "theme": "RED", "revision": "999"}
    )
    assert error(stale) == (409, "GAIA_CO02")
    assert get(stand.admin(), "preview/app/settings", customers)["theme"] == "WHITE"


def test_a_reverting_deploy_discards_preview_layout_settings_and_views(stand: Stand) -> None:
    http = stand.admin()
    app = deployed_app(http, "取り消し")
    live = [get(http, f"app/{part}", app) for part in ("form/layout", "settings", "views")]
    ok(http.put("/k/v1/preview/app/form/layout.json", json={"app": app, "layout": LAYOUT}))
    ok(http.put("/k/v1/preview/app/settings.json", json={"app": app, "name": "取り消される"}))
    views = {"一覧": {"type": "CUSTOM", "name": "一覧", "index": 0}}
    ok(http.put("/k/v1/preview/app/views.json", json={"app": app, "views": views}))
    ok(http.post("/k/v1/preview/app/deploy.json", json={"apps": [{"app": app}], "revert": True}))
    preview = [get(http, f"preview/app/{part}", app) for part in ("form/layout", "settings", "views")]
    assert [{**p, "revision": ""} for p in preview] == [{**p, "revision": ""} for p in live]
    assert ok(http.get("/k/v1/app.json", params={"id": app}))["name"] == "取り消し"


# Views ----------------------------------------------------------------------------------------------


def test_views_are_set_in_preview_and_go_live_on_deploy(stand: Stand) -> None:
    http = stand.admin()
    app = deployed_app(http, "一覧")
    views = {
        "案件一覧": {
            "type": "LIST",
            "name": "案件一覧",
            "index": 1,
            "fields": ["レコード番号", "件名", "品名"],
            "filterCond": '件名 like "至急"',
            "sort": "レコード番号 desc",
        },
        "カレンダー": {"type": "CALENDAR", "name": "カレンダー", "index": "0"},
    }
    put = ok(http.put("/k/v1/preview/app/views.json", json={"app": app, "views": views}))
    assert put["views"] == {"カレンダー": {"id": "1"}, "案件一覧": {"id": "2"}}
    preview = get(http, "preview/app/views", app)
    assert preview == {
        "views": {
            "カレンダー": {
                "type": "CALENDAR",
                "name": "カレンダー",
                "id": "1",
                "index": "0",
                "date": "更新日時",
                "title": "レコード番号",
                "filterCond": "",
                "sort": "",
            },
            "案件一覧": {
                "type": "LIST",
                "name": "案件一覧",
                "id": "2",
                "index": "1",
                "fields": ["レコード番号", "件名", "品名"],
                "filterCond": '件名 like "至急"',
                "sort": "レコード番号 desc",
            },
        },
        "revision": put["revision"],
    }
    assert list(preview["views"]) == ["カレンダー", "案件一覧"]  # in the order of their index
    assert get(http, "app/views", app)["views"] == {}
    deploy(http, app)
    assert get(stand.admin(), "app/views", app) == preview


def test_views_put_replaces_all_renames_keep_ids(stand: Stand) -> None:
    http = stand.admin()
    app = deployed_app(http, "一覧変更")
    first = {
        "全件": {"type": "LIST", "name": "全件", "index": 0, "fields": ["件名"], "sort": "件名 asc"},
        "カスタム": {"type": "CUSTOM", "name": "カスタム", "index": 1, "html": "<div></div>"},
    }
    ok(http.put("/k/v1/preview/app/views.json", json={"app": app, "views": first}))
    second = {
        "全件": {"type": "LIST", "name": "すべて", "index": 5, "fields": ["件名", "詳細"]},
        "新規": {"type": "LIST", "name": "新規", "index": 2, "fields": []},
    }
    put = ok(http.put("/k/v1/preview/app/views.json", json={"app": app, "views": second}))
    assert put["views"] == {"新規": {"id": "3"}, "すべて": {"id": "1"}}
    after = get(http, "preview/app/views", app)["views"]
    assert list(after) == ["新規", "すべて"]  # カスタム was left out, so it is gone
    assert after["すべて"]["sort"] == "件名 asc"  # unsent settings of a kept view stay


@pytest.mark.parametrize(
    ("views", "path"),
    [
        ({"一覧": {"type": "LIST", "name": "一覧", "index": 0, "fields": ["ない"]}}, "views.一覧.fields[0]"),
        ({"一覧": {"type": "LIST", "name": "一覧", "index": 0}}, "views.一覧.fields"),
        ({"一覧": {"type": "LIST", "index": 0, "fields": []}}, "views.一覧.name"),
        ({"一覧": {"type": "GANTT", "name": "一覧", "index": 0}}, "views.一覧.type"),
        ({"一覧": {"type": "CUSTOM", "name": "一覧", "index": "先頭"}}, "views.一覧.index"),
        (
            {
                "A": {"type": "CUSTOM", "name": "同じ", "index": 0},
                "B": {"type": "CUSTOM", "name": "同じ", "index": 1},
            },
            "views",
        ),
    ],
)
def test_views_refuse_bad_views(stand: Stand, views: dict[str, Any], path: str) -> None:
    app = stand.demo.mail_history.id
    response = stand.admin().put("/k/v1/preview/app/views.json", json={"app": app, "views": views})
    assert error(response) == (400, "CB_VA01")
    assert list(response.json()["errors"]) == [path]


def test_views_refuse_tokens_and_stale_revisions(stand: Stand) -> None:
    customers = stand.demo.customers.id
    views = {"一覧": {"type": "CUSTOM", "name": "一覧", "index": 0}}
    by_token = stand.token().put("/k/v1/preview/app/views.json", json={"app": customers, "views": views})
    assert error(by_token) == (403, "CB_NO02")
    stale = stand.admin().put(
        "/k/v1/preview/app/views.json", json={"app": customers, "views": views, "revision": 0}
    )
    assert error(stale) == (409, "GAIA_CO02")


# Record comments ------------------------------------------------------------------------------------


def add_record(stand: Stand) -> int:
    record = {"メールアドレス": {"value": next(EMAILS)}}
    body = {"app": stand.demo.customers.id, "record": record}
    return int(ok(stand.token().post("/k/v1/record.json", json=body))["id"])


def comment(http: httpx.Client, stand: Stand, record: int, text: str, **extra: Any) -> str:
    body = {"app": stand.demo.customers.id, "record": record, "comment": {"text": text, **extra}}
    created: str = ok(http.post("/k/v1/record/comment.json", json=body))["id"]
    return created


def page(stand: Stand, record: int, **params: Any) -> tuple[list[str], bool, bool]:
    got = ok(
        stand.token().get(
            "/k/v1/record/comments.json", params={"app": stand.demo.customers.id, "record": record, **params}
        )
    )
    return [c["id"] for c in got["comments"]], got["older"], got["newer"]


def test_comments_are_numbered_per_record_and_read_back(stand: Stand) -> None:
    record, other = add_record(stand), add_record(stand)
    assert comment(stand.token(), stand, record, "トークンから") == "1"
    mentioned = [{"code": "sato", "type": "USER"}, {"code": "営業部", "type": "ORGANIZATION"}]
    assert comment(stand.admin(), stand, record, "確認お願いします。\n2行目", mentions=mentioned) == "2"
    assert comment(stand.admin(), stand, other, "別のレコード") == "1"
    got = ok(
        stand.admin().get(
            "/k/v1/record/comments.json", params={"app": stand.demo.customers.id, "record": record}
        )
    )
    newest, oldest = got["comments"]
    assert newest["text"] == "sato 営業部 \n確認お願いします。\n2行目"
    assert newest["creator"] == {"code": USER, "name": USER}
    assert newest["mentions"] == mentioned
    assert oldest == {
        "id": "1",
        "text": "トークンから",
        "createdAt": oldest["createdAt"],
        "creator": {"code": "Administrator", "name": "Administrator"},
        "mentions": [],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", oldest["createdAt"])
    assert (got["older"], got["newer"]) == (False, False)


def test_comments_page_ten_at_a_time_newest_first(stand: Stand) -> None:
    record = add_record(stand)
    for n in range(12):
        comment(stand.token(), stand, record, f"コメント{n + 1}")
    assert page(stand, record) == ([str(n) for n in range(12, 2, -1)], True, False)
    assert page(stand, record, offset=10) == (["2", "1"], False, True)
    assert page(stand, record, order="desc", offset=5, limit=3) == (["7", "6", "5"], True, True)
    assert page(stand, record, order="asc", limit=5) == (["1", "2", "3", "4", "5"], False, True)
    assert page(stand, record, order="asc", offset=10) == (["11", "12"], True, False)
    assert page(stand, record, limit=0) == ([], True, False)
    assert page(stand, record, offset=20) == ([], False, True)


def test_comments_are_deleted_by_their_poster_only(stand: Stand) -> None:
    record = add_record(stand)
    app = stand.demo.customers.id
    mine = comment(stand.token(), stand, record, "消す")
    theirs = comment(stand.admin(), stand, record, "管理者の")
    where = {"app": app, "record": record}
    refused = stand.token().delete("/k/v1/record/comment.json", params={**where, "comment": theirs})
    assert error(refused) == (403, "CB_NO02")
    assert ok(stand.token().delete("/k/v1/record/comment.json", params={**where, "comment": mine})) == {}
    assert page(stand, record)[0] == [theirs]
    again = stand.token().delete("/k/v1/record/comment.json", params={**where, "comment": mine})
    assert error(again) == (400, "GAIA_RE02")
    assert comment(stand.token(), stand, record, "次") == "3"  # a deleted comment's id is not reused


def test_comments_refuse_unknown_records_bad_paging_and_tokens_without_view(stand: Stand) -> None:
    app = stand.demo.customers.id
    record = add_record(stand)
    http = stand.token()
    missing = http.get("/k/v1/record/comments.json", params={"app": app, "record": 99999})
    assert error(missing) == (404, "GAIA_RE01")
    body = {"app": app, "record": 99999, "comment": {"text": "x"}}
    assert error(http.post("/k/v1/record/comment.json", json=body)) == (404, "GAIA_RE01")
    for params, path in (({"order": "new"}, "order"), ({"limit": 11}, "limit"), ({"offset": -1}, "offset")):
        response = http.get("/k/v1/record/comments.json", params={"app": app, "record": record, **params})
        assert error(response) == (400, "CB_VA01")
        assert list(response.json()["errors"]) == [path]
    for sent, path in (
        ({"text": ""}, "comment.text"),
        ({"text": "x" * 65_536}, "comment.text"),
        ({"text": "x", "mentions": [{"code": "a", "type": "TEAM"}]}, "comment.mentions"),
        (
            {"text": "x", "mentions": [{"code": f"u{n}", "type": "USER"} for n in range(11)]},
            "comment.mentions",
        ),
    ):
        response = http.post(
            "/k/v1/record/comment.json", json={"app": app, "record": record, "comment": sent}
        )
        assert error(response) == (400, "CB_VA01")
        assert list(response.json()["errors"]) == [path]
    add_only = httpx.post(
        f"{stand.srv.url}/_sandbox/apps/{app}/tokens", json={"rights": ["add"]}, trust_env=False
    ).json()["token"]
    denied = client(stand.srv, add_only).get(
        "/k/v1/record/comments.json", params={"app": app, "record": record}
    )
    assert error(denied) == (403, "CB_NO02")


# Persistence ----------------------------------------------------------------------------------------


def test_settings_views_layout_and_comments_survive_a_restart(tmp_path: Path) -> None:
    first = create_app(tmp_path, USER, PASSWORD)
    demo = build_demo_apps(first.state.kintone.store)
    with BackgroundServer(first) as srv:
        stand = Stand(srv, demo)
        http = stand.admin()
        app = deployed_app(http, "再起動前")
        ok(http.put("/k/v1/preview/app/form/layout.json", json={"app": app, "layout": LAYOUT}))
        ok(
            http.put(
                "/k/v1/preview/app/settings.json", json={"app": app, "name": "再起動後", "theme": "BLUE"}
            )
        )
        views = {"一覧": {"type": "LIST", "name": "一覧", "index": 0, "fields": ["件名"]}}
        ok(http.put("/k/v1/preview/app/views.json", json={"app": app, "views": views}))
        deploy(http, app)
        record = add_record(stand)
        comment(http, stand, record, "残る")
        comment(http, stand, record, "消える")
        where = {"app": demo.customers.id, "record": record}
        ok(http.delete("/k/v1/record/comment.json", params={**where, "comment": 2}))
        before = [get(http, f"app/{part}", app) for part in ("form/layout", "settings", "views")]
    first.state.kintone.store.close()
    with BackgroundServer(create_app(tmp_path, USER, PASSWORD)) as srv:
        stand = Stand(srv, demo)
        http = stand.admin()
        after = [get(http, f"app/{part}", app) for part in ("form/layout", "settings", "views")]
        texts = [c["text"] for c in ok(http.get("/k/v1/record/comments.json", params=where))["comments"]]
        assert comment(http, stand, record, "再起動後") == "3"
    assert after == before
    assert before[1]["name"] == "再起動後" and before[2]["views"]["一覧"]["id"] == "1"
    assert texts == ["残る"]
