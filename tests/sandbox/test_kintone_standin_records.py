"""The kintone stand-in over real HTTP: auth, record writes, batches, upsert, revisions, typed values."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.common import BackgroundServer, FaultConfig
from sandbox.kintone.app import create_app
from sandbox.kintone.demo_apps import DemoApps, build_demo_apps
from tests.sandbox.kintone_http import client

USER, PASSWORD = "admin", "s3cret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundServer, DemoApps]]:
    app = create_app(tmp_path_factory.mktemp("kintone"), USER, PASSWORD)
    demo = build_demo_apps(app.state.kintone.store)
    with BackgroundServer(app) as srv:
        yield srv, demo


def customer(email: str, **values: Any) -> dict[str, Any]:
    return {"メールアドレス": {"value": email}, **{k: {"value": v} for k, v in values.items()}}


def test_a_token_opens_only_its_own_app(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    own = client(srv, demo.customers.token).get("/k/v1/records.json", params={"app": demo.customers.id})
    other = client(srv, demo.customers.token).get("/k/v1/records.json", params={"app": demo.form_history.id})
    assert own.status_code == 200
    assert (other.status_code, other.json()["code"]) == (400, "GAIA_IA02")
    body = other.json()
    assert set(body) == {"code", "id", "message"} and body["id"] and body["message"]


def test_several_tokens_comma_separated_or_repeated(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    both = client(srv, demo.customers.token, demo.form_history.token)
    assert both.get("/k/v1/records.json", params={"app": demo.form_history.id}).status_code == 200
    repeated = httpx.get(
        f"{srv.url}/k/v1/records.json",
        params={"app": demo.mail_history.id},
        headers=[
            ("X-Cybozu-API-Token", demo.customers.token),
            ("X-Cybozu-API-Token", demo.mail_history.token),
        ],
    )
    assert repeated.status_code == 200
    too_many = client(srv, *([demo.customers.token] * 10)).get("/k/v1/records.json", params={"app": 1})
    assert too_many.json()["code"] == "CB_VA01"


def test_password_auth_and_its_failures(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    ok = client(srv, login=(USER, PASSWORD)).get("/k/v1/records.json", params={"app": demo.mail_history.id})
    bad = client(srv, login=(USER, "wrong")).get("/k/v1/records.json", params={"app": demo.mail_history.id})
    none = client(srv).get("/k/v1/records.json", params={"app": demo.mail_history.id})
    assert ok.status_code == 200
    assert (bad.status_code, bad.json()["code"]) == (401, "CB_WA01")
    assert (none.status_code, none.json()["code"]) == (401, "CB_AU01")


def test_token_rights_are_enforced(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    token = httpx.post(
        f"{srv.url}/_sandbox/apps/{demo.customers.id}/tokens", json={"rights": ["view"]}
    ).json()
    viewer = client(srv, token["token"])
    assert viewer.get("/k/v1/records.json", params={"app": demo.customers.id}).status_code == 200
    denied = viewer.post("/k/v1/record.json", json={"app": demo.customers.id, "record": customer("v@x.jp")})
    assert (denied.status_code, denied.json()["code"]) == (403, "CB_NO02")


def test_bulk_limit_is_100_and_all_or_nothing(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    http = client(srv, demo.form_history.token)
    app = demo.form_history.id
    rows = [{"イベントID": {"value": f"bulk-{i}"}} for i in range(101)]
    over = http.post("/k/v1/records.json", json={"app": app, "records": rows})
    assert over.status_code == 400 and "records" in over.json()["errors"]
    rows[42] = {"イベントID": {"value": "bulk-1"}}  # duplicates row 1 inside the batch
    rows[7] = {"発生日時": {"value": "not a time"}, "イベントID": {"value": "bulk-7"}}
    failed = http.post("/k/v1/records.json", json={"app": app, "records": rows[:100]})
    errors = failed.json()["errors"]
    assert failed.status_code == 400 and failed.json()["code"] == "CB_VA01"
    assert errors["records[42].イベントID.value"]["messages"] == ["値がほかのレコードと重複しています。"]
    assert "records[7].発生日時.value" in errors
    count = http.get(
        "/k/v1/records.json", params={"app": app, "query": 'イベントID like "bulk"', "totalCount": "true"}
    )
    assert count.json()["totalCount"] == "0"
    good = http.post("/k/v1/records.json", json={"app": app, "records": rows[:7] + rows[8:42] + rows[43:100]})
    assert good.status_code == 200 and len(good.json()["ids"]) == 98
    assert good.json()["ids"] == sorted(good.json()["ids"], key=int)


def test_upsert_reports_operation_and_update_key_rules(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    http = client(srv, demo.customers.token)
    app = demo.customers.id
    http.post("/k/v1/record.json", json={"app": app, "record": customer("up@x.jp", 姓="山田")})
    items = [
        {"updateKey": {"field": "メールアドレス", "value": "up@x.jp"}, "record": {"名": {"value": "太郎"}}},
        {
            "updateKey": {"field": "メールアドレス", "value": "fresh@x.jp"},
            "record": {"名": {"value": "花子"}},
        },
    ]
    done = http.put("/k/v1/records.json", json={"app": app, "upsert": True, "records": items}).json()[
        "records"
    ]
    assert [r["operation"] for r in done] == ["UPDATE", "INSERT"]
    assert done[0]["revision"] == "2" and done[1]["revision"] == "1"
    fresh = http.get("/k/v1/record.json", params={"app": app, "id": done[1]["id"]}).json()["record"]
    assert fresh["メールアドレス"]["value"] == "fresh@x.jp" and fresh["名"]["value"] == "花子"
    missing = [{"updateKey": {"field": "メールアドレス", "value": "nobody@x.jp"}, "record": {}}]
    no_upsert = http.put("/k/v1/records.json", json={"app": app, "records": missing})
    assert no_upsert.json()["code"] == "GAIA_RE20"
    not_unique = [{"updateKey": {"field": "姓", "value": "山田"}, "record": {}}]
    assert (
        http.put("/k/v1/records.json", json={"app": app, "records": not_unique}).json()["code"] == "CB_VA01"
    )
    unknown_id = http.put("/k/v1/records.json", json={"app": app, "records": [{"id": 99999, "record": {}}]})
    assert (unknown_id.status_code, unknown_id.json()["code"]) == (404, "GAIA_RE01")


def test_revision_mismatch_is_409_and_writes_nothing(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    http = client(srv, demo.customers.token)
    app = demo.customers.id
    created = http.post("/k/v1/record.json", json={"app": app, "record": customer("rev@x.jp")}).json()
    ok = http.put(
        "/k/v1/record.json",
        json={"app": app, "id": created["id"], "revision": 1, "record": {"姓": {"value": "A"}}},
    )
    assert ok.json() == {"revision": "2"}
    stale = http.put(
        "/k/v1/record.json",
        json={"app": app, "id": created["id"], "revision": 1, "record": {"姓": {"value": "B"}}},
    )
    assert (stale.status_code, stale.json()["code"]) == (409, "GAIA_CO02")
    record = http.get("/k/v1/record.json", params={"app": app, "id": created["id"]}).json()["record"]
    assert record["姓"]["value"] == "A" and record["$revision"]["value"] == "2"
    stale_delete = http.request(
        "DELETE", "/k/v1/records.json", json={"app": app, "ids": [created["id"]], "revisions": [1]}
    )
    assert stale_delete.status_code == 409
    empty_delete = http.request("DELETE", "/k/v1/records.json", json={"app": app, "ids": []})
    assert (
        empty_delete.json()["code"] == "CB_VA01"
        and len(empty_delete.json()["errors"]["ids"]["messages"]) == 2
    )
    gone = http.delete(
        "/k/v1/records.json", params={"app": app, "ids[0]": created["id"], "revisions[0]": "2"}
    )
    assert gone.json() == {}
    assert (
        http.get("/k/v1/record.json", params={"app": app, "id": created["id"]}).json()["code"] == "GAIA_RE01"
    )


def test_values_come_back_typed_as_kintone_returns_them(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    http = client(srv, demo.mail_history.token)
    app = demo.mail_history.id
    record = {"イベントID": {"value": "typed-1"}, "発生日時": {"value": "2026-11-28T11:00:45+09:00"}}
    rid = http.post("/k/v1/record.json", json={"app": app, "record": record}).json()["id"]
    got = http.get("/k/v1/record.json", params={"app": app, "id": rid}).json()["record"]
    assert got["発生日時"] == {"type": "DATETIME", "value": "2026-11-28T02:00:00Z"}
    assert got["$id"] == {"type": "__ID__", "value": rid} and isinstance(rid, str)
    assert got["$revision"]["value"] == "1" and got["レコード番号"]["value"] == rid
    assert got["作成日時"]["value"].endswith(":00Z") and got["更新日時"]["type"] == "UPDATED_TIME"
    assert got["作成者"]["value"] == {"code": "Administrator", "name": "Administrator"}
    customers = client(srv, demo.customers.token)
    body = {"app": demo.customers.id, "record": customer("num@x.jp", スコア="1.5e1")}
    cid = customers.post("/k/v1/record.json", json=body).json()["id"]
    score = customers.get("/k/v1/record.json", params={"app": demo.customers.id, "id": cid}).json()["record"][
        "スコア"
    ]
    assert score == {"type": "NUMBER", "value": "15"}
    bad = customers.post(
        "/k/v1/record.json",
        json={"app": demo.customers.id, "record": customer("bad@x.jp", 商談ステージ="謎")},
    )
    assert list(bad.json()["errors"]) == ["record.商談ステージ.value"]
    nan = [customer("nan@x.jp", スコア="たくさん"), customer("ok@x.jp", スコア="1,000")]
    refused = customers.post("/k/v1/records.json", json={"app": demo.customers.id, "records": nan})
    assert refused.json()["errors"] == {  # kintone's bracket form for a number that is not one
        "records[0][スコア].value": {"messages": ["数字でなければなりません。"]},
        "records[1][スコア].value": {"messages": ["数字でなければなりません。"]},
    }


def test_form_fields_and_the_error_envelope(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    http = client(srv, demo.customers.token)
    props = http.get("/k/v1/app/form/fields.json", params={"app": demo.customers.id}).json()["properties"]
    assert props["メールアドレス"]["unique"] is True and props["メールアドレス"]["required"] is True
    assert list(props["商談ステージ"]["options"]) == ["未接触", "アプローチ中", "商談中", "受注", "失注"]
    assert props["更新日時"]["type"] == "UPDATED_TIME"
    first = http.get("/k/v1/record.json", params={"app": demo.customers.id, "id": 424242}).json()
    second = http.get("/k/v1/record.json", params={"app": demo.customers.id, "id": 424242}).json()
    assert first["code"] == "GAIA_RE01" and first["id"] != second["id"]
    bad_json = http.post(
        "/k/v1/records.json", content=b"{'app': 1,}", headers={"Content-Type": "application/json"}
    )
    assert bad_json.json()["code"] == "CB_IJ01"
    assert http.get("/k/v1/Records.json", params={"app": demo.customers.id}).status_code == 404


def test_bulk_request_rolls_back_with_placeholders(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    http = client(srv, demo.form_history.token)
    app = demo.form_history.id
    requests = [
        {
            "method": "POST",
            "api": "/k/v1/records.json",
            "payload": {"app": app, "records": [{"イベントID": {"value": "br-1"}}]},
        },
        {"method": "PUT", "api": "/k/v1/record.json", "payload": {"app": app, "id": 987654, "record": {}}},
    ]
    failed = http.post("/k/v1/bulkRequest.json", json={"requests": requests})
    assert failed.status_code == 404
    assert failed.json()["results"][0] == {} and failed.json()["results"][1]["code"] == "GAIA_RE01"
    query: dict[str, str | int] = {"app": app, "query": 'イベントID = "br-1"'}
    assert http.get("/k/v1/records.json", params=query).json()["records"] == []
    ok = http.post("/k/v1/bulkRequest.json", json={"requests": requests[:1]})
    assert ok.status_code == 200 and ok.json()["results"][0]["ids"]


def test_usage_is_counted_per_app_per_day(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    before = httpx.get(f"{srv.url}/_sandbox/usage").json()["usage"]
    http = client(srv, demo.mail_history.token)
    for _ in range(3):
        http.get("/k/v1/records.json", params={"app": demo.mail_history.id})
    after = httpx.get(f"{srv.url}/_sandbox/usage").json()["usage"]
    day = max(after)
    assert after[day][str(demo.mail_history.id)] - before.get(day, {}).get(str(demo.mail_history.id), 0) == 3


def test_injected_faults_use_the_kintone_envelope(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    httpx.put(f"{srv.url}/_sandbox/faults", json={"rate": 1.0, "kinds": ["429"]})
    try:
        limited = client(srv, demo.customers.token).get(
            "/k/v1/records.json", params={"app": demo.customers.id}
        )
    finally:
        httpx.put(f"{srv.url}/_sandbox/faults", json={"rate": 0.0})
    assert limited.status_code == 429 and {"code", "id", "message"} <= set(limited.json())


def test_data_survives_a_restart(tmp_path: Path) -> None:
    first = create_app(tmp_path, USER, PASSWORD)
    demo = build_demo_apps(first.state.kintone.store)
    with BackgroundServer(first) as srv:
        body = {"app": demo.customers.id, "record": customer("kept@x.jp")}
        rid = client(srv, demo.customers.token).post("/k/v1/record.json", json=body).json()["id"]
    first.state.kintone.store.close()
    with BackgroundServer(create_app(tmp_path, USER, PASSWORD)) as srv:
        got = client(srv, demo.customers.token).get(
            "/k/v1/record.json", params={"app": demo.customers.id, "id": rid}
        )
        again = client(srv, demo.customers.token).post("/k/v1/record.json", json=body)
    assert got.json()["record"]["メールアドレス"]["value"] == "kept@x.jp"
    assert again.json()["errors"]["record.メールアドレス.value"]["messages"] == [
        "値がほかのレコードと重複しています。"
    ]


def test_a_restart_shows_exactly_the_committed_writes(tmp_path: Path) -> None:
    """Updates and deletes are on disk after a restart; a refused batch left nothing behind."""
    first = create_app(tmp_path, USER, PASSWORD)
    demo = build_demo_apps(first.state.kintone.store)
    app = demo.customers.id
    with BackgroundServer(first) as srv:
        api = client(srv, demo.customers.token)
        added = api.post(
            "/k/v1/records.json",
            json={"app": app, "records": [customer(f"r{i}@x.jp", 姓="前") for i in range(3)]},
        ).json()["ids"]
        upsert = {
            "app": app,
            "upsert": True,
            "records": [
                {
                    "updateKey": {"field": "メールアドレス", "value": "r0@x.jp"},
                    "record": {"姓": {"value": "後"}},
                },
                {"updateKey": {"field": "メールアドレス", "value": "new@x.jp"}, "record": {}},
            ],
        }
        assert api.put("/k/v1/records.json", json=upsert).status_code == 200
        assert api.delete("/k/v1/records.json", params={"app": app, "ids[0]": added[1]}).status_code == 200
        refused = {
            "app": app,
            "records": [customer("half@x.jp"), customer("bad@x.jp", スコア="たくさん")],
        }
        assert api.post("/k/v1/records.json", json=refused).status_code == 400
        before = api.get("/k/v1/records.json", params={"app": app, "query": "order by $id asc"}).json()
    first.state.kintone.store.close()
    with BackgroundServer(create_app(tmp_path, USER, PASSWORD)) as srv:
        query = {"app": app, "query": "order by $id asc"}
        after = client(srv, demo.customers.token).get("/k/v1/records.json", params=query).json()
    emails = [r["メールアドレス"]["value"] for r in after["records"]]
    assert emails == ["r0@x.jp", "r2@x.jp", "new@x.jp"]
    assert after["records"][0]["姓"]["value"] == "後" and after["records"][0]["$revision"]["value"] == "2"
    assert after == before


def test_user_organization_and_group_fields(tmp_path: Path) -> None:
    """Built through the preview APIs; values as lists of {code, name}; queried with in and LOGINUSER()."""
    with BackgroundServer(create_app(tmp_path, USER, PASSWORD)) as srv:
        admin = client(srv, login=(USER, PASSWORD))
        app = admin.post("/k/v1/preview/app.json", json={"name": "担当"}).json()["app"]
        properties = {
            "担当者": {"type": "USER_SELECT", "code": "担当者", "label": "担当者", "required": True,
                       "defaultValue": [{"code": "sato", "type": "USER"}]},
            "部署": {"type": "ORGANIZATION_SELECT", "code": "部署", "label": "部署"},
            "グループ": {"type": "GROUP_SELECT", "code": "グループ", "label": "グループ"},
        }  # fmt: skip
        admin.post("/k/v1/preview/app/form/fields.json", json={"app": app, "properties": properties})
        admin.post("/k/v1/preview/app/deploy.json", json={"apps": [{"app": app}]})
        form = admin.get("/k/v1/app/form/fields.json", params={"app": app}).json()["properties"]
        assert form["担当者"]["defaultValue"] == [{"code": "sato", "type": "USER"}]
        assert form["担当者"]["entities"] == [] and form["担当者"]["required"] is True

        both = [{"code": USER}, {"code": "suzuki", "name": "ignored"}, {"code": USER}]
        records = [
            {"担当者": {"value": both}, "部署": {"value": [{"code": "営業部"}]}},
            {},  # the default: sato
        ]
        ids = admin.post("/k/v1/records.json", json={"app": app, "records": records}).json()["ids"]
        got = admin.get("/k/v1/record.json", params={"app": app, "id": ids[0]}).json()["record"]
        assert got["担当者"] == {
            "type": "USER_SELECT",
            "value": [{"code": USER, "name": USER}, {"code": "suzuki", "name": "suzuki"}],
        }
        assert got["部署"]["value"] == [{"code": "営業部", "name": "営業部"}]
        assert got["グループ"] == {"type": "GROUP_SELECT", "value": []}

        def found(query: str) -> list[str]:
            body = admin.get("/k/v1/records.json", params={"app": app, "query": query}).json()
            return [r["$id"]["value"] for r in body["records"]]

        assert found('担当者 in ("sato") order by $id asc') == [ids[1]]
        assert found("担当者 in (LOGINUSER())") == [ids[0]]
        assert found('部署 not in ("営業部")') == [ids[1]] and found('グループ in ("")') == ids[::-1]
        equal = admin.get("/k/v1/records.json", params={"app": app, "query": '担当者 = "sato"'})
        assert (equal.status_code, equal.json()["code"]) == (400, "GAIA_IQ03")

        bad = admin.post("/k/v1/record.json", json={"app": app, "record": {"担当者": {"value": "sato"}}})
        assert bad.status_code == 400
        assert bad.json()["errors"] == {
            "record.担当者.values.value": {"messages": ["値の形式が正しくありません。"]}
        }
        empty = admin.post("/k/v1/record.json", json={"app": app, "record": {"担当者": {"value": []}}})
        assert empty.json()["errors"] == {"record.担当者.values.value": {"messages": ["必須です。"]}}


def test_tables_rows_ids_merges_and_queries(tmp_path: Path) -> None:
    """SUBTABLE: numbered rows, PUT keeps a named row's unsent cells and drops unsent rows, row queries."""
    with BackgroundServer(create_app(tmp_path, USER, PASSWORD)) as srv:
        admin = client(srv, login=(USER, PASSWORD))
        app = admin.post("/k/v1/preview/app.json", json={"name": "商談"}).json()["app"]
        table = {
            "type": "SUBTABLE", "code": "明細", "label": "明細",
            "fields": {
                "品名": {"type": "SINGLE_LINE_TEXT", "label": "品名", "required": True},
                "数量": {"type": "NUMBER", "label": "数量", "maxValue": "1000"},
                "区分": {"type": "CHECK_BOX", "label": "区分", "options": {"A": {"label": "A", "index": "0"}}},  # noqa: E501
            },
        }  # fmt: skip
        added = admin.post(
            "/k/v1/preview/app/form/fields.json",
            json={
                "app": app,
                "properties": {"明細": table, "件名": {"type": "SINGLE_LINE_TEXT", "code": "件名"}},
            },
        )
        assert added.status_code == 200, added.text
        clash = {"品名": {"type": "SINGLE_LINE_TEXT", "code": "品名"}}
        refused = admin.post("/k/v1/preview/app/form/fields.json", json={"app": app, "properties": clash})
        assert refused.json()["errors"] == {
            "properties[品名].code": {"messages": ["フィールドコードが重複しています。"]}
        }
        admin.post("/k/v1/preview/app/deploy.json", json={"apps": [{"app": app}]})
        form = admin.get("/k/v1/app/form/fields.json", params={"app": app}).json()["properties"]
        assert form["明細"]["type"] == "SUBTABLE" and form["明細"]["fields"]["数量"]["type"] == "NUMBER"
        assert "品名" not in form  # a table's fields live inside it

        rows = [{"value": {"品名": {"value": "りんご"}, "数量": {"value": "3"}}},
                {"value": {"品名": {"value": "みかん"}, "数量": {"value": "abc"}}}]  # fmt: skip
        rid = admin.post("/k/v1/record.json", json={"app": app, "record": {"明細": {"value": rows}}}).json()[
            "id"
        ]
        bare = admin.post("/k/v1/record.json", json={"app": app, "record": {"件名": {"value": "空"}}}).json()[
            "id"
        ]

        def table_of(record_id: str) -> list[dict[str, Any]]:
            body = admin.get("/k/v1/record.json", params={"app": app, "id": record_id}).json()["record"]
            assert body["明細"]["type"] == "SUBTABLE"
            return list(body["明細"]["value"])

        first = table_of(rid)
        names = [r["value"]["品名"] for r in first]
        assert names == [{"type": "SINGLE_LINE_TEXT", "value": v} for v in ("りんご", "みかん")]
        assert first[1]["value"]["数量"]["value"] == ""  # a table keeps a non-number as blank
        assert first[0]["value"]["区分"] == {"type": "CHECK_BOX", "value": []}
        assert int(first[1]["id"]) > int(first[0]["id"]) and table_of(bare) == []

        change = [
            {"id": first[1]["id"], "value": {"数量": {"value": "7"}}},
            {"value": {"品名": {"value": "ぶどう"}}},
        ]
        admin.put("/k/v1/record.json", json={"app": app, "id": rid, "record": {"明細": {"value": change}}})
        second = table_of(rid)
        assert second[0]["id"] == first[1]["id"] and second[0]["value"]["品名"]["value"] == "みかん"
        assert second[0]["value"]["数量"]["value"] == "7" and len(second) == 2  # りんご's row is gone
        assert second[1]["value"]["品名"]["value"] == "ぶどう" and second[1]["id"] not in {
            r["id"] for r in first
        }
        admin.put("/k/v1/record.json", json={"app": app, "id": rid, "record": {"件名": {"value": "x"}}})
        assert table_of(rid) == second  # a PUT without the table keeps it

        def found(query: str) -> list[str]:
            body = admin.get("/k/v1/records.json", params={"app": app, "query": query}).json()
            return [r["$id"]["value"] for r in body["records"]]

        assert found('品名 in ("ぶどう")') == [rid] and found("数量 >= 7") == [rid]
        assert found('品名 not in ("りんご")') == [rid]  # every row; a record without rows never matches
        # "and" on one table's fields means one row: みかん has 7, ぶどう has none
        assert found('品名 in ("みかん") and 数量 >= 7') == [rid]
        assert found('品名 in ("ぶどう") and 数量 >= 7') == []
        assert found('品名 in ("ぶどう") or 数量 >= 7') == [rid]
        assert found('品名 in ("ぶどう") and 件名 = "x"') == [rid]  # the record's own field: as usual
        wrong = admin.get("/k/v1/records.json", params={"app": app, "query": '品名 = "ぶどう"'})
        assert (wrong.status_code, wrong.json()["code"]) == (400, "GAIA_IQ07")

        bad = [{"value": {"数量": {"value": "5000"}}}]
        refused = admin.post("/k/v1/record.json", json={"app": app, "record": {"明細": {"value": bad}}})
        assert refused.json()["errors"] == {
            "record.明細.value[0].value.品名.value": {"messages": ["必須です。"]},
            "record.明細.value[0].value.数量.value": {"messages": ["1000以下である必要があります。"]},
        }


def test_files_upload_attach_download_and_replace(tmp_path: Path) -> None:
    """Upload (multipart) → attach by the upload key → download by the record's own key."""
    with BackgroundServer(create_app(tmp_path, USER, PASSWORD)) as srv:
        admin = client(srv, login=(USER, PASSWORD))
        app = admin.post("/k/v1/preview/app.json", json={"name": "契約"}).json()["app"]
        fields = {"契約書": {"type": "FILE", "code": "契約書", "label": "契約書", "required": True}}
        admin.post("/k/v1/preview/app/form/fields.json", json={"app": app, "properties": fields})
        admin.post("/k/v1/preview/app/deploy.json", json={"apps": [{"app": app}]})
        token = httpx.post(f"{srv.url}/_sandbox/apps/{app}/tokens").json()["token"]
        api = client(srv, token)

        def upload(name: str, body: bytes) -> str:
            sent = api.post("/k/v1/file.json", files={"file": (name, body, "application/pdf")})
            assert sent.status_code == 200, sent.text
            return str(sent.json()["fileKey"])

        first = upload("見積書.pdf", b"%PDF-1 quote")
        rid = api.post(
            "/k/v1/record.json", json={"app": app, "record": {"契約書": {"value": [{"fileKey": first}]}}}
        )
        assert rid.status_code == 200, rid.text

        def files() -> list[dict[str, str]]:
            got = api.get("/k/v1/record.json", params={"app": app, "id": rid.json()["id"]}).json()["record"]
            assert got["契約書"]["type"] == "FILE"
            return list(got["契約書"]["value"])

        (held,) = files()
        assert (held["name"], held["contentType"], held["size"]) == ("見積書.pdf", "application/pdf", "12")
        assert held["fileKey"] != first  # a record shows its own download key
        down = api.get("/k/v1/file.json", params={"fileKey": held["fileKey"]})
        assert down.content == b"%PDF-1 quote" and down.headers["content-type"] == "application/pdf"
        assert "%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf" in down.headers["content-disposition"]
        reused = api.post(
            "/k/v1/record.json", json={"app": app, "record": {"契約書": {"value": [{"fileKey": first}]}}}
        )
        assert (reused.status_code, reused.json()["code"]) == (404, "GAIA_BL01")  # an upload attaches once

        second = upload("契約書.pdf", b"%PDF-1 signed")
        both = [{"fileKey": held["fileKey"]}, {"fileKey": second}]
        api.put(
            "/k/v1/record.json",
            json={"app": app, "id": rid.json()["id"], "record": {"契約書": {"value": both}}},
        )
        assert [f["name"] for f in files()] == ["見積書.pdf", "契約書.pdf"] and files()[0] == held
        body = api.get("/k/v1/records.json", params={"app": app, "query": '契約書 like "契約書"'}).json()
        assert [r["$id"]["value"] for r in body["records"]] == [rid.json()["id"]]

        missing = api.post("/k/v1/record.json", json={"app": app, "record": {}})
        assert missing.json()["errors"] == {"record.契約書.values": {"messages": ["必須です。"]}}
        unknown = api.get("/k/v1/file.json", params={"fileKey": "nope"})
        assert (unknown.status_code, unknown.json()["code"]) == (404, "GAIA_BL01")


def test_requests_beyond_the_concurrency_limit_are_refused(tmp_path: Path) -> None:
    """kintone's 100 concurrent requests a domain, here 2: the third request in progress gets 429."""
    slow = FaultConfig(rate=1.0, kinds=("slow",), slow_seconds=2.0)
    app = create_app(tmp_path, USER, PASSWORD, slow, concurrency_limit=2)
    demo = build_demo_apps(app.state.kintone.store)
    with BackgroundServer(app) as srv:
        params = {"app": demo.customers.id}

        def call(_: int) -> httpx.Response:
            return client(srv, demo.customers.token).get("/k/v1/records.json", params=params)

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(call, range(4)))
        refused = [a for a in answers if a.status_code == 429]
        assert len(refused) == 2 and sum(a.status_code == 200 for a in answers) == 2
        assert {a.json()["code"] for a in refused} == {"GAIA_TO04"}
        assert refused[0].headers["x-cybozu-error"] == "GAIA_TO04"
        assert refused[0].headers["x-concurrencylimit-limit"] == "2"
        assert int(refused[0].headers["x-concurrencylimit-running"]) > 2
        httpx.put(f"{srv.url}/_sandbox/faults", json={"rate": 0.0})
        alone = call(0)
        assert alone.status_code == 200 and alone.headers["x-concurrencylimit-running"] == "1"
