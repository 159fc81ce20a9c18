"""The kintone query language, cursors, apps built through preview/deploy, and guest spaces."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app
from sandbox.kintone.demo_apps import DemoApps, build_demo_apps
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.query import Cond, Func, parse_query

USER, PASSWORD = "admin", "s3cret"
ADMIN = {"X-Cybozu-Authorization": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
PEOPLE = [
    ("a@x.jp", "佐藤", "10", "商談中", "2026-11-01T00:00:00Z", "大阪府大阪市北区 keyword gamma"),
    ("b@x.jp", 'O"Brien\\', "20", "受注", "2026-11-02T09:30:00Z", ""),
    ("c@x.jp", "鈴木", "30", "失注", "2026-11-03T15:00:00Z", "東京都"),
    ("d@x.jp", "鈴木", "", "", "", "keyword"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundServer, DemoApps]]:
    app = create_app(tmp_path_factory.mktemp("kintone"), USER, PASSWORD)
    demo = build_demo_apps(app.state.kintone.store)
    with BackgroundServer(app) as srv:
        http = httpx.Client(base_url=srv.url, headers={"X-Cybozu-API-Token": demo.customers.token})
        rows = [
            {
                "メールアドレス": {"value": email},
                "姓": {"value": name},
                "スコア": {"value": score},
                "商談ステージ": {"value": stage or None},
                "住所": {"value": address},
            }
            for email, name, score, stage, _, address in PEOPLE
        ]
        assert (
            http.post("/k/v1/records.json", json={"app": demo.customers.id, "records": rows}).status_code
            == 200
        )
        actions = httpx.Client(base_url=srv.url, headers={"X-Cybozu-API-Token": demo.form_history.token})
        events = [
            {"イベントID": {"value": f"ev-{i}"}, "発生日時": {"value": p[4]}} for i, p in enumerate(PEOPLE)
        ]
        events += [{"イベントID": {"value": f"bulk-{i}"}} for i in range(96)]
        assert (
            actions.post(
                "/k/v1/records.json", json={"app": demo.form_history.id, "records": events}
            ).status_code
            == 200
        )
        yield srv, demo


def emails(srv: BackgroundServer, demo: DemoApps, query: str) -> list[str]:
    http = httpx.Client(base_url=srv.url, headers={"X-Cybozu-API-Token": demo.customers.token})
    response = http.get("/k/v1/records.json", params={"app": demo.customers.id, "query": query})
    assert response.status_code == 200, response.json()
    return [r["メールアドレス"]["value"] for r in response.json()["records"]]


def error(srv: BackgroundServer, demo: DemoApps, query: str, app: int | None = None) -> dict[str, Any]:
    token = demo.customers.token if app is None else demo.form_history.token
    http = httpx.Client(base_url=srv.url, headers={"X-Cybozu-API-Token": token})
    response = http.get("/k/v1/records.json", params={"app": app or demo.customers.id, "query": query})
    assert response.status_code == 400
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["d@x.jp", "c@x.jp", "b@x.jp", "a@x.jp"]),
        ('姓 = "鈴木" order by $id asc', ["c@x.jp", "d@x.jp"]),
        ('姓 != "鈴木" order by $id asc', ["a@x.jp", "b@x.jp"]),
        ("スコア >= 20 order by スコア desc", ["c@x.jp", "b@x.jp"]),
        ('スコア < "20"', ["a@x.jp"]),
        ("スコア in (10, 30) order by $id", ["a@x.jp", "c@x.jp"]),
        ('商談ステージ in ("受注", "失注") order by $id asc', ["b@x.jp", "c@x.jp"]),
        ('商談ステージ not in ("") order by $id asc', ["a@x.jp", "b@x.jp", "c@x.jp"]),
        ('商談ステージ in ("")', ["d@x.jp"]),
        ('住所 like "keyword" order by $id asc', ["a@x.jp", "d@x.jp"]),
        ('住所 like "key"', []),
        ('住所 like "大阪市"', ["a@x.jp"]),
        ("住所 is empty", ["b@x.jp"]),
        (
            '(姓 = "鈴木" or スコア = 10) and 住所 is not empty order by $id asc',
            ["a@x.jp", "c@x.jp", "d@x.jp"],
        ),
        ('姓 = "O\\"Brien\\\\"', ["b@x.jp"]),
        ("$id > 2 order by $id asc limit 1", ["c@x.jp"]),
        ("order by $id asc limit 2 offset 1", ["b@x.jp", "c@x.jp"]),
        ('メールアドレス　=　"a@x.jp"', ["a@x.jp"]),
        ('姓 = "x" or メールアドレス != ""  AND スコア = 30', ["c@x.jp"]),
    ],
)
def test_query_operators_and_order(
    server: tuple[BackgroundServer, DemoApps], query: str, expected: list[str]
) -> None:
    srv, demo = server
    assert emails(srv, demo, query) == expected


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit 501", "GAIA_QU01"),
        ("offset 10001", "GAIA_QU02"),
        ('商談ステージ = "受注"', "GAIA_IQ03"),
        ('住所 = "東京都"', "GAIA_IQ03"),
        ('存在しない = "x"', "GAIA_IQ11"),
        ('姓 = "unterminated', "CB_VA01"),
        ("limit 10 order by $id", "CB_VA01"),
        ('姓 = "a" and', "CB_VA01"),
        ("limit -1", "CB_VA01"),
        ('姓 = "tab\tinside"', "CB_VA01"),
    ],
)
def test_query_errors_have_kintone_codes(
    server: tuple[BackgroundServer, DemoApps], query: str, code: str
) -> None:
    srv, demo = server
    body = error(srv, demo, query)
    assert body["code"] == code
    if code == "CB_VA01":
        assert "query" in body["errors"]


def test_defaults_are_id_desc_and_100(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    http = httpx.Client(base_url=srv.url, headers={"X-Cybozu-API-Token": demo.form_history.token})
    body = http.get("/k/v1/records.json", params={"app": demo.form_history.id, "totalCount": "true"}).json()
    ids = [int(r["$id"]["value"]) for r in body["records"]]
    assert len(ids) == 100 and ids == sorted(ids, reverse=True) and body["totalCount"] == "100"
    for day, expected in (("2026-11-02", ["ev-1"]), ("2026-11-03", []), ("2026-11-04", ["ev-2"])):
        query: dict[str, str | int] = {
            "app": demo.form_history.id,
            "query": f'発生日時 = "{day}"',
        }  # a whole day in JST
        found = http.get("/k/v1/records.json", params=query).json()["records"]
        assert [r["イベントID"]["value"] for r in found] == expected
    later = http.get(
        "/k/v1/records.json",
        params={
            "app": demo.form_history.id,
            "query": '発生日時 >= "2026-11-02T09:30:00Z" order by 発生日時 desc',
        },
    ).json()["records"]
    assert [r["イベントID"]["value"] for r in later] == ["ev-2", "ev-1"]


def test_an_injection_attempt_stays_a_literal(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    attack = '" or メールアドレス != "'
    escaped = '"' + attack.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert emails(srv, demo, f"姓 = {escaped}") == []
    assert len(emails(srv, demo, f'姓 = "{attack}"')) == 4  # what unescaped text would have done


def test_the_parser_builds_conditions() -> None:
    query = parse_query(
        '更新日時 > FROM_TODAY(-7, DAYS) and 姓 not in ("a", "b") order by 更新日時 asc, $id desc'
    )
    assert query.order == [("更新日時", False), ("$id", True)]
    assert query.where is not None and not isinstance(query.where, Cond)
    first, second = query.where.parts
    assert first == Cond("更新日時", ">", (Func("FROM_TODAY", ("-7", "DAYS")),))
    assert second == Cond("姓", "not in", ("a", "b"))
    with pytest.raises(KintoneError):
        parse_query("order by $id limit 5 offset 1 limit 2")


def test_cursor_lifecycle_limit_and_expiry(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    http = httpx.Client(base_url=srv.url, headers={"X-Cybozu-API-Token": demo.form_history.token})
    app = demo.form_history.id
    opened = [http.post("/k/v1/records/cursor.json", json={"app": app, "size": 30}).json() for _ in range(10)]
    assert all(c["totalCount"] == "100" for c in opened)
    eleventh = http.post("/k/v1/records/cursor.json", json={"app": app})
    assert (eleventh.status_code, eleventh.json()["code"]) == (429, "GAIA_TM12")
    assert http.request("DELETE", "/k/v1/records/cursor.json", json={"id": opened[0]["id"]}).json() == {}
    pages = []
    while True:
        page = http.get("/k/v1/records/cursor.json", params={"id": opened[1]["id"]}).json()
        pages.append(len(page["records"]))
        if not page["next"]:
            break
    assert pages == [30, 30, 30, 10]
    assert http.get("/k/v1/records/cursor.json", params={"id": opened[1]["id"]}).json()["code"] == "GAIA_RE21"
    httpx.post(f"{srv.url}/_sandbox/clock", json={"advance_seconds": 601})
    assert httpx.get(f"{srv.url}/_sandbox/cursors").json()["live"] == []  # all ten expired
    fresh = http.post(
        "/k/v1/records/cursor.json", json={"app": app, "query": "order by $id asc", "fields": ["$id"]}
    )
    assert fresh.status_code == 200
    assert httpx.get(f"{srv.url}/_sandbox/cursors").json()["live"] == [fresh.json()["id"]]
    first = http.get("/k/v1/records/cursor.json", params={"id": fresh.json()["id"]}).json()["records"][0]
    assert list(first) == ["$id"]
    with_limit = http.post("/k/v1/records/cursor.json", json={"app": app, "query": "limit 10"})
    assert with_limit.json()["code"] == "CB_VA01"


def test_build_an_app_through_preview_and_deploy(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, _ = server
    admin = httpx.Client(base_url=srv.url, headers=ADMIN)
    created = admin.post("/k/v1/preview/app.json", json={"name": "取引先"}).json()
    app = int(created["app"])
    fields = {
        "コード": {"type": "NUMBER", "code": "コード", "label": "コード", "unique": True, "required": True},
        "区分": {
            "type": "CHECK_BOX",
            "code": "区分",
            "label": "区分",
            "options": {"A": {"label": "A", "index": "0"}},
        },
    }
    added = admin.post("/k/v1/preview/app/form/fields.json", json={"app": app, "properties": fields})
    assert added.status_code == 200
    assert (
        admin.get("/k/v1/app/form/fields.json", params={"app": app}).json()["properties"].get("コード")
        is None
    )
    assert admin.post("/k/v1/preview/app/deploy.json", json={"apps": [{"app": app}]}).json() == {}
    status = admin.get("/k/v1/preview/app/deploy.json", params={"apps[0]": app}).json()
    assert status == {"apps": [{"app": str(app), "status": "SUCCESS"}]}
    token = httpx.post(f"{srv.url}/_sandbox/apps/{app}/tokens").json()["token"]
    user = httpx.Client(base_url=srv.url, headers={"X-Cybozu-API-Token": token})
    bad = user.post(
        "/k/v1/record.json", json={"app": app, "record": {"コード": {"value": "1"}, "区分": {"value": ["Z"]}}}
    )
    assert list(bad.json()["errors"]) == [
        "record.区分.values[0].value"
    ]  # kintone names the refused option by its index
    upsert = [{"updateKey": {"field": "コード", "value": "007"}, "record": {"区分": {"value": ["A"]}}}]
    done = user.put("/k/v1/records.json", json={"app": app, "upsert": True, "records": upsert}).json()
    assert done["records"][0]["operation"] == "INSERT"
    got = user.get("/k/v1/records.json", params={"app": app, "query": "コード = 7"}).json()["records"]
    assert got[0]["コード"]["value"] == "7" and got[0]["区分"]["value"] == ["A"]
    denied = user.post("/k/v1/preview/app.json", json={"name": "x"})
    assert (denied.status_code, denied.json()["code"]) == (403, "CB_NO02")


def test_guest_space_apps_need_the_guest_path(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, _ = server
    admin = httpx.Client(base_url=srv.url, headers=ADMIN)
    app = int(admin.post("/k/guest/7/v1/preview/app.json", json={"name": "ゲスト"}).json()["app"])
    props = {"名前": {"type": "SINGLE_LINE_TEXT", "code": "名前", "label": "名前"}}
    admin.post("/k/guest/7/v1/preview/app/form/fields.json", json={"app": app, "properties": props})
    admin.post("/k/guest/7/v1/preview/app/deploy.json", json={"apps": [{"app": app}]})
    inside = admin.post("/k/guest/7/v1/record.json", json={"app": app, "record": {"名前": {"value": "x"}}})
    outside = admin.get("/k/v1/records.json", params={"app": app})
    assert inside.status_code == 200
    assert outside.json()["code"] == "GAIA_IL23"
    override = admin.post(
        "/k/guest/7/v1/records.json",
        json={"app": app, "query": ""},
        headers={"X-HTTP-Method-Override": "GET"},
    )
    assert [r["名前"]["value"] for r in override.json()["records"]] == ["x"]
