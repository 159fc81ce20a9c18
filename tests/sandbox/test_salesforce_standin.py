"""The Salesforce stand-in over real HTTPS: OAuth, SOQL, upsert statuses, limits, restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import requests
from simple_salesforce import Salesforce, format_soql

from sandbox.common import BackgroundServer
from sandbox.salesforce.app import create_app

V = "/services/data/v62.0"
LOGIN = {
    "grant_type": "password",
    "client_id": "renkei-client",
    "client_secret": "renkei-secret",
    "username": "admin@renkei.example.com",
    "password": "renkei-demo",
}


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundServer, httpx.Client]]:
    app = create_app(tmp_path_factory.mktemp("sf"), daily_limit=1_000_000)
    with BackgroundServer(app, **app.state.tls.uvicorn_kwargs()) as server:
        client = httpx.Client(base_url=server.url, verify=str(app.state.tls.ca), trust_env=False, timeout=30)
        token = client.post("/services/oauth2/token", data=LOGIN).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield server, client


def soql(client: httpx.Client, query: str) -> dict[str, Any]:
    response = client.get(f"{V}/query", params={"q": query})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_password_grant_names_the_stand_in_and_bad_password_is_invalid_grant(org: Any) -> None:
    server, client = org
    good = client.post("/services/oauth2/token", data=LOGIN).json()
    assert good["instance_url"] == server.url and good["token_type"] == "Bearer"
    bad = client.post("/services/oauth2/token", data={**LOGIN, "password": "wrong"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    bad_id = client.post("/services/oauth2/token", data={**LOGIN, "client_id": "nope"})
    assert bad_id.json()["error"] == "invalid_client_id"
    unauth = httpx.get(f"{server.url}{V}/sobjects", verify=str(server.app.state.tls.ca), trust_env=False)
    assert unauth.status_code == 401 and unauth.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_jwt_bearer_assertion_is_verified_against_the_app_certificate(org: Any) -> None:
    _, client = org
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    client.put("/_sandbox/jwt-certificate", json={"certificate": public.decode()}).raise_for_status()
    claims = {
        "iss": "renkei-client",
        "sub": LOGIN["username"],
        "aud": "https://login.salesforce.com",
        "exp": 2**31,
    }
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    ok = client.post(
        "/services/oauth2/token", data={"grant_type": grant, "assertion": jwt.encode(claims, key, "RS256")}
    )
    assert ok.status_code == 200 and ok.json()["access_token"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = client.post(
        "/services/oauth2/token", data={"grant_type": grant, "assertion": jwt.encode(claims, other, "RS256")}
    )
    assert forged.status_code == 400 and forged.json()["error"] == "invalid_grant"


def test_quoted_metacharacters_cannot_change_the_query(org: Any) -> None:
    _, client = org
    nasty = "O'Brien' OR LastName != 'x\\%_"
    for last in (nasty, "Plain"):
        client.post(f"{V}/sobjects/Lead", json={"LastName": last, "Company": "Q社"}).raise_for_status()
    body = soql(client, format_soql("SELECT Id, LastName FROM Lead WHERE LastName = {}", nasty))
    assert [r["LastName"] for r in body["records"]] == [nasty]
    like = soql(
        client, format_soql("SELECT LastName FROM Lead WHERE LastName LIKE '{:like}%'", "O'Brien' OR")
    )
    assert [r["LastName"] for r in like["records"]] == [nasty]
    broken = client.get(f"{V}/query", params={"q": "SELECT Id FROM Lead WHERE LastName = 'O'Brien'"})
    assert broken.status_code == 400 and broken.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_soql_subset_where_order_nulls_limit_offset_and_datetime_literals(org: Any) -> None:
    _, client = org
    records: list[dict[str, Any]] = [
        {"LastName": "S1", "Company": "Sub", "Title": "b", "Occurred": "2026-11-28T02:00:00+09:00"},
        {"LastName": "S2", "Company": "Sub", "Title": None},
        {"LastName": "S3", "Company": "Sub", "Title": "a"},
    ]
    for r in records:
        client.post(
            f"{V}/sobjects/Lead", json={k: v for k, v in r.items() if k != "Occurred"}
        ).raise_for_status()
    base = "SELECT LastName FROM Lead WHERE Company = 'sub'"
    names = lambda q: [r["LastName"] for r in soql(client, q)["records"]]  # noqa: E731
    assert names(base + " ORDER BY Title ASC NULLS LAST") == ["S3", "S1", "S2"]
    assert names(base + " ORDER BY Title DESC") == ["S1", "S3", "S2"]
    assert names(base + " ORDER BY Title NULLS FIRST, LastName DESC LIMIT 2 OFFSET 1") == ["S3", "S1"]
    assert names(base + " AND (Title IN ('a', 'b') AND NOT LastName = 'S1') ORDER BY LastName") == ["S3"]
    assert names(base + " AND (Title = null OR LastName LIKE '%1') ORDER BY LastName") == ["S1", "S2"]
    assert names(base + " AND Title NOT IN ('a') AND Title != null") == ["S1"]
    recent = soql(
        client,
        base + " AND SystemModstamp > 2020-01-01T00:00:00+09:00 AND CreatedDate >= 2020-01-01T00:00:00Z",
    )
    assert recent["totalSize"] == 3
    # within one day too: stamps are kept as "…T09:00:00.000+0000" and compare in time order
    stamps = sorted(
        r["SystemModstamp"] for r in soql(client, base.replace("LastName", "SystemModstamp"))["records"]
    )
    later = datetime.strptime(stamps[-1], "%Y-%m-%dT%H:%M:%S.%f%z") + timedelta(seconds=1)
    assert names(base + f" AND SystemModstamp >= {later.isoformat(timespec='seconds')}") == []
    assert len(names(base + f" AND SystemModstamp < {later.isoformat(timespec='seconds')}")) == 3
    quoted = client.get(f"{V}/query", params={"q": "SELECT Id FROM Lead WHERE SystemModstamp > '2020-01-01'"})
    assert quoted.status_code == 400 and quoted.json()[0]["errorCode"] == "INVALID_FIELD"
    unknown = client.get(f"{V}/query", params={"q": "SELECT Nope__c FROM Lead"})
    assert unknown.json()[0]["errorCode"] == "INVALID_FIELD"
    assert soql(client, "SELECT COUNT() FROM Lead WHERE Company = 'Sub'")["totalSize"] == 3


def test_paging_beyond_2000_with_next_records_url(org: Any) -> None:
    _, client = org
    for start in range(0, 2300, 200):
        records = [
            {"attributes": {"type": "Contact"}, "LastName": "Page", "SATORI_Customer_ID__c": f"P{i}"}
            for i in range(start, min(start + 200, 2300))
        ]
        client.post(
            f"{V}/composite/sobjects", json={"allOrNone": True, "records": records}
        ).raise_for_status()
    first = soql(client, "SELECT Id, SATORI_Customer_ID__c FROM Contact WHERE LastName = 'Page'")
    assert first["totalSize"] == 2300 and len(first["records"]) == 2000 and first["done"] is False
    second = client.get(first["nextRecordsUrl"]).json()
    assert len(second["records"]) == 300 and second["done"] is True
    ids = {r["SATORI_Customer_ID__c"] for r in first["records"] + second["records"]}
    assert len(ids) == 2300


def test_upsert_statuses_201_200_300_404(org: Any) -> None:
    _, client = org
    url = f"{V}/sobjects/Lead/SATORI_Customer_ID__c/U%2F1"
    created = client.patch(url, json={"LastName": "上田", "Company": "株式会社U"})
    assert created.status_code == 201 and created.json()["created"] is True
    updated = client.patch(url, json={"Title": "部長"})
    assert updated.status_code == 200 and updated.json()["created"] is False
    assert created.json()["id"] == updated.json()["id"] and len(created.json()["id"]) == 18
    assert created.json()["id"].startswith("00Q")
    added = client.post(
        "/_sandbox/fields", json={"object": "Lead", "name": "Legacy_Key__c", "externalId": True}
    )
    assert added.status_code == 201
    for _ in range(2):
        client.post(f"{V}/sobjects/Lead", json={"LastName": "D", "Company": "D", "Legacy_Key__c": "L1"})
    several = client.patch(f"{V}/sobjects/Lead/Legacy_Key__c/L1", json={"Title": "x"})
    assert several.status_code == 300 and len(several.json()) == 2
    not_external = client.patch(f"{V}/sobjects/Lead/Title/x", json={"Title": "x"})
    assert not_external.status_code == 404 and not_external.json()[0]["errorCode"] == "NOT_FOUND"


def test_record_errors_and_converted_lead(org: Any) -> None:
    _, client = org
    too_long = client.post(f"{V}/sobjects/Lead", json={"LastName": "x" * 81, "Company": "c"})
    assert too_long.json()[0]["errorCode"] == "STRING_TOO_LONG"
    bad_mail = client.post(f"{V}/sobjects/Lead", json={"LastName": "x", "Company": "c", "Email": "a@@b"})
    assert bad_mail.json()[0]["errorCode"] == "INVALID_EMAIL_ADDRESS"
    url = f"{V}/sobjects/Contact/SATORI_Customer_ID__c/"
    client.patch(url + "DUP1", json={"LastName": "a", "Email": "dup@example.jp"}).raise_for_status()
    clash = client.patch(
        f"{V}/sobjects/Contact/{client.get(url + 'DUP1').json()['Id']}", json={"SATORI_Customer_ID__c": "P1"}
    )
    assert clash.json()[0]["errorCode"] == "DUPLICATE_VALUE"
    lead = client.post(f"{V}/sobjects/Lead", json={"LastName": "転換", "Company": "C社"}).json()["id"]
    converted = client.post(f"/_sandbox/leads/{lead}/convert").json()
    assert converted["contactId"].startswith("003")
    refused = client.patch(f"{V}/sobjects/Lead/{lead}", json={"Title": "x"})
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    row = client.get(f"{V}/sobjects/Lead/{lead}").json()
    assert row["IsConverted"] is True and row["ConvertedContactId"] == converted["contactId"]


def test_group_by_having_finds_duplicate_emails(org: Any) -> None:
    _, client = org
    for i, email in enumerate(["same@example.jp", "SAME@example.jp", "other@example.jp"]):
        client.patch(
            f"{V}/sobjects/Contact/SATORI_Customer_ID__c/G{i}", json={"LastName": "g", "Email": email}
        )
    body = soql(
        client,
        "SELECT Email, COUNT(Id) n FROM Contact WHERE Email LIKE '%@example.jp' "
        "GROUP BY Email HAVING COUNT(Id) > 1",
    )
    assert [(r["Email"].lower(), r["n"]) for r in body["records"]] == [("same@example.jp", 2)]
    assert body["records"][0]["attributes"]["type"] == "AggregateResult"


def test_describe_and_limits_header(org: Any) -> None:
    _, client = org
    response = client.get(f"{V}/sobjects/SATORI_Action__c/describe")
    fields = {f["name"]: f for f in response.json()["fields"]}
    assert fields["Event_ID__c"]["externalId"] and fields["Event_ID__c"]["unique"]
    assert fields["Occurred_At__c"]["type"] == "datetime" and fields["Lead__c"]["referenceTo"] == ["Lead"]
    lead = {f["name"]: f for f in client.get(f"{V}/sobjects/Lead/describe").json()["fields"]}
    assert lead["LastName"]["nillable"] is False and lead["Company"]["createable"]
    assert lead["SATORI_Customer_ID__c"]["length"] == 64
    used, limit = response.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    assert int(limit) == 1_000_000 and int(used) > 0


def test_request_limit_exceeded_when_the_allocation_is_used_up(org: Any) -> None:
    _, client = org
    before = client.get("/_sandbox/usage").json()
    client.put("/_sandbox/usage", json={"used": before["limit"]})
    refused = client.get(f"{V}/sobjects")
    assert refused.status_code == 403 and refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert refused.headers["Sforce-Limit-Info"] == f"api-usage={before['limit']}/{before['limit']}"
    client.put("/_sandbox/usage", json={"used": before["used"]})


def test_simple_salesforce_logs_in_with_the_oauth_password_flow(org: Any) -> None:
    server, _ = org

    class ToStandIn(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            request.url = (request.url or "").replace("https://login.salesforce.com", server.url)
            return super().send(request, *args, **kwargs)

    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.app.state.tls.ca)
    session.mount("https://login.salesforce.com", ToStandIn())
    sf = Salesforce(
        username=LOGIN["username"],
        password=LOGIN["password"],
        consumer_key=LOGIN["client_id"],
        consumer_secret=LOGIN["client_secret"],
        session=session,
    )
    assert sf.sf_instance == server.url.removeprefix("https://")
    lead: Any = sf.Lead
    assert lead.upsert("SATORI_Customer_ID__c/SS1", {"LastName": "公式", "Company": "SDK"}) == 201
    assert (
        sf.query("SELECT LastName FROM Lead WHERE SATORI_Customer_ID__c = 'SS1'")["records"][0]["LastName"]
        == "公式"
    )


def test_data_and_certificate_survive_a_restart(tmp_path: Path) -> None:
    app = create_app(tmp_path)
    ca_before = (tmp_path / "salesforce-ca.pem").read_bytes()
    with app.state.org.batch():
        record_id = app.state.org.create("Account", {"Name": "永続"})
    again = create_app(tmp_path)
    assert again.state.org.get("Account", record_id)["Name"] == "永続"
    assert (tmp_path / "salesforce-ca.pem").read_bytes() == ca_before
