"""The Sansan stand-in's seed data, rate limit, fault injection, version prefix and run-time edits."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.common import BackgroundServer
from sandbox.sansan.app import create_app
from sandbox.sansan.limits import SlidingWindowLimiter
from sandbox.sansan.seed import address_parts, generate, seed
from sandbox.sansan.store import USER_KEYS, USERS, SansanStore
from schemas.email import normalise_email

KEY = "renkeitest000000000000000000000B"
WINDOW = {
    "updatedFrom": "2024-01-01T00:00:00+09:00",
    "updatedTo": "2030-01-01T00:00:00+09:00",
    "range": "all",
}


def test_seed_is_deterministic_and_exact() -> None:
    assert generate(120, seed=4) == generate(120, seed=4)
    assert generate(120, seed=4) != generate(120, seed=5)
    assert len(generate(77, seed=1)[0]) == 77


def test_seed_holds_every_edge_case() -> None:
    cards, links = generate(300, seed=0)
    per_person = Counter(c["personId"] for c in cards)
    assert max(per_person.values()) >= 2
    completed = [c for c in cards if c["entryStatus"] == "completed"]
    assert any(c["entryStatus"] == "processing" for c in cards)
    assert any(not c["email"] for c in completed)
    assert any(c["email"] != c["email"].strip() or "＠" in c["email"] for c in completed)
    owners_of: dict[str, set[str]] = {}
    for card in completed:
        email = normalise_email(card["email"]).value
        if email:
            owners_of.setdefault(email, set()).add(card["personId"])
    assert any(email.startswith("info@") and len(persons) == 2 for email, persons in owners_of.items())
    assert all(c["lastNameReading"] and c["lastNameReading"][0] >= "ァ" for c in completed)
    assert links


@pytest.mark.parametrize(
    ("address", "parts"),
    [
        ("東京都千代田区丸の内1-9-1", ("東京都", "千代田区", "丸の内1-9-1")),
        ("大阪府大阪市北区梅田3-1-3", ("大阪府", "大阪市北区", "梅田3-1-3")),
        ("神奈川県横浜市西区みなとみらい2-2-1", ("神奈川県", "横浜市西区", "みなとみらい2-2-1")),
        ("京都府京都市下京区烏丸通七条下ル", ("京都府", "京都市下京区", "烏丸通七条下ル")),
    ],
)
def test_addresses_split_into_prefecture_city_and_street(address: str, parts: tuple[str, str, str]) -> None:
    assert address_parts(address) == parts


def test_sliding_window_admits_rate_per_window_per_key() -> None:
    now = [100.0]
    limiter = SlidingWindowLimiter(3, clock=lambda: now[0])
    assert [limiter.admit("a") for _ in range(3)] == [None, None, None]
    assert limiter.admit("a") == 1.0
    assert limiter.admit("b") is None
    now[0] = 100.6
    assert limiter.admit("a") == 0.4
    now[0] = 101.0
    assert limiter.admit("a") is None
    assert limiter.refused == 2


def test_over_ten_requests_a_second_get_429_with_retry_after(tmp_path: Path) -> None:
    with (
        BackgroundServer(create_app(tmp_path, KEY)) as server,
        httpx.Client(base_url=f"{server.url}/v3.2", headers={"X-Sansan-Api-Key": KEY}) as client,
    ):
        admitted = 0
        while (answer := client.get("/me")).status_code == 200 and admitted < 200:
            admitted += 1
        assert answer.status_code == 429 and admitted >= 10
        body = answer.json()
        assert body["statusCode"] == 429 and 0 < body["retry_after"] <= 1
        other = client.get("/me", headers={"X-Sansan-Api-Key": USER_KEYS[USERS[1].id]})
        assert other.status_code == 200
        time.sleep(body["retry_after"] + 0.05)
        assert client.get("/me").status_code == 200


def test_injected_faults_use_the_error_body(tmp_path: Path) -> None:
    app = create_app(tmp_path, KEY, rate_per_second=1000)
    with BackgroundServer(app) as server:
        control = f"{server.url}/_sandbox/faults"
        headers = {"X-Sansan-Api-Key": KEY}
        httpx.put(control, json={"rate": 1.0, "kinds": ["429"]}).raise_for_status()
        limited = httpx.get(f"{server.url}/v3.2/me", headers=headers)
        assert limited.status_code == 429 and limited.json()["retry_after"] > 0
        httpx.put(control, json={"rate": 1.0, "kinds": ["5xx"]}).raise_for_status()
        failed = httpx.get(f"{server.url}/v3.2/me", headers=headers)
        assert failed.status_code == 503 and failed.json()["statusCode"] == 503
        httpx.put(control, json={"rate": 0.0}).raise_for_status()
        assert httpx.get(f"{server.url}/v3.2/me", headers=headers).status_code == 200


def test_the_version_prefix_is_configuration(tmp_path: Path) -> None:
    with BackgroundServer(create_app(tmp_path, KEY, version="v3.1")) as server:
        headers = {"X-Sansan-Api-Key": KEY}
        assert httpx.get(f"{server.url}/v3.1/me", headers=headers).status_code == 200
        assert httpx.get(f"{server.url}/v3.2/me", headers=headers).status_code == 404


def test_control_endpoint_lists_demo_users_and_their_keys(tmp_path: Path) -> None:
    with BackgroundServer(create_app(tmp_path, KEY)) as server:
        users = httpx.get(f"{server.url}/_sandbox/users").json()
        for user in users:
            me = httpx.get(f"{server.url}/v3.2/me", headers={"X-Sansan-Api-Key": user["apiKey"]})
            assert me.json()["item"]["id"] == user["id"]
    assert {u["id"] for u in users} == {u.id for u in USERS}
    assert [u["canReadAll"] for u in users].count(False) == 1


def test_data_persists_in_sansan_db(tmp_path: Path) -> None:
    seed(tmp_path, cards=40, seed=2)
    assert (tmp_path / "sansan.db").is_file()
    assert SansanStore(tmp_path).card_count() == 40
    create_app(tmp_path, KEY)
    assert SansanStore(tmp_path).card_count() == 40
    seed(tmp_path, cards=25, seed=2)
    assert SansanStore(tmp_path).card_count() == 25


def _cards(client: httpx.Client, **params: Any) -> dict[str, dict[str, Any]]:
    body = client.get("/v3.2/bizCards", params={**WINDOW, "limit": "300", **params}).json()
    assert body["hasMore"] is False
    return {c["id"]: c for c in body["data"]}


def test_cards_added_and_updated_at_run_time(tmp_path: Path) -> None:
    seed(tmp_path, cards=50, seed=1)
    with (
        BackgroundServer(create_app(tmp_path, KEY, rate_per_second=1000)) as server,
        httpx.Client(base_url=server.url, headers={"X-Sansan-Api-Key": KEY}) as client,
    ):
        before = _cards(client)
        target = next(iter(before.values()))
        changed = client.post(
            "/_sandbox/cards",
            json={"cards": [{"id": target["id"], "title": "執行役員", "tagIds": ["T" + "0" * 30 + "1"]}]},
        ).json()["data"][0]
        assert changed["title"] == "執行役員" and changed["updatedTime"] > target["updatedTime"]
        recent = {**WINDOW, "updatedFrom": changed["updatedTime"]}
        assert list(_cards(client, **recent)) == [target["id"]]
        newer = {"personId": target["personId"], "lastName": target["lastName"], "exchangeDate": "2099-01-01"}
        added = client.post("/_sandbox/cards", json={"cards": [newer]}).json()["data"][0]
        after = _cards(client, includePastBizCards="true")
        assert after[added["id"]]["isLatest"] is True and after[target["id"]]["isLatest"] is False
        assert target["id"] not in _cards(client)
        person = client.get(f"/v3.2/persons/{target['personId']}").json()["item"]
        assert person["headBizCard"]["id"] == added["id"]
        tagged = client.get(f"/v3.2/bizCards/{target['id']}", params={"includeTags": "true"}).json()["item"]
        assert [t["name"] for t in tagged["tags"]] == ["展示会2024"]
        moved = client.post("/_sandbox/cards", json={"cards": [{"id": added["id"], "personId": "P" * 32}]})
        assert moved.json()["data"][0]["isLatest"] is True
        assert _cards(client, includePastBizCards="true")[target["id"]]["isLatest"] is True
        done = client.post("/_sandbox/cards", json={"cards": [{"entryStatus": "processing"}]}).json()["data"][
            0
        ]
        assert done["id"] not in _cards(client)
        client.post("/_sandbox/cards", json={"cards": [{"id": done["id"], "entryStatus": "completed"}]})
        assert done["id"] in _cards(client)
        bad = client.post("/_sandbox/cards", json={"cards": [{"updatedTime": "yesterday"}]})
        assert bad.status_code == 400 and bad.json()["error"][0]["parameter"] == "updatedTime"
