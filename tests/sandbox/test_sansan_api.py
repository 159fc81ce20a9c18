"""The Sansan stand-in's read API over real HTTP: auth, window, paging, past cards, search, persons, tags."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.common import BackgroundServer
from sandbox.sansan.app import create_app
from sandbox.sansan.seed import seed
from sandbox.sansan.store import USER_KEYS, USERS

KEY = "renkeitest000000000000000000000A"
WINDOW = {"updatedFrom": "2024-01-01T00:00:00+09:00", "updatedTo": "2025-01-01T00:00:00+09:00"}
ALL = {**WINDOW, "range": "all", "limit": "300"}
RESTRICTED = next(u for u in USERS if not u.can_read_all)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    data: Path = tmp_path_factory.mktemp("sansan-api")
    seed(data, cards=600, seed=3)
    with BackgroundServer(create_app(data, KEY, rate_per_second=10_000)) as running:
        yield running


@pytest.fixture(scope="module")
def api(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/v3.2", headers={"X-Sansan-Api-Key": KEY}) as client:
        yield client


def every(api: httpx.Client, path: str = "/bizCards", **params: Any) -> list[dict[str, Any]]:
    """All pages of a card query, following nextPageToken."""
    query = {**ALL, **params}
    cards: list[dict[str, Any]] = []
    while True:
        response = api.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        cards.extend(body["data"])
        if not body["hasMore"]:
            assert body["nextPageToken"] is None
            return cards
        query["nextPageToken"] = body["nextPageToken"]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def assert_error(response: httpx.Response, status: int, parameter: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["statusCode"] == status
    assert body["code"] and body["message"] and body["error"][0]["code"] == body["code"]
    if parameter is not None:
        assert body["error"][0]["parameter"] == parameter


@pytest.mark.parametrize("headers", [{}, {"X-Sansan-Api-Key": "x" * 32}, {"X-Sansan-Api-Key": "short"}])
def test_every_endpoint_needs_a_known_key(server: BackgroundServer, headers: dict[str, str]) -> None:
    for path in ("/me", "/bizCards", "/bizCards/search", "/tags", "/persons/X", "/bizCards/X"):
        assert_error(httpx.get(f"{server.url}/v3.2{path}", headers=headers, params=WINDOW), 401)


def test_me_names_the_keys_user_and_ignores_the_app_id(api: httpx.Client) -> None:
    response = api.get("/me", headers={"X-Sansan-App-Id": "anything"})
    assert response.status_code == 200
    assert response.json()["item"]["id"] == USERS[0].id
    assert response.json()["item"]["name"] == "管理者 花子"


def test_unknown_path_has_the_same_error_body(api: httpx.Client) -> None:
    assert_error(api.get("/nowhere"), 404)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"updatedTo": WINDOW["updatedTo"]}, "updatedFrom"),
        ({"updatedFrom": WINDOW["updatedFrom"]}, "updatedTo"),
        ({**WINDOW, "updatedFrom": "2024-13-01T00:00:00+09:00"}, "updatedFrom"),
        ({**WINDOW, "updatedTo": "2024-04-01T00:00:00"}, "updatedTo"),
        ({**WINDOW, "updatedFrom": "2025-06-01T00:00:00+09:00"}, "updatedFrom"),
        ({**WINDOW, "limit": "301"}, "limit"),
        ({**WINDOW, "limit": "0"}, "limit"),
        ({**WINDOW, "entryStatus": "done"}, "entryStatus"),
        ({**WINDOW, "includePastBizCards": "yes"}, "includePastBizCards"),
        ({**WINDOW, "range": "team"}, "range"),
        ({**WINDOW, "orderBy": "name"}, "orderBy"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    api: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    assert_error(api.get("/bizCards", params=params), 400, parameter)


def test_window_bounds_are_inclusive_in_any_offset(api: httpx.Client) -> None:
    card = every(api)[7]
    at = when(card["updatedTime"])
    exact = {"updatedFrom": at.isoformat(), "updatedTo": at.isoformat()}
    assert card["id"] in {c["id"] for c in every(api, **exact)}
    utc = {"updatedFrom": at.astimezone(UTC).isoformat(), "updatedTo": at.astimezone(UTC).isoformat()}
    assert utc["updatedFrom"].endswith("+00:00")
    assert card["id"] in {c["id"] for c in every(api, **utc)}
    second = timedelta(seconds=1)
    assert card["id"] not in {c["id"] for c in every(api, updatedFrom=(at + second).isoformat())}
    assert card["id"] not in {c["id"] for c in every(api, updatedTo=(at - second).isoformat())}
    for found in every(api, **exact):
        assert when(found["updatedTime"]) == at


def test_a_window_split_at_jst_midnight_loses_nothing(api: httpx.Client) -> None:
    cards = every(api)
    times = [when(c["updatedTime"]) for c in cards]
    straddling = [t for t in times if (t.hour, t.minute) in ((23, 59), (0, 0))]
    assert any(t.hour == 23 for t in straddling) and any(t.hour == 0 for t in straddling)
    midnight = min(t for t in straddling if t.hour == 0).replace(second=0)
    before = every(api, updatedTo=(midnight - timedelta(seconds=1)).isoformat())
    after = every(api, updatedFrom=midnight.isoformat())
    assert sorted(c["id"] for c in before + after) == sorted(c["id"] for c in cards)
    in_utc = midnight.astimezone(UTC).isoformat()
    assert {c["id"] for c in every(api, updatedFrom=in_utc)} == {c["id"] for c in after}


def test_range_me_keeps_own_cards_and_all_needs_the_right(
    server: BackgroundServer, api: httpx.Client
) -> None:
    mine = every(api, range="me")
    assert mine and all(c["owner"]["id"] == USERS[0].id for c in mine)
    assert len(mine) < len(every(api))
    restricted = {"X-Sansan-Api-Key": USER_KEYS[RESTRICTED.id]}
    response = httpx.get(f"{server.url}/v3.2/bizCards", params=ALL, headers=restricted)
    assert_error(response, 403, "range")
    own = httpx.get(f"{server.url}/v3.2/bizCards", params={**ALL, "range": "me"}, headers=restricted)
    assert own.status_code == 200 and all(c["owner"]["id"] == RESTRICTED.id for c in own.json()["data"])


def test_newest_card_per_person_unless_past_cards_are_asked_for(api: httpx.Client) -> None:
    heads = every(api)
    assert len({c["personId"] for c in heads}) == len(heads)
    assert all(c["isLatest"] for c in heads)
    everything = every(api, includePastBizCards="true")
    past = [c for c in everything if not c["isLatest"]]
    assert past and len(everything) == len(heads) + len(past)
    head_of = {c["personId"]: c for c in everything if c["isLatest"]}
    for old in past:
        assert old["exchangeDate"] <= head_of[old["personId"]]["exchangeDate"]

    def role(card: dict[str, Any]) -> tuple[str, str]:
        return card["title"], card["departmentName"]

    assert any(role(old) != role(head_of[old["personId"]]) for old in past)


def test_processing_entries_only_when_asked(api: httpx.Client) -> None:
    assert all(c["entryStatus"] == "completed" for c in every(api))
    processing = every(api, entryStatus="processing")
    assert processing and all(c["entryStatus"] == "processing" and c["email"] == "" for c in processing)
    both = every(api, entryStatus=["completed", "processing"])
    assert len(both) == len(every(api)) + len(processing)
    assert {c["id"] for c in every(api, entryStatus="all")} == {c["id"] for c in both}


def test_ordering_and_pages_cover_every_card_once(api: httpx.Client) -> None:
    whole = every(api, includePastBizCards="true")
    small_pages = every(api, includePastBizCards="true", limit="37")
    assert [c["id"] for c in small_pages] == [c["id"] for c in whole]
    assert [when(c["updatedTime"]) for c in whole] == sorted(when(c["updatedTime"]) for c in whole)
    newest_first = every(api, orderBy="registeredAt", orderDirection="desc")
    registered = [when(c["registeredTime"]) for c in newest_first]
    assert registered == sorted(registered, reverse=True)


def test_a_page_token_only_works_for_its_own_query(api: httpx.Client) -> None:
    first = api.get("/bizCards", params={**ALL, "limit": "10"}).json()
    token = first["nextPageToken"]
    assert_error(
        api.get("/bizCards", params={**ALL, "range": "me", "nextPageToken": token}), 400, "nextPageToken"
    )
    assert_error(
        api.get("/bizCards", params={**ALL, "nextPageToken": token[:-2] + "00"}), 400, "nextPageToken"
    )
    assert api.get("/bizCards", params={**ALL, "limit": "10", "nextPageToken": token}).status_code == 200


def test_search_criteria_are_anded(api: httpx.Client) -> None:
    sample = next(c for c in every(api) if c["email"] and c["mobile"] and "@" in c["email"])
    by_company = every(api, "/bizCards/search", companyName=sample["companyName"][2:5])
    assert sample["id"] in {c["id"] for c in by_company}
    assert all(sample["companyName"][2:5] in c["companyName"] for c in by_company)
    prefix = sample["lastName"] + sample["firstName"][:1]
    by_name = every(api, "/bizCards/search", name=prefix)
    assert by_name and all((c["lastName"] + c["firstName"]).startswith(prefix) for c in by_name)
    assert [c["id"] for c in every(api, "/bizCards/search", email=sample["email"])] == [sample["id"]]
    assert every(api, "/bizCards/search", email=sample["email"][1:]) == []
    by_mobile = every(api, "/bizCards/search", mobile=sample["mobile"][4:])
    assert sample["id"] in {c["id"] for c in by_mobile}
    both = every(api, "/bizCards/search", name=prefix, companyName="存在しない会社")
    assert both == []


def test_search_by_tags_is_an_or(api: httpx.Client) -> None:
    tagged = every(api, includeTags="true")
    with_1 = {c["id"] for c in tagged if any(t["id"].endswith("1") for t in c["tags"])}
    with_2 = {c["id"] for c in tagged if any(t["id"].endswith("2") for t in c["tags"])}
    found = every(api, "/bizCards/search", tagId=["T" + "0" * 30 + "1", "T" + "0" * 30 + "2"])
    assert with_1 and with_2 and {c["id"] for c in found} == with_1 | with_2
    assert "tags" not in every(api)[0]


def test_one_card_and_one_person(server: BackgroundServer, api: httpx.Client) -> None:
    card = every(api, includePastBizCards="true")[3]
    item = api.get(f"/bizCards/{card['id']}", params={"includeTags": "true"}).json()["item"]
    assert item["id"] == card["id"] and "tags" in item
    person = api.get(f"/persons/{card['personId']}").json()["item"]
    assert person["id"] == card["personId"] and person["headBizCard"]["isLatest"] is True
    assert_error(api.get("/bizCards/0123456789ABCDEF0123456789ABCDEF"), 404)
    assert_error(api.get("/persons/0123456789ABCDEF0123456789ABCDEF"), 404)
    other = next(c for c in every(api) if c["owner"]["id"] != RESTRICTED.id)
    restricted = {"X-Sansan-Api-Key": USER_KEYS[RESTRICTED.id]}
    assert_error(httpx.get(f"{server.url}/v3.2/bizCards/{other['id']}", headers=restricted), 404)


def test_tags_show_public_shared_and_own_private(server: BackgroundServer, api: httpx.Client) -> None:
    tags = api.get("/tags").json()
    assert tags["hasMore"] is False
    assert {t["type"] for t in tags["data"]} == {"public", "shared"}
    mine = api.get("/tags", params={"range": "me"}).json()["data"]
    assert mine and all(t["owner"]["id"] == USERS[0].id for t in mine)
    owner = USERS[2]
    private = httpx.get(
        f"{server.url}/v3.2/tags",
        params={"type": "private"},
        headers={"X-Sansan-Api-Key": USER_KEYS[owner.id]},
    ).json()["data"]
    assert private and all(t["owner"]["id"] == owner.id and t["type"] == "private" for t in private)
    paged = api.get("/tags", params={"limit": "2"}).json()
    assert paged["hasMore"] is True and len(paged["data"]) == 2
    rest = api.get("/tags", params={"limit": "2", "nextPageToken": paged["nextPageToken"]}).json()["data"]
    assert {t["id"] for t in paged["data"] + rest} == {t["id"] for t in tags["data"]}
    assert_error(api.get("/tags", params={"type": "secret"}), 400, "type")
