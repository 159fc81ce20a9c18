"""Salesforce both ways, end to end: the MA stand-in, staged cuts, and the Salesforce stand-in over HTTPS.

simple-salesforce makes every Salesforce call (through SalesforceTarget); the stand-ins' request logs
and databases prove what was written, and every stream's counts add up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.http import HttpPolicy
from connectors.satori import SatoriClient
from connectors.staging import StagingArea
from connectors.state import StateStore
from sandbox.common import BackgroundServer
from sandbox.salesforce.app import create_app as salesforce_app
from sandbox.satori.app import create_app as satori_app
from schemas.outcomes import Status
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.clients import state_store
from tasks.extract import due_cuts, stage_one_cut
from tasks.load import StreamReport
from tasks.sync_target import sync_inbound, sync_outbound
from tasks.targets.salesforce import SalesforceTarget
from tests.flows.conftest import sandbox_call, write_spec

TOKEN = "tok-salesforce"
FAST = HttpPolicy(backoff_base=0.01, backoff_cap=0.05)
AUTH = {
    "client_id": "renkei-client",
    "client_secret": "renkei-secret",
    "username": "admin@renkei.example.com",
    "password": "renkei-demo",
}
FIELDS = {
    "email": "readable",
    "hashcode": "readable",
    "last_name": "readable",
    "lead_company_name": "readable",
    "custom:stage": "writable",
}
CUSTOMERS = [
    {"email": "tanaka@example.co.jp", "last_name": "田中", "lead_company_name": "田中工業"},
    {"email": "sato@example.co.jp", "last_name": "佐藤", "lead_company_name": "佐藤商事"},
    {"email": "suzuki@example.co.jp", "last_name": "鈴木", "lead_company_name": ""},
]


@dataclass
class World:
    """One MA, one Salesforce org, one spec folder."""

    ma_server: BackgroundServer
    sf: BackgroundServer
    ma: SatoriClient
    control: httpx.Client
    root: Path

    def ma_call(self, method: str, path: str, body: Any = None) -> Any:
        return sandbox_call(self.ma_server.url, TOKEN, method, path, body)

    def spec(self, **target: Any) -> Spec:
        entry = {
            "name": "sf",
            "kind": "salesforce",
            "url": self.sf.url,
            "object": "Lead",
            "auth": AUTH,
            "ca_bundle": str(self.sf.app.state.tls.ca),
            "match": {"ma": "hashcode", "target": "SATORI_Customer_ID__c"},
            "map": {
                "email": "Email",
                "last_name": "LastName",
                "lead_company_name": "Company",
                "custom:stage": "Stage__c",
            },
            "defaults": {"LastName": "(未設定)"},
            "actions": {"form": {"object": "SATORI_Action__c"}},
            **target,
        }
        path = write_spec(
            self.root / f"{entry['name']}.yaml",
            self.ma_server.url,
            TOKEN,
            self.root,
            custom_fields={"stage": {"type": "text"}},
            fields=FIELDS,
            targets=[entry],
        )
        return load_spec(path)

    def stage_due(self, spec: Spec) -> None:
        cut = due_cuts(self.ma, state_store(spec))[-1]
        stage_one_cut(spec, self.ma, StagingArea(spec.storage.staging), cut, f"stage-{cut.id}")

    def rows(self, obj: str) -> list[dict[str, Any]]:
        """Straight from the org's store, not through the API."""
        records: list[dict[str, Any]] = self.sf.app.state.org.rows(obj)
        return records

    def api_writes(self) -> int:
        return sum(1 for e in self.sf.request_log.writes() if e.path.startswith("/services/data/"))


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    sf_app = salesforce_app(tmp_path / "sf", daily_limit=1_000_000)
    with (
        BackgroundServer(satori_app(tmp_path / "ma", {TOKEN: "acme"})) as ma_server,
        BackgroundServer(sf_app, **sf_app.state.tls.uvicorn_kwargs()) as sf,
        httpx.Client(base_url=sf.url, verify=str(sf_app.state.tls.ca), trust_env=False) as control,
        SatoriClient(ma_server.url, TOKEN) as ma,
    ):
        world = World(ma_server, sf, ma, control, tmp_path)
        control.post(
            "/_sandbox/fields", json={"object": "Lead", "name": "Stage__c", "length": 40}
        ).raise_for_status()
        control.post(
            "/_sandbox/fields", json={"object": "Contact", "name": "Stage__c", "length": 40}
        ).raise_for_status()
        world.ma_call("POST", "/_sandbox/custom-fields", [{"identifier": "stage", "type": "text"}])
        world.ma_call(
            "POST",
            "/_sandbox/masters",
            [{"kind": "form", "id": "fm-1", "name": "資料請求", "created_at": "2026-11-01T09:00+09:00"}],
        )
        world.ma_call("PUT", "/_sandbox/clock", {"now": "2026-11-28T01:00:00+09:00"})
        ma.bulk_upsert(CUSTOMERS)
        world.ma_call(
            "POST",
            "/_sandbox/actions",
            [
                {
                    "kind": "form",
                    "email": c["email"],
                    "master_id": "fm-1",
                    "event_type": "submitted",
                    "occurred_at": "2026-11-28T01:10:00+09:00",
                    "recorded_at": "2026-11-28T01:20:00+09:00",
                }
                for c in CUSTOMERS
            ],
        )
        world.ma_call("PUT", "/_sandbox/clock", {"now": "2026-11-28T03:00:00+09:00"})
        yield world


def adapter(spec: Spec) -> SalesforceTarget:
    return SalesforceTarget(spec, spec.targets[0], policy=FAST, poll_seconds=0.02)


def outbound(world: World, spec: Spec, target: SalesforceTarget, run: str) -> dict[str, StreamReport]:
    ma, staging, state = world.ma, StagingArea(spec.storage.staging), state_store(spec)
    reports = sync_outbound(spec, spec.targets[0], target, ma, staging, state, run)
    assert all(r.counts.balanced for r in reports), reports
    return {r.stream: r for r in reports}


def hashcodes(world: World) -> dict[str, str]:
    return {c["email"]: c["hashcode"] for c in world.ma.bulk_get(emails=[c["email"] for c in CUSTOMERS])}


def test_leads_actions_and_stage_back_rerun_writes_nothing_and_session_recovers(world: World) -> None:
    spec = world.spec()
    world.stage_due(spec)
    target = adapter(spec)
    reports = outbound(world, spec, target, "r1")
    customers = reports["customers:snapshot"].counts
    assert (customers.received, customers.loaded, customers.rejected) == (3, 2, 1)
    (empty,) = reports["customers:snapshot"].errors
    assert empty.code == "required_field_missing" and empty.field == "Company"
    assert "defaults" in (empty.message or "")
    leads = {r["Email"]: r for r in world.rows("Lead")}
    assert set(leads) == {"tanaka@example.co.jp", "sato@example.co.jp"}
    codes = hashcodes(world)
    assert leads["tanaka@example.co.jp"]["SATORI_Customer_ID__c"] == codes["tanaka@example.co.jp"]

    actions = reports["actions:form"]
    assert (actions.counts.loaded, actions.counts.rejected) == (2, 1)  # suzuki has no Lead
    assert actions.errors[0].code == "customer_not_in_salesforce"
    stored = {a["Email__c"]: a for a in world.rows("SATORI_Action__c")}
    assert stored["sato@example.co.jp"]["Lead__c"] == leads["sato@example.co.jp"]["Id"]
    assert stored["sato@example.co.jp"]["Kind__c"] == "form"

    lead_id = leads["sato@example.co.jp"]["Id"]
    edit = {"Stage__c": "商談中"}  # a sales rep's edit
    target.client.call(lambda sf: sf.restful(f"sobjects/Lead/{lead_id}", method="PATCH", json=edit))
    inbound = sync_inbound(spec, spec.targets[0], target, world.ma, state_store(spec), "r2")
    assert inbound.counts.balanced and inbound.counts.loaded == 1, inbound
    assert world.ma.get_customer(email="sato@example.co.jp")["custom"]["stage"] == "商談中"

    before = world.api_writes()
    assert world.control.post("/_sandbox/expire-sessions").json()["expired"] >= 1
    assert outbound(world, spec, target, "r3") == {}
    again = sync_inbound(spec, spec.targets[0], target, world.ma, state_store(spec), "r4")
    assert again.counts.loaded == 0 and again.counts.balanced
    assert world.api_writes() == before  # a re-run writes nothing into Salesforce
    assert target.client.logins == 2  # the expired session was renewed once
    target.close()


def test_contacts_with_their_actions(world: World) -> None:
    spec = world.spec(
        object="Contact", map={"email": "Email", "last_name": "LastName", "custom:stage": "Stage__c"}
    )
    world.stage_due(spec)
    target = adapter(spec)
    reports = outbound(world, spec, target, "c1")
    assert reports["customers:snapshot"].counts.loaded == 3
    assert reports["actions:form"].counts.loaded == 3
    contacts = {c["SATORI_Customer_ID__c"]: c["Id"] for c in world.rows("Contact")}
    assert set(contacts) == set(hashcodes(world).values())
    assert {a["Contact__c"] for a in world.rows("SATORI_Action__c")} == set(contacts.values())
    assert not world.rows("Lead")
    target.close()


def test_converted_lead_is_followed_to_its_contact(world: World) -> None:
    spec = world.spec(defaults={"Company": "(未設定)"})
    world.stage_due(spec)
    target = adapter(spec)
    outbound(world, spec, target, "l1")
    sato = next(r for r in world.rows("Lead") if r["Email"] == "sato@example.co.jp")
    contact_id = world.control.post(f"/_sandbox/leads/{sato['Id']}/convert").json()["contactId"]
    world.ma.bulk_upsert([{"email": "sato@example.co.jp", "last_name": "佐藤（変更）"}])
    world.ma_call(
        "POST",
        "/_sandbox/actions",
        [{"kind": "form", "email": "sato@example.co.jp", "master_id": "fm-1", "event_type": "submitted",
          "occurred_at": "2026-11-28T09:00:00+09:00", "recorded_at": "2026-11-28T09:00:00+09:00"}],
    )  # fmt: skip
    world.ma_call("PUT", "/_sandbox/clock", {"now": "2026-11-28T12:00:00+09:00"})
    world.stage_due(spec)
    reports = outbound(world, spec, target, "l2")
    customers = reports["customers"]
    assert customers.counts.loaded == 1 and customers.counts.rejected == 0, customers
    contact = world.sf.app.state.org.get("Contact", contact_id)
    assert contact["LastName"] == "佐藤（変更）"
    assert contact["SATORI_Customer_ID__c"] == hashcodes(world)["sato@example.co.jp"]
    assert reports["actions:form"].counts.loaded == 1
    late = [a for a in world.rows("SATORI_Action__c") if a["Occurred_At__c"].startswith("2026-11-28T00:00")]
    assert [(a["Contact__c"], a.get("Lead__c")) for a in late] == [(contact_id, None)]
    target.close()


@pytest.mark.parametrize("bulk_threshold", [None, 1], ids=["collections", "bulk2"])
def test_required_field_missing_is_quarantined_with_salesforces_message(
    world: World, bulk_threshold: int | None
) -> None:
    mapped = {"email": "Email", "last_name": "LastName", "custom:stage": "Stage__c"}  # no Company
    spec = world.spec(map=mapped, bulk_threshold=bulk_threshold)
    existing = hashcodes(world)["tanaka@example.co.jp"]
    org = world.sf.app.state.org
    with org.batch():
        org.create("Lead", {"LastName": "既存", "Company": "既存会社", "SATORI_Customer_ID__c": existing})
    world.stage_due(spec)
    target = adapter(spec)
    report = outbound(world, spec, target, "q1")["customers:snapshot"]
    assert (report.counts.loaded, report.counts.rejected) == (1, 2)
    assert {e.code for e in report.errors} == {"REQUIRED_FIELD_MISSING"}
    assert all("Required fields are missing: [Company]" in (e.message or "") for e in report.errors)
    used_bulk = any("/jobs/ingest" in e.path for e in world.sf.request_log.entries)
    assert used_bulk is (bulk_threshold is not None)
    quarantined = [q for q in state_store(spec).quarantined("sf") if q.stream.startswith("customers")]
    assert {q.key for q in quarantined} == set(hashcodes(world).values()) - {existing}
    lead_id = org.match("Lead", "SATORI_Customer_ID__c", existing)[0]
    assert org.get("Lead", lead_id)["LastName"] == "田中"
    edit = {"Stage__c": "受注"}
    target.client.call(lambda sf: sf.restful(f"sobjects/Lead/{lead_id}", method="PATCH", json=edit))
    inbound = sync_inbound(spec, spec.targets[0], target, world.ma, state_store(spec), "q-in")
    assert inbound.counts.loaded == 1 and inbound.counts.balanced
    assert world.ma.get_customer(email="tanaka@example.co.jp")["custom"]["stage"] == "受注"
    used_bulk_query = any("/jobs/query" in e.path for e in world.sf.request_log.entries)
    assert used_bulk_query is (bulk_threshold is not None)
    target.close()

    with_default = world.spec(name="sf2", map={"email": "Email"}, defaults={"Company": "-", "LastName": "-"})
    second = adapter(with_default)
    filled = outbound(world, with_default, second, "q2")["customers:snapshot"]
    assert filled.counts.loaded == 3 and filled.counts.rejected == 0  # unmapped Company filled on creation
    second.close()


def test_duplicate_email_in_salesforce_is_reported_with_every_record(world: World) -> None:
    spec = world.spec(overlap_minutes=0, defaults={"Company": "(未設定)"})
    world.stage_due(spec)
    target = adapter(spec)
    outbound(world, spec, target, "d1")
    sync_inbound(spec, spec.targets[0], target, world.ma, state_store(spec), "d2")
    tanaka = next(r for r in world.rows("Lead") if r["Email"] == "tanaka@example.co.jp")
    copy = {
        "LastName": "田中（重複）",
        "Company": "別会社",
        "Email": "TANAKA@example.co.jp",
        "Stage__c": "受注",
    }
    world.control.post("/_sandbox/sobjects/Lead/person-create", json={"fields": copy}).raise_for_status()
    report = sync_inbound(spec, spec.targets[0], target, world.ma, state_store(spec), "d3")
    assert report.counts.balanced
    shared = [e for e in report.errors if e.code == "duplicate_email"]
    other = next(r for r in world.rows("Lead") if r["LastName"] == "田中（重複）")
    assert {e.key for e in shared} == {tanaka["Id"], other["Id"]}
    assert all(tanaka["Id"] in (e.message or "") and other["Id"] in (e.message or "") for e in shared)
    assert world.ma.get_customer(email="tanaka@example.co.jp")["custom"].get("stage") is None
    kept = {row.key: row.payload for row in state_store(spec).quarantined("sf")}
    assert kept[other["Id"]]["Email"] == "TANAKA@example.co.jp"  # what was refused, to fix in Salesforce
    assert kept[other["Id"]]["Stage__c"] == "受注" and kept[tanaka["Id"]]["Email"] == "tanaka@example.co.jp"
    target.close()


def test_budget_guard_defers_and_the_next_run_finishes(world: World) -> None:
    spec = world.spec(defaults={"Company": "(未設定)"}, budget_share_per_run=0.003)  # 3 of 1,000
    world.stage_due(spec)
    world.control.put("/_sandbox/usage", json={"used": 100, "limit": 1000})
    target = adapter(spec)
    first = outbound(world, spec, target, "b1")
    assert first["customers:snapshot"].counts.loaded == 3
    assert first["actions:form"].counts.deferred == 3
    assert state_store(spec).watermark("sf", "outbound") is None
    (later,) = target.upsert_actions("form", [("e1", {"Event_ID__c": "e1"})])
    assert later.status is Status.DEFERRED and "API budget reached" in (later.message or "")
    target.close()
    world.control.put("/_sandbox/usage", json={"used": 0, "limit": 1_000_000})
    second = adapter(spec)
    reports = outbound(world, spec, second, "b2")
    assert reports["customers:snapshot"].counts.skipped == 3  # loaded last run: unchanged, not resent
    assert reports["actions:form"].counts.loaded == 3
    assert state_store(spec).watermark("sf", "outbound") is not None
    second.close()


def test_faults_end_with_counts_that_add_up_and_no_duplicates(world: World) -> None:
    world.control.put("/_sandbox/faults", json={"rate": 0.1, "seed": 7, "kinds": ["5xx", "reset"]})
    world.control.put("/_sandbox/lock-faults", json={"rate": 0.1, "seed": 3})
    more = [
        {"email": f"user{i}@example.co.jp", "last_name": f"利用者{i}", "lead_company_name": "多数株式会社"}
        for i in range(997)
    ]
    world.ma.bulk_upsert(more)
    spec = world.spec(defaults={"Company": "(未設定)"})
    world.stage_due(spec)
    state: StateStore = state_store(spec)
    runs: list[dict[str, StreamReport]] = []
    while state.watermark("sf", "outbound") is None and len(runs) < 5:
        target = adapter(spec)
        runs.append(outbound(world, spec, target, f"f{len(runs)}"))
        inbound = sync_inbound(spec, spec.targets[0], target, world.ma, state, f"i{len(runs)}")
        assert inbound.counts.balanced
        target.close()
    assert state.watermark("sf", "outbound") is not None
    assert all(r.counts.deferred == 0 and r.counts.rejected == 0 for r in runs[-1].values()), runs
    loaded = sum(r["customers:snapshot"].counts.loaded for r in runs)
    assert loaded == 1000  # every customer loaded exactly once over the runs, none lost or sent twice
    keys = [r["SATORI_Customer_ID__c"] for r in world.rows("Lead")]
    assert len(keys) == len(set(keys)) == 1000
    events = [a["Event_ID__c"] for a in world.rows("SATORI_Action__c")]
    assert len(events) == len(set(events)) == 3
    assert sum(world.control.get("/_sandbox/faults").json()["injected"].values()) >= 2


def test_actions_must_reach_their_customer_through_the_match_column(world: World) -> None:
    by_email = world.spec(match={"ma": "email", "target": "SATORI_Customer_ID__c"})
    with pytest.raises(ValueError, match="customers match on email"):
        adapter(by_email)
