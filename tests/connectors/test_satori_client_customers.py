"""connectors.satori against the SATORI stand-in over real HTTP: customers, bulk, search, auth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.http import HttpError, HttpPolicy
from connectors.satori import SatoriClient
from sandbox.common import BackgroundServer
from sandbox.satori.app import create_app
from schemas.outcomes import Status

TOKENS = {"tok-acme": "acme", "tok-beta": "beta"}
FAST = HttpPolicy(max_attempts=2, backoff_base=0.01)
CUSTOM_FIELDS = [
    {"identifier": "customer_code", "type": "text", "unique": True, "max_length": 20},
    {"identifier": "employees", "type": "integer"},
    {"identifier": "sales_stage", "type": "select", "options": ["リード", "商談", "受注"]},
]


def control(server: BackgroundServer, token: str, method: str, path: str, body: Any) -> Any:
    response = httpx.request(
        method, server.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    app = create_app(Path(tmp_path_factory.mktemp("satori")), TOKENS)
    with BackgroundServer(app) as running:
        for token in TOKENS:
            control(running, token, "POST", "/_sandbox/custom-fields", CUSTOM_FIELDS)
        yield running


@pytest.fixture(scope="module")
def acme(server: BackgroundServer) -> Iterator[SatoriClient]:
    with SatoriClient(server.url, "tok-acme", FAST) as client:
        yield client


@pytest.fixture(scope="module")
def beta(server: BackgroundServer) -> Iterator[SatoriClient]:
    with SatoriClient(server.url, "tok-beta", FAST) as client:
        yield client


def test_put_then_get_by_email_and_hashcode_normalises_the_email(acme: SatoriClient) -> None:
    outcome = acme.put_customer(
        {"last_name": "山田", "first_name": "太郎", "custom": {"customer_code": "K-1"}, "tags": ["展示会"]},
        email="ＹＡＭＡＤＡ@Example.co.jp",
    )
    assert outcome.status is Status.CREATED and outcome.target_id
    by_email = acme.get_customer(email="yamada@example.co.jp")
    assert by_email["hashcode"] == outcome.target_id
    assert by_email["email"] == "yamada@example.co.jp"
    assert by_email["tags"] == ["展示会"]
    assert by_email["custom"] == {"customer_code": "K-1", "employees": None, "sales_stage": None}
    assert acme.get_customer(hashcode=outcome.target_id)["customer_id"] == by_email["customer_id"]
    again = acme.put_customer({"department": "営業部"}, hashcode=outcome.target_id)
    assert again.status is Status.UPDATED
    assert acme.get_customer(email="yamada@example.co.jp")["department"] == "営業部"
    assert (
        acme.put_customer({"department": "営業部"}, email="yamada@example.co.jp").status is Status.UNCHANGED
    )


def test_a_rejected_single_write_raises_with_the_service_message(acme: SatoriClient) -> None:
    with pytest.raises(HttpError) as caught:
        acme.put_customer({"score": 10}, email="score@example.jp")
    assert (
        caught.value.status == 422 and caught.value.code == "not_writable" and "score" in caught.value.message
    )
    with pytest.raises(HttpError) as missing:
        acme.get_customer(email="nobody@example.jp")
    assert missing.value.status == 404 and missing.value.code == "not_found"
    with pytest.raises(HttpError) as unknown_hash:
        acme.put_customer({"memo": "x"}, hashcode="0" * 32)
    assert unknown_hash.value.status == 404


def test_bulk_upsert_gives_one_outcome_per_row_in_order(acme: SatoriClient) -> None:
    acme.put_customer({"custom": {"customer_code": "TAKEN"}}, email="owner@example.jp")
    rows: list[dict[str, Any]] = [
        {"email": "b1@example.jp", "last_name": "佐藤", "custom": {"employees": 120, "sales_stage": "商談"}},
        {"email": "not-an-email"},
        {"email": "b2@example.jp", "status": "顧客"},
        {"email": "b3@example.jp", "favourite_colour": "blue"},
        {"email": "b4@example.jp", "custom": {"customer_code": "TAKEN"}},
        {"email": "b5@example.jp", "custom": {"employees": "many"}},
        {"email": "b6@example.jp", "phone_number": "0" * 40},
        {"email": "b7@example.jp", "hashcode": "abc"},
        {"email": "b8@example.jp", "custom": {"sales_stage": "失注"}},
        {"email": "owner@example.jp", "custom": {"customer_code": "TAKEN"}},
        {"email": "B1@EXAMPLE.JP", "last_name": "佐藤"},
        {"last_name": "no key"},
    ]
    outcomes = acme.bulk_upsert(rows, key="email")
    assert [o.key for o in outcomes] == [str(r.get("email")) for r in rows]
    assert [o.status for o in outcomes] == [
        Status.CREATED,
        *[Status.REJECTED] * 8,
        Status.UNCHANGED,
        Status.UNCHANGED,
        Status.REJECTED,
    ]
    assert [(o.code, o.field) for o in outcomes[1:9]] == [
        ("email_invalid", "email"),
        ("not_writable", "status"),
        ("unknown_field", "favourite_colour"),
        ("unique_taken", "custom:customer_code"),
        ("wrong_type", "custom:employees"),
        ("too_long", "phone_number"),
        ("not_writable", "hashcode"),
        ("not_an_option", "custom:sales_stage"),
    ]
    assert outcomes[-1].code == "key_missing"
    assert acme.get_customer(email="b1@example.jp")["custom"]["employees"] == 120
    with pytest.raises(HttpError):
        acme.get_customer(email="b4@example.jp")


def test_bulk_upsert_by_hashcode_and_chunking_past_the_per_call_limit(
    acme: SatoriClient, server: BackgroundServer
) -> None:
    rows = [{"email": f"chunk{i}@example.jp", "memo": "first"} for i in range(1_005)]
    server.request_log.entries.clear()
    outcomes = acme.bulk_upsert(rows)
    calls = [e for e in server.request_log.entries if e.path.endswith("/bulk-upsert")]
    assert len(calls) == 2 and len(outcomes) == 1_005
    assert all(o.status is Status.CREATED for o in outcomes)
    by_hash = [{"hashcode": o.target_id, "memo": "second"} for o in outcomes[:3]]
    assert [o.status for o in acme.bulk_upsert(by_hash, key="hashcode")] == [Status.UPDATED] * 3
    fetched = acme.bulk_get(hashcodes=[str(o.target_id) for o in outcomes[:3]])
    assert [c["memo"] for c in fetched] == ["second"] * 3
    by_email = acme.bulk_get(emails=["CHUNK7@example.jp", "chunk8@example.jp", "none@example.jp"])
    assert sorted(c["email"] for c in by_email) == ["chunk7@example.jp", "chunk8@example.jp"]


def test_bulk_upsert_over_the_limit_is_refused_as_a_whole(server: BackgroundServer) -> None:
    body = {"key": "email", "customers": [{"email": f"x{i}@example.jp"} for i in range(1_001)]}
    response = httpx.post(
        server.url + "/api/integration/v1/customers/bulk-upsert",
        json=body,
        headers={"Authorization": "Bearer tok-acme"},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "customers"


def test_search_operators_over_fields_custom_fields_dates_and_tags(acme: SatoriClient) -> None:
    acme.bulk_upsert(
        [
            {
                "email": "s1@search.jp",
                "lead_company_name": "株式会社さくらシステム",
                "custom": {"employees": 10},
            },
            {"email": "s2@search.jp", "lead_company_name": "東京商事株式会社", "custom": {"employees": 500}},
            {"email": "s3@search.jp", "lead_company_name": "株式会社さくら物産", "tags": ["資料請求"]},
        ]
    )

    def emails(conditions: list[dict[str, Any]]) -> list[str]:
        found = [c["email"] for page in acme.iter_search(conditions) for c in page]
        return sorted(e for e in found if e.endswith("@search.jp"))

    assert emails([{"field": "lead_company_name", "op": "contains", "value": "さくら"}]) == [
        "s1@search.jp",
        "s3@search.jp",
    ]
    assert emails(
        [
            {"field": "email", "op": "contains", "value": "@search.jp"},
            {"field": "lead_company_name", "op": "not_contains", "value": "さくら"},
        ]
    ) == ["s2@search.jp"]
    assert emails([{"field": "email", "op": "any_of", "values": ["S1@search.jp", "s2@search.jp"]}]) == [
        "s1@search.jp",
        "s2@search.jp",
    ]
    assert emails([{"field": "custom:employees", "op": "range", "from": 100}]) == ["s2@search.jp"]
    assert emails([{"field": "custom:employees", "op": "range", "from": 10, "to": 10}]) == ["s1@search.jp"]
    assert emails([{"field": "tags", "op": "any_of", "values": ["資料請求"]}]) == ["s3@search.jp"]
    created = acme.get_customer(email="s1@search.jp")["created_at"]
    assert "s1@search.jp" in emails([{"field": "created_at", "op": "range", "from": created, "to": created}])
    with pytest.raises(HttpError) as bad:
        next(acme.iter_search([{"field": "no_such_field", "op": "contains", "value": "x"}]))
    assert bad.value.status == 422 and bad.value.code == "invalid_condition"


def test_pager_never_skips_a_customer_updated_between_pages(acme: SatoriClient) -> None:
    acme.bulk_upsert([{"email": f"p{i:03d}@pager.jp", "memo": "v1"} for i in range(120)])
    condition = [{"field": "email", "op": "contains", "value": "@pager.jp"}]
    seen: list[str] = []
    for number, page in enumerate(acme.iter_search(condition, page_size=25)):
        seen.extend(c["email"] for c in page)
        if number == 0:
            # update customers already returned and customers not yet returned
            acme.bulk_upsert(
                [{"email": e, "memo": "v2"} for e in [*seen[:5], "p119@pager.jp", "p100@pager.jp"]]
            )
    expected = {f"p{i:03d}@pager.jp" for i in range(120)}
    assert set(seen) == expected
    assert len(seen) <= 120 + 5 + 2
    by_id = [
        c["email"] for page in acme.iter_search(condition, page_size=25, order="customer_id") for c in page
    ]
    assert sorted(by_id) == sorted(expected)


def test_field_catalog_lists_defaults_and_custom_fields_with_the_unique_flag(acme: SatoriClient) -> None:
    fields = {f["name"]: f for f in acme.fields()}
    assert (
        fields["custom:customer_code"]["unique"] is True and fields["custom:customer_code"]["custom"] is True
    )
    assert fields["custom:employees"]["type"] == "integer"
    assert fields["score"]["writable"] is False and fields["last_name"]["writable"] is True
    assert fields["email"]["unique"] is True


def test_no_or_wrong_token_is_401_and_a_token_sees_only_its_company(
    server: BackgroundServer, acme: SatoriClient, beta: SatoriClient
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = httpx.get(server.url + "/api/integration/v1/fields", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
    acme.put_customer({"last_name": "秘密"}, email="shared@example.jp")
    with pytest.raises(HttpError) as hidden:
        beta.get_customer(email="shared@example.jp")
    assert hidden.value.status == 404
    assert beta.put_customer({"last_name": "別会社"}, email="shared@example.jp").status is Status.CREATED
    assert acme.get_customer(email="shared@example.jp")["last_name"] == "秘密"
    beta_emails = [c["email"] for page in beta.iter_search([]) for c in page]
    assert beta_emails == ["shared@example.jp"]


def test_bad_input_is_a_4xx_json_error_naming_the_field(server: BackgroundServer) -> None:
    url = server.url + "/api/integration/v1/customers/search"
    auth = {"Authorization": "Bearer tok-acme"}
    malformed = httpx.post(
        url, content=b'{"conditions": [', headers={**auth, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 422 and malformed.json()["code"] == "invalid_request"
    wrong_type = httpx.post(url, json={"page_size": "many"}, headers=auth)
    assert wrong_type.status_code == 422 and wrong_type.json()["field"] == "page_size"
    too_big = httpx.post(url, json={"page_size": 501}, headers=auth)
    assert too_big.status_code == 422 and too_big.json()["field"] == "page_size"
    oversize = httpx.post(
        url, content=b" " * (33 * 1024 * 1024), headers={**auth, "Content-Type": "application/json"}
    )
    assert oversize.status_code == 413
    bad_token = httpx.post(url, json={"page_token": "garbage"}, headers=auth)
    assert bad_token.status_code == 422 and bad_token.json()["field"] == "page_token"


def test_system_fields_seeded_by_the_sandbox_are_read_back(
    server: BackgroundServer, acme: SatoriClient
) -> None:
    control(
        server,
        "tok-acme",
        "POST",
        "/_sandbox/customers",
        [{"email": "system@example.jp", "score": 42, "status": "商談中", "delivery_status": "アドレス不正"}],
    )
    customer = acme.get_customer(email="system@example.jp")
    assert (customer["score"], customer["status"], customer["delivery_status"]) == (
        42,
        "商談中",
        "アドレス不正",
    )
