"""One world per target kind for the conformance suite: the MA stand-in with 30 customers and a staged
cut, the target (its stand-in over real HTTP, or the in-memory target), a spec, and the few moves the
contract needs (a twin record outside the window, a change made in the target, an exhausted budget)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from connectors.http import HttpPolicy
from connectors.kintone import KintoneClient
from connectors.kintone_model import record_values
from connectors.satori import SatoriClient
from connectors.staging import StagingArea
from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app as kintone_app
from sandbox.kintone.demo_apps import build_demo_apps
from sandbox.salesforce.app import create_app as salesforce_app
from sandbox.satori.app import create_app as satori_app
from schemas import clock
from schemas.email import email_key
from schemas.mapping import TargetRecord
from schemas.outcomes import RowOutcome
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.clients import state_store
from tasks.extract import due_cuts, stage_one_cut
from tests.flows.conftest import sandbox_call, write_spec
from tests.flows.test_sync_generic import MemoryTarget as GenericMemoryTarget

TOKEN = "tok-contract"
FAST = HttpPolicy(backoff_base=0.001, backoff_cap=0.01, max_attempts=6)
CUSTOMERS = [{"email": f"user{i:02d}@example.co.jp", "last_name": f"姓{i:02d}"} for i in range(30)]
OUT_KINDS = ("kintone", "salesforce", "memory")
ALL_KINDS = (*OUT_KINDS, "sansan")
LONG_AGO = "2026-01-05T00:00:00+09:00"
SF_AUTH = {
    "client_id": "renkei-client",
    "client_secret": "renkei-secret",
    "username": "admin@renkei.example.com",
    "password": "renkei-demo",
}


@dataclass
class World:
    """What every kind offers the suite; ``target_settings`` change the spec's target."""

    kind: str
    root: Path
    ma: SatoriClient
    ma_url: str
    target: dict[str, Any]
    fields: dict[str, str]
    build: Callable[[Spec], Any]  # the adapter for a spec
    add_twin: Callable[[str], str]  # a record holding this email (another case), outside later windows
    change: Callable[[str, str], str]  # set the writable field on the record of this email → its id
    values: Callable[[], dict[str, dict[str, Any]]]  # normalised email → the record's values
    writes: Callable[[], int]  # write requests the target received so far
    exhaust: Callable[[], dict[str, Any]]  # spend the target's budget; the target settings that do it

    def spec(self, **target_settings: Any) -> Spec:
        path = write_spec(
            self.root / f"{self.kind}.yaml",
            self.ma_url,
            TOKEN,
            self.root,
            custom_fields={"industry": {"type": "text"}},
            fields=self.fields,
            targets=[{**self.target, **target_settings}],
        )
        return load_spec(path)

    @contextlib.contextmanager
    def adapter(self, spec: Spec) -> Iterator[Any]:
        built = self.build(spec)
        try:
            yield built
        finally:
            close = getattr(built, "close", None)
            if close is not None:
                close()


def ma_world(stack: contextlib.ExitStack, root: Path) -> tuple[SatoriClient, str]:
    """The MA with 30 customers, a writable custom field ``industry`` and the 02:00 cut due."""
    server = stack.enter_context(BackgroundServer(satori_app(root / "ma", {TOKEN: "acme"})))
    call = lambda m, p, b=None: sandbox_call(server.url, TOKEN, m, p, b)  # noqa: E731
    call("POST", "/_sandbox/custom-fields", [{"identifier": "industry", "type": "text"}])
    call("PUT", "/_sandbox/clock", {"now": "2026-11-28T01:00:00+09:00"})
    ma = stack.enter_context(SatoriClient(server.url, TOKEN))
    ma.bulk_upsert(CUSTOMERS)
    call("PUT", "/_sandbox/clock", {"now": "2026-11-28T03:00:00+09:00"})
    return ma, server.url


def stage(spec: Spec, ma: SatoriClient) -> None:
    for cut in due_cuts(ma, state_store(spec)):
        stage_one_cut(spec, ma, StagingArea(spec.storage.staging), cut, f"stage-{cut.id}")


READABLE = {"email": "readable", "last_name": "readable", "custom:industry": "writable"}


def kintone_world(stack: contextlib.ExitStack, root: Path) -> World:
    ma, ma_url = ma_world(stack, root)
    srv = stack.enter_context(BackgroundServer(kintone_app(root / "kintone", "admin", "pw")))
    apps = build_demo_apps(srv.app.state.kintone.store)
    app = apps.customers.id

    def client() -> KintoneClient:
        return KintoneClient(srv.url, api_tokens=[apps.customers.token], policy=FAST)

    def add_twin(email: str) -> str:
        with client() as c:
            (done,) = c.add_records(app, [{"メールアドレス": email.upper(), "更新日時": LONG_AGO}])
        return str(done.target_id)

    def change(email: str, value: str) -> str:
        with client() as c:
            (done,) = c.update_records(app, "メールアドレス", [{"メールアドレス": email, "業種": value}])
        return str(done.target_id)

    def values() -> dict[str, dict[str, Any]]:
        with client() as c:
            rows = [record_values(r) for r in c.iter_records_seek(app)]
        return {email_key(r["メールアドレス"]) or "": r for r in rows}

    target = {
        "name": "contract", "kind": "kintone", "url": srv.url, "app": app,
        "auth": {"api_token": apps.customers.token}, "match": {"ma": "email", "target": "メールアドレス"},
        "map": {"email": "メールアドレス", "last_name": "姓", "custom:industry": "業種"},
    }  # fmt: skip
    from tasks.targets.kintone import KintoneTarget

    return World(
        "kintone", root, ma, ma_url, target, READABLE,
        lambda spec: KintoneTarget(spec, spec.targets[0], policy=FAST),
        add_twin, change, values,
        lambda: len([e for e in srv.request_log.writes() if "/records" in e.path and "cursor" not in e.path]),
        lambda: {"daily_request_budget": 1},  # the form read spends it
    )  # fmt: skip


def salesforce_world(stack: contextlib.ExitStack, root: Path) -> World:
    ma, ma_url = ma_world(stack, root)
    sf = salesforce_app(root / "sf", daily_limit=1_000_000)
    srv = stack.enter_context(BackgroundServer(sf, **sf.state.tls.uvicorn_kwargs()))
    control = stack.enter_context(
        httpx.Client(base_url=srv.url, verify=str(sf.state.tls.ca), trust_env=False)
    )

    def exhaust() -> dict[str, Any]:
        control.put("/_sandbox/usage", json={"used": 1_000_000}).raise_for_status()  # the org's day is spent
        return {}

    org = sf.state.org

    def by_person(path: str, fields: dict[str, Any]) -> str:
        """A sales rep's write in the UI (as another user than renkei's): the record's id."""
        made = control.post(f"/_sandbox/sobjects/Lead/{path}", json={"fields": fields})
        return str(made.raise_for_status().json()["Id"])

    def add_twin(email: str) -> str:
        return by_person("person-create", {"LastName": "重複", "Company": "別会社", "Email": email.upper()})

    def change(email: str, value: str) -> str:
        record_id = next(str(r["Id"]) for r in org.rows("Lead") if r["Email"] == email)
        return by_person(f"{record_id}/person-edit", {"Title": value})

    def values() -> dict[str, dict[str, Any]]:
        return {email_key(r["Email"]) or "": r for r in org.rows("Lead")}

    target = {
        "name": "contract", "kind": "salesforce", "url": srv.url, "object": "Lead", "auth": SF_AUTH,
        "ca_bundle": str(sf.state.tls.ca), "match": {"ma": "hashcode", "target": "SATORI_Customer_ID__c"},
        "map": {"email": "Email", "last_name": "LastName", "custom:industry": "Title"},
        "defaults": {"Company": "(未設定)"}, "overlap_minutes": 0,
    }  # fmt: skip
    from tasks.targets.salesforce import SalesforceTarget

    world = World(
        "salesforce", root, ma, ma_url, target, {**READABLE, "hashcode": "readable"},
        lambda spec: SalesforceTarget(spec, spec.targets[0], policy=FAST, poll_seconds=0.02),
        add_twin, change, values,
        lambda: len([e for e in srv.request_log.writes() if e.path.startswith("/services/data/")]),
        exhaust,
    )  # fmt: skip
    return world


class MemoryTarget(GenericMemoryTarget):
    """The in-memory target with a daily budget and the uniqueness guard a target must give (an email
    several records hold, read or not, is withheld and every record reported)."""

    def __init__(self, name: str, budget: int | None) -> None:
        super().__init__()
        self.name = name
        self.budget = budget
        self._refused: list[RowOutcome] = []

    def upsert_customers(self, records: list[tuple[str, dict[str, Any]]]) -> list[RowOutcome]:
        if self.budget is not None and self.budget <= 0:
            return [RowOutcome.deferred(key, "the daily budget is spent") for key, _ in records]
        return super().upsert_customers(records)

    upsert_masters = GenericMemoryTarget.upsert_actions

    def changed_records(self, since: datetime | None) -> Iterator[list[TargetRecord]]:
        holders: dict[str, list[str]] = {}
        for key, values in self.records.items():
            holders.setdefault(email_key(values.get("mail")) or "", []).append(key)
        shared = {email: ids for email, ids in holders.items() if len(ids) > 1}
        page = []
        for key, values in self.records.items():
            if since is not None and self.modified[key] < since:
                continue
            email = email_key(values.get("mail")) or ""
            if email in shared:
                ids = ", ".join(shared[email])
                self._refused += [
                    RowOutcome.rejected(k, "duplicate_email", f"{email} is held by records {ids}", "mail")
                    for k in shared[email]
                    if k not in {o.key for o in self._refused}
                ]
                continue
            page.append(TargetRecord(key, self.modified[key], dict(values)))
        yield page

    def read_rejections(self) -> list[RowOutcome]:
        refused, self._refused = self._refused, []
        return refused


def memory_world(stack: contextlib.ExitStack, root: Path) -> World:
    ma, ma_url = ma_world(stack, root)
    holder: dict[str, MemoryTarget] = {}

    def build(spec: Spec) -> MemoryTarget:
        budget = 0 if spec.targets[0].daily_request_budget == 1 else None
        memory = holder.setdefault("target", MemoryTarget("contract", budget))
        memory.budget = budget
        return memory

    def add_twin(email: str) -> str:
        memory = holder["target"]
        memory.records["twin"] = {"mail": email.upper()}
        memory.modified["twin"] = datetime.fromisoformat(LONG_AGO)
        return "twin"

    def change(email: str, value: str) -> str:
        memory = holder["target"]
        memory.records[email]["industry"] = value
        memory.modified[email] = clock.now() + timedelta(seconds=1)
        return email

    target = {
        "name": "contract", "kind": "kintone", "url": "http://127.0.0.1:1", "app": 1,
        "auth": {"api_token": "t"}, "match": {"ma": "email", "target": "mail"},
        "map": {"email": "mail", "last_name": "name", "custom:industry": "industry"},
    }  # fmt: skip
    return World(
        "memory", root, ma, ma_url, target, READABLE, build, add_twin, change,
        lambda: {email_key(v.get("mail")) or "": v for v in holder["target"].records.values()},
        lambda: holder["target"].sent if "target" in holder else 0,
        lambda: {"daily_request_budget": 1},  # the in-memory target reads it as a spent budget
    )  # fmt: skip


WORLDS = {"kintone": kintone_world, "salesforce": salesforce_world, "memory": memory_world}
