"""SalesforceClient against the stand-in over HTTPS: login flows, upserts with row outcomes, reads, budget."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.http import HttpPolicy
from connectors.salesforce import SalesforceClient
from connectors.salesforce_auth import SalesforceAuthError
from connectors.salesforce_budget import ApiBudget
from sandbox.common import BackgroundServer
from sandbox.salesforce.app import create_app
from schemas import clock
from schemas.outcomes import Status

FAST = HttpPolicy(backoff_base=0.01, backoff_cap=0.05)
USER = {"username": "admin@renkei.example.com", "password": "renkei-demo"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    app = create_app(tmp_path_factory.mktemp("sfc"), daily_limit=1_000_000)
    with BackgroundServer(app, **app.state.tls.uvicorn_kwargs()) as running:
        yield running


@pytest.fixture
def control(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, verify=str(server.app.state.tls.ca), trust_env=False) as client:
        yield client
        client.put("/_sandbox/lock-faults", json={"rate": 0})
        client.put("/_sandbox/bulk-faults", json={})


def make_client(server: BackgroundServer, **kwargs: Any) -> SalesforceClient:
    options: dict[str, Any] = {"client_id": "renkei-client", "client_secret": "renkei-secret", **USER}
    options.update(kwargs)
    return SalesforceClient(
        server.url, ca_bundle=str(server.app.state.tls.ca), policy=FAST, poll_seconds=0.05, **options
    )


def leads(prefix: str, n: int, bad: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "SATORI_Customer_ID__c": f"{prefix}{i}",
            "LastName": f"姓{i}",
            "Company": None if i == bad else "株式会社テスト",
        }
        for i in range(n)
    ]


def test_login_flows_and_bad_credentials(server: BackgroundServer, control: httpx.Client) -> None:
    assert make_client(server).describe("Lead")["LastName"].required
    machine = make_client(server, username=None, password=None)
    assert "Event_ID__c" in machine.describe("SATORI_Action__c")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    control.put("/_sandbox/jwt-certificate", json={"certificate": public.decode()}).raise_for_status()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    jwt_client = make_client(server, client_secret=None, password=None, private_key=pem.decode())
    fields = jwt_client.describe("Contact")
    assert fields["SATORI_Customer_ID__c"].external_id and fields["SATORI_Customer_ID__c"].length == 64
    with pytest.raises(SalesforceAuthError, match="invalid_grant") as failure:
        make_client(server, password="wrong").describe("Lead")
    assert "wrong" not in str(failure.value)


def test_untrusted_certificate_is_refused(server: BackgroundServer) -> None:
    client = SalesforceClient(
        server.url, client_id="renkei-client", client_secret="x", policy=HttpPolicy(max_attempts=1)
    )
    with pytest.raises(Exception, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        client.login()


@pytest.mark.parametrize("threshold", [10_000, 1], ids=["collections", "bulk"])
def test_one_bad_row_is_rejected_with_salesforce_message_and_the_rest_load(
    server: BackgroundServer, threshold: int
) -> None:
    client = make_client(server, bulk_threshold=threshold)
    rows = leads(f"R{threshold}-", 250, bad=7)
    outcomes = client.upsert("Lead", "SATORI_Customer_ID__c", rows)
    assert [o.key for o in outcomes] == [r["SATORI_Customer_ID__c"] for r in rows]
    bad = outcomes[7]
    assert bad.status is Status.REJECTED and bad.code == "REQUIRED_FIELD_MISSING"
    assert bad.message == "Required fields are missing: [Company]" and bad.field == "Company"
    assert sum(o.status is Status.CREATED for o in outcomes) == 249
    assert all(o.target_id and o.target_id.startswith("00Q") for o in outcomes if o.status.loaded)
    again = client.upsert("Lead", "SATORI_Customer_ID__c", rows[:3])
    assert [o.status for o in again] == [Status.UPDATED] * 3


def test_bulk_rows_missing_from_every_result_file_are_rejected_not_lost(
    server: BackgroundServer, control: httpx.Client
) -> None:
    client = make_client(server, bulk_threshold=1)
    control.put("/_sandbox/bulk-faults", json={"lose_rows": 2})
    outcomes = client.upsert("Lead", "SATORI_Customer_ID__c", leads("LOST", 20))
    lost = [o for o in outcomes if o.code == "NO_RESULT"]
    assert len(lost) == 2 and "no result from Salesforce" in (lost[0].message or "")
    assert sum(o.status.loaded for o in outcomes) == 18
    control.put("/_sandbox/bulk-faults", json={"fail_after": 5})
    stopped = client.upsert("Lead", "SATORI_Customer_ID__c", leads("STOP", 12))
    assert [o.status for o in stopped].count(Status.DEFERRED) == 7
    assert sum(o.status.loaded for o in stopped) == 5


def test_input_problems_are_rejected_one_by_one(server: BackgroundServer) -> None:
    rows = [{"SATORI_Customer_ID__c": "K", "LastName": "a"}, {"SATORI_Customer_ID__c": "K", "LastName": "b"}]
    rows.append({"LastName": "no key"})
    outcomes = make_client(server).upsert("Contact", "SATORI_Customer_ID__c", rows)
    assert [o.code for o in outcomes] == ["DUPLICATE_KEY_IN_INPUT"] * 2 + ["MISSING_EXTERNAL_ID"]


def test_lock_errors_are_retried_then_load(server: BackgroundServer, control: httpx.Client) -> None:
    control.put("/_sandbox/lock-faults", json={"rate": 0.3, "seed": 4})
    client = make_client(server, lock_retries=8)
    outcomes = client.upsert("Lead", "SATORI_Customer_ID__c", leads("LOCK", 60))
    assert all(o.status is Status.CREATED for o in outcomes), [o for o in outcomes if not o.status.loaded]
    control.put("/_sandbox/lock-faults", json={"rate": 1.0, "seed": 1})
    stuck = make_client(server, lock_retries=1).upsert("Lead", "SATORI_Customer_ID__c", leads("STUCK", 3))
    assert {o.status for o in stuck} == {Status.DEFERRED}  # transient: the next run tries again
    assert all("UNABLE_TO_LOCK_ROW after 1 retries" in (o.message or "") for o in stuck)


def test_expired_session_is_renewed_once_and_the_call_repeated(
    server: BackgroundServer, control: httpx.Client
) -> None:
    client = make_client(server)
    client.upsert("Lead", "SATORI_Customer_ID__c", leads("EXP", 2))
    assert control.post("/_sandbox/expire-sessions").json()["expired"] >= 1
    outcomes = client.upsert("Lead", "SATORI_Customer_ID__c", leads("EXP", 2))
    assert [o.status for o in outcomes] == [Status.UPDATED] * 2 and client.logins == 2


def test_converted_lead_is_reported(server: BackgroundServer, control: httpx.Client) -> None:
    client = make_client(server)
    created = client.upsert("Lead", "SATORI_Customer_ID__c", leads("CONV", 1))[0]
    control.post(f"/_sandbox/leads/{created.target_id}/convert").raise_for_status()
    outcome = client.upsert("Lead", "SATORI_Customer_ID__c", leads("CONV", 1))[0]
    assert outcome.status is Status.REJECTED and outcome.code == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_reads_changed_since_duplicates_and_bulk_query(server: BackgroundServer) -> None:
    client = make_client(server)
    start = clock.now() - timedelta(seconds=1)
    rows = [
        {"SATORI_Customer_ID__c": f"READ{i}", "LastName": "読", "Email": f"r{i % 3}@dup.example.jp"}
        for i in range(9)
    ]
    client.upsert("Contact", "SATORI_Customer_ID__c", rows)
    changed = list(
        client.changed_since("Contact", ["Email", "SATORI_Customer_ID__c"], start, overlap=timedelta(0))
    )
    mine = [r for r in changed if (r["SATORI_Customer_ID__c"] or "").startswith("READ")]
    assert len(mine) == 9
    order = [(r["SystemModstamp"], r["Id"]) for r in changed]
    assert order == sorted(order)
    dups = client.duplicate_values("Contact", "Email")
    assert {k: v for k, v in dups.items() if k.endswith("@dup.example.jp")} == {
        f"r{i}@dup.example.jp": 3 for i in range(3)
    }
    bulk_rows = list(client.bulk_query("SELECT Id, SATORI_Customer_ID__c FROM Contact WHERE LastName = '読'"))
    assert sorted(r["SATORI_Customer_ID__c"] for r in bulk_rows) == sorted(
        r["SATORI_Customer_ID__c"] for r in rows
    )


def test_api_usage_and_budget_defers_the_rest(server: BackgroundServer, control: httpx.Client) -> None:
    control.put("/_sandbox/usage", json={"used": 100, "limit": 1000})
    client = make_client(server, budget=ApiBudget(run_share=0.003, total_share=0.8))
    client.describe("Lead")
    used, limit = client.api_usage() or (0, 0)
    assert limit == 1000 and used >= 101
    outcomes = client.upsert("Lead", "SATORI_Customer_ID__c", leads("BUDGET", 600))
    deferred = [o for o in outcomes if o.status is Status.DEFERRED]
    assert sum(o.status.loaded for o in outcomes) == 400 and len(deferred) == 200
    assert "budget" in (deferred[0].message or "")
    control.put("/_sandbox/usage", json={"used": 1000})
    exhausted = make_client(server).upsert("Lead", "SATORI_Customer_ID__c", leads("LIMIT", 2))
    assert [o.status for o in exhausted] == [Status.DEFERRED] * 2
    assert "TotalRequests Limit exceeded" in (exhausted[0].message or "")
    control.put("/_sandbox/usage", json={"used": 0, "limit": 1_000_000})


def test_a_cut_tls_stream_is_retried_but_a_refused_certificate_is_not() -> None:
    import ssl

    import urllib3

    from connectors.salesforce_auth import PolicyRetry

    retry = PolicyRetry(total=3, other=0)
    cut = urllib3.exceptions.SSLError(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))
    refused = urllib3.exceptions.SSLError(ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED]"))
    assert retry._is_connection_error(cut) is True
    assert retry._is_connection_error(refused) is False
    assert retry.increment("POST", "/x", error=cut).total == 2  # counted as a connection error, retried
