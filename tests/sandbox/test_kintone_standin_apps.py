"""The kintone stand-in's read-only app APIs over HTTP: apps.json, settings, views, process management."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app
from sandbox.kintone.apps import build_app, new_app
from sandbox.kintone.demo_apps import DemoApps, action_fields, build_demo_apps
from tests.sandbox.kintone_http import client

USER, PASSWORD = "admin", "s3cret"
GUEST_SPACE, SPACE = 7, 3
SETTINGS = {
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
}


@dataclass(frozen=True)
class Apps:
    """The demo apps plus one of each kind the listing must tell apart."""

    demo: DemoApps
    guest: int  # in guest space GUEST_SPACE
    guest_token: str
    in_space: int  # in the ordinary space SPACE
    draft: int  # created in preview, never deployed
    lab: int  # its preview form is one change ahead of the live one


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundServer, Apps]]:
    app = create_app(tmp_path_factory.mktemp("kintone"), USER, PASSWORD)
    store = app.state.kintone.store
    demo = build_demo_apps(store)
    guest = build_app(store, "Guest 名簿", action_fields(), space=GUEST_SPACE, guest=True)
    in_space = build_app(store, "Space Board", action_fields(), space=SPACE)
    with store.transaction():
        draft = new_app(store, "作成中")
    lab = build_app(store, "Preview Lab", action_fields())
    apps = Apps(demo, guest.id, store.issue_token(guest.id), in_space.id, draft.id, lab.id)
    with BackgroundServer(app) as srv:
        added = client(srv, login=(USER, PASSWORD)).post(
            "/k/v1/preview/app/form/fields.json",
            json={"app": lab.id, "properties": {"備考": {"type": "SINGLE_LINE_TEXT", "label": "備考"}}},
        )
        assert added.status_code == 200, added.text
        yield srv, apps


def admin(srv: BackgroundServer) -> httpx.Client:
    return client(srv, login=(USER, PASSWORD))


def listed(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [int(app["appId"]) for app in response.json()["apps"]]


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def usage(srv: BackgroundServer) -> dict[str, Any]:
    days: dict[str, Any] = httpx.get(f"{srv.url}/_sandbox/usage", trust_env=False).json()["usage"]
    return days


def test_apps_lists_every_deployed_app_to_the_password_user(server: tuple[BackgroundServer, Apps]) -> None:
    srv, apps = server
    demo = apps.demo
    before = usage(srv)
    response = admin(srv).get("/k/v1/apps.json")
    assert usage(srv) == before  # a listing is counted against no app
    ids = listed(response)
    demo_ids = [demo.customers.id, demo.form_history.id, demo.mail_history.id, demo.form_master.id]
    assert ids == [*demo_ids, apps.in_space, apps.lab]
    assert apps.draft not in ids and apps.guest not in ids
    single = admin(srv).get("/k/v1/app.json", params={"id": demo.customers.id}).json()
    first = response.json()["apps"][0]
    assert first == single
    assert (first["name"], first["code"], first["spaceId"], first["creator"]["code"]) == (
        "顧客",
        "",
        None,
        USER,
    )
    assert response.json()["apps"][4]["spaceId"] == str(SPACE)  # in_space, after the four demo apps


def test_apps_refuses_api_tokens(server: tuple[BackgroundServer, Apps]) -> None:
    srv, apps = server
    refused = client(srv, apps.demo.customers.token).get("/k/v1/apps.json")
    assert error(refused) == (403, "CB_NO02")
    assert refused.json()["message"] == "権限がありません。"


def test_apps_filters_by_ids_name_space_and_code(server: tuple[BackgroundServer, Apps]) -> None:
    srv, apps = server
    demo, http = apps.demo, admin(srv)
    by_ids = http.get("/k/v1/apps.json", params={"ids[0]": demo.mail_history.id, "ids[1]": apps.in_space})
    assert listed(by_ids) == [demo.mail_history.id, apps.in_space]
    assert listed(http.get("/k/v1/apps.json", params={"ids[]": [apps.draft, apps.guest]})) == []
    assert listed(http.get("/k/v1/apps.json", params={"name": "履歴"})) == [
        demo.form_history.id,
        demo.mail_history.id,
    ]
    assert listed(http.get("/k/v1/apps.json", params={"name": "SPACE board"})) == [apps.in_space]
    assert listed(http.get("/k/v1/apps.json", params={"name": "存在しない"})) == []
    assert listed(http.get("/k/v1/apps.json", params={"spaceIds[0]": SPACE})) == [apps.in_space]
    assert listed(http.get("/k/v1/apps.json", params={"codes[0]": "CUSTOMER"})) == []


def test_apps_accepts_a_json_body_sent_as_post_with_method_override(
    server: tuple[BackgroundServer, Apps],
) -> None:
    srv, apps = server
    demo = apps.demo
    response = admin(srv).post(
        "/k/v1/apps.json",
        json={"ids": [demo.mail_history.id, str(demo.customers.id)], "name": None, "spaceIds": []},
        headers={"X-HTTP-Method-Override": "GET"},
    )
    assert listed(response) == [demo.customers.id, demo.mail_history.id]


def test_apps_pages_with_limit_and_offset(server: tuple[BackgroundServer, Apps]) -> None:
    srv, apps = server
    demo, http = apps.demo, admin(srv)
    assert listed(http.get("/k/v1/apps.json", params={"limit": 2})) == [
        demo.customers.id,
        demo.form_history.id,
    ]
    assert listed(http.get("/k/v1/apps.json", params={"limit": "2", "offset": "2"})) == [
        demo.mail_history.id,
        demo.form_master.id,
    ]
    assert listed(http.get("/k/v1/apps.json", params={"offset": 5})) == [apps.lab]
    assert listed(http.get("/k/v1/apps.json", params={"offset": 50})) == []
    assert listed(http.get("/k/v1/apps.json", params={"name": "履歴", "offset": 1})) == [demo.mail_history.id]


@pytest.mark.parametrize(
    ("params", "path", "message"),
    [
        ({"limit": 0}, "limit", "最小でも1以上です。"),
        ({"limit": 101}, "limit", "最大でも100以下です。"),
        ({"limit": "many"}, "limit", "数字でなければなりません。"),
        ({"offset": -1}, "offset", "最小でも0以上です。"),
        ({"ids[0]": "x"}, "ids[0]", "数字でなければなりません。"),
        ({"ids[]": list(range(1, 102))}, "ids", "100件以下で指定してください。"),
    ],
)
def test_apps_rejects_bad_paging_and_ids(
    server: tuple[BackgroundServer, Apps], params: dict[str, Any], path: str, message: str
) -> None:
    srv, _ = server
    response = admin(srv).get("/k/v1/apps.json", params=params)
    assert error(response) == (400, "CB_VA01")
    assert response.json()["errors"] == {path: {"messages": [message]}}


def test_apps_on_a_guest_path_lists_that_guest_space_only(server: tuple[BackgroundServer, Apps]) -> None:
    srv, apps = server
    response = admin(srv).get(f"/k/guest/{GUEST_SPACE}/v1/apps.json")
    assert listed(response) == [apps.guest]
    assert response.json()["apps"][0]["spaceId"] == str(GUEST_SPACE)
    assert listed(admin(srv).get("/k/guest/99/v1/apps.json")) == []


@pytest.mark.parametrize("how", ["token", "password"])
def test_live_settings_views_and_status(server: tuple[BackgroundServer, Apps], how: str) -> None:
    srv, apps = server
    customers = apps.demo.customers
    http = client(srv, customers.token) if how == "token" else admin(srv)
    revision = http.get("/k/v1/app/form/fields.json", params={"app": customers.id}).json()["revision"]
    settings = http.get("/k/v1/app/settings.json", params={"app": customers.id, "lang": "ja"})
    assert settings.status_code == 200, settings.text
    assert settings.json() == {"name": "顧客", **SETTINGS, "revision": revision}
    views = http.get("/k/v1/app/views.json", params={"app": customers.id})
    assert views.json() == {"views": {}, "revision": revision}
    status = http.get("/k/v1/app/status.json", params={"app": str(customers.id)})
    assert status.json() == {"enable": False, "states": None, "actions": None, "revision": revision}


def test_preview_settings_views_and_status_show_the_pre_live_revision(
    server: tuple[BackgroundServer, Apps],
) -> None:
    srv, apps = server
    http = admin(srv)
    live = http.get("/k/v1/app/form/fields.json", params={"app": apps.lab}).json()["revision"]
    pre_live = http.get("/k/v1/preview/app/form/fields.json", params={"app": apps.lab}).json()["revision"]
    assert int(pre_live) == int(live) + 1  # the fixture added a field without deploying it
    settings = http.get("/k/v1/preview/app/settings.json", params={"app": apps.lab})
    assert settings.json() == {"name": "Preview Lab", **SETTINGS, "revision": pre_live}
    assert http.get("/k/v1/app/settings.json", params={"app": apps.lab}).json()["revision"] == live
    views = http.get("/k/v1/preview/app/views.json", params={"app": apps.lab})
    assert views.json() == {"views": {}, "revision": pre_live}
    status = http.get("/k/v1/preview/app/status.json", params={"app": apps.lab})
    assert status.json() == {"enable": False, "states": None, "actions": None, "revision": pre_live}


@pytest.mark.parametrize("resource", ["settings", "views", "status"])
def test_preview_refuses_api_tokens(server: tuple[BackgroundServer, Apps], resource: str) -> None:
    srv, apps = server
    customers = apps.demo.customers
    response = client(srv, customers.token).get(
        f"/k/v1/preview/app/{resource}.json", params={"app": customers.id}
    )
    assert error(response) == (403, "CB_NO02")


@pytest.mark.parametrize("resource", ["app/settings", "app/views", "app/status", "preview/app/settings"])
def test_unknown_apps_and_foreign_tokens(server: tuple[BackgroundServer, Apps], resource: str) -> None:
    srv, apps = server
    missing = admin(srv).get(f"/k/v1/{resource}.json", params={"app": 9999})
    assert error(missing) == (404, "GAIA_AP01")
    assert "9999" in missing.json()["message"]
    assert error(admin(srv).get(f"/k/v1/{resource}.json")) == (400, "CB_VA01")
    if not resource.startswith("preview/"):
        foreign = client(srv, apps.demo.customers.token).get(
            f"/k/v1/{resource}.json", params={"app": apps.demo.form_history.id}
        )
        assert error(foreign) == (400, "GAIA_IA02")
        unknown = client(srv, apps.demo.customers.token).get(f"/k/v1/{resource}.json", params={"app": 9999})
        assert error(unknown) == (400, "GAIA_IA02")


def test_a_token_without_view_right_cannot_read_settings(server: tuple[BackgroundServer, Apps]) -> None:
    srv, apps = server
    customers = apps.demo.customers
    token = httpx.post(
        f"{srv.url}/_sandbox/apps/{customers.id}/tokens", json={"rights": ["add"]}, trust_env=False
    ).json()["token"]
    response = client(srv, token).get("/k/v1/app/settings.json", params={"app": customers.id})
    assert error(response) == (403, "CB_NO02")


def test_guest_space_apps_answer_only_on_their_guest_path(server: tuple[BackgroundServer, Apps]) -> None:
    srv, apps = server
    on_path = client(srv, apps.guest_token).get(
        f"/k/guest/{GUEST_SPACE}/v1/app/settings.json", params={"app": apps.guest}
    )
    assert on_path.status_code == 200, on_path.text
    assert on_path.json()["name"] == "Guest 名簿"
    preview = admin(srv).get(f"/k/guest/{GUEST_SPACE}/v1/preview/app/status.json", params={"app": apps.guest})
    assert preview.json()["enable"] is False
    assert error(admin(srv).get("/k/v1/app/views.json", params={"app": apps.guest})) == (400, "GAIA_IL23")
    wrong_space = admin(srv).get("/k/guest/99/v1/app/views.json", params={"app": apps.guest})
    assert error(wrong_space) == (403, "CB_NO02")
    not_guest = admin(srv).get(
        f"/k/guest/{GUEST_SPACE}/v1/app/status.json", params={"app": apps.demo.customers.id}
    )
    assert error(not_guest) == (403, "CB_NO02")
