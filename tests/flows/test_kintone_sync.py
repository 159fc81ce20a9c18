"""kintone sync end to end over real HTTP: the MA stand-in (seeded) and the kintone stand-in (demo apps).

A cut is staged from the MA, sync_outbound loads it through KintoneTarget, sync_inbound brings the
Writable fields back; the stand-ins' request logs prove which writes happened.
"""

from __future__ import annotations

import base64
import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.http import HttpPolicy
from connectors.kintone import KintoneClient
from connectors.kintone_model import budget_day, record_values
from connectors.satori import SatoriClient
from connectors.staging import StagingArea
from connectors.state import StateStore
from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app as create_kintone
from sandbox.kintone.demo_apps import DemoApps, build_demo_apps
from sandbox.satori.app import create_app as create_ma
from sandbox.satori.seed import seed
from sandbox.satori.seed_data import SALES_STAGES
from schemas import clock
from schemas.outcomes import Status
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.clients import state_store
from tasks.extract import due_cuts, stage_one_cut
from tasks.load import StreamReport
from tasks.sync_target import sync_inbound, sync_outbound
from tasks.targets.kintone import KintoneTarget
from tests.flows.conftest import PINNED_WORLD_NOW, sandbox_call, write_spec

TOKEN = "tok-kintone-sync"
ADMIN, PASSWORD = "admin", "pw"
FAST = HttpPolicy(backoff_base=0.001, backoff_cap=0.01, max_attempts=8)
MAPPED = {
    "email": "メールアドレス",
    "last_name": "姓",
    "first_name": "名",
    "lead_company_name": "会社名",
    "department": "部署",
    "title": "役職",
    "phone_number": "電話番号",
    "address": "住所",
    "score": "スコア",
    "hashcode": "顧客ハッシュ",
    "custom:industry": "業種",
}
ACTION_KINDS = (("form", "form-001", "submitted"), ("email", "mail-0001", "opened"))
READABLE = [name for name in MAPPED if name != "email"]


@dataclass
class Env:
    spec: Spec
    ma: SatoriClient
    kintone: BackgroundServer
    apps: DemoApps
    ma_server: BackgroundServer

    @property
    def ma_url(self) -> str:
        return self.ma_server.url

    @property
    def target(self) -> Any:
        return self.spec.targets[0]

    def adapter(self) -> KintoneTarget:
        return KintoneTarget(self.spec, self.target, policy=FAST)

    def state(self) -> StateStore:
        return state_store(self.spec)

    def staging(self) -> StagingArea:
        return StagingArea(self.spec.storage.staging)

    def client(self) -> KintoneClient:
        tokens = [self.apps.customers.token, self.apps.form_history.token, self.apps.mail_history.token]
        return KintoneClient(self.kintone.url, api_tokens=tokens, policy=FAST)

    def outbound(self, run_id: str) -> dict[str, StreamReport]:
        adapter, state = self.adapter(), self.state()
        try:
            reports = sync_outbound(self.spec, self.target, adapter, self.ma, self.staging(), state, run_id)
        finally:
            adapter.close()
        return {r.stream: r for r in reports}

    def inbound(self, run_id: str) -> StreamReport:
        adapter = self.adapter()
        try:
            return sync_inbound(self.spec, self.target, adapter, self.ma, self.state(), run_id)
        finally:
            adapter.close()

    def stage_next_cut(self, now: str) -> None:
        sandbox_call(self.ma_url, TOKEN, "PUT", "/_sandbox/clock", {"now": now})
        for cut in due_cuts(self.ma, self.state()):
            stage_one_cut(self.spec, self.ma, self.staging(), cut, f"stage-{cut.id}")

    def customer_records(self) -> dict[str, dict[str, Any]]:
        with self.client() as client:
            rows = client.iter_records_seek(self.apps.customers.id)
            return {r["$id"]["value"]: record_values(r) for r in rows}

    def kintone_writes(self) -> int:
        return len([e for e in self.kintone.request_log.writes() if e.path.startswith("/k/")])


def change_form(srv: BackgroundServer, app: int, properties: dict[str, Any]) -> None:
    """An administrator edits a live app: the preview form, then deploy (password auth)."""
    login = base64.b64encode(f"{ADMIN}:{PASSWORD}".encode()).decode()
    headers = {"X-Cybozu-Authorization": login}
    for method, path, body in (
        ("PUT", "preview/app/form/fields.json", {"app": app, "properties": properties}),
        ("POST", "preview/app/deploy.json", {"apps": [{"app": app}]}),
    ):
        httpx.request(method, f"{srv.url}/k/v1/{path}", json=body, headers=headers).raise_for_status()


@pytest.fixture(scope="module")
def kintone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_kintone(tmp_path_factory.mktemp("kintone"), ADMIN, PASSWORD)) as srv:
        yield srv


@contextlib.contextmanager
def make_env(
    tmp_path: Path, kintone: BackgroundServer, customers: int, match: str = "email", **target: Any
) -> Iterator[Env]:
    """A seeded MA with form and email actions in the 11:00 cut, fresh demo apps, a staged cut."""
    seed(tmp_path / "ma", customers, 0, company="acme", token=TOKEN, now=PINNED_WORLD_NOW)
    apps = build_demo_apps(kintone.app.state.kintone.store)
    with BackgroundServer(create_ma(tmp_path / "ma", {TOKEN: "acme"})) as ma_server:
        call = lambda m, p, b=None: sandbox_call(ma_server.url, TOKEN, m, p, b)  # noqa: E731
        with SatoriClient(ma_server.url, TOKEN) as ma:
            emails = sorted(c["email"] for page in ma.iter_search([]) for c in page)
            actions = [
                {"kind": kind, "email": email, "master_id": master, "event_type": event,
                 "occurred_at": f"2026-11-28T0{3 + i % 5}:00:00+09:00",
                 "recorded_at": f"2026-11-28T0{3 + i % 5}:30:00+09:00"}
                for i, email in enumerate(emails[:30])
                for kind, master, event in ACTION_KINDS
            ]  # fmt: skip
            call("POST", "/_sandbox/actions", actions)
            call("PUT", "/_sandbox/clock", {"now": "2026-11-28T19:00:00+09:00"})
            key_target = MAPPED[match]
            tokens = ",".join(a.token for a in (apps.customers, apps.form_history, apps.mail_history))
            path = write_spec(
                tmp_path / "spec.yaml",
                ma_server.url,
                TOKEN,
                tmp_path,
                custom_fields={
                    "industry": {"type": "text"},
                    "sales_stage": {"type": "select", "options": list(SALES_STAGES)},
                },
                fields={**dict.fromkeys(MAPPED, "readable"), "custom:sales_stage": "writable"},
                targets=[{
                    "name": "kintone-customers", "kind": "kintone", "url": kintone.url,
                    "app": apps.customers.id, "auth": {"api_token": tokens},
                    "match": {"ma": match, "target": key_target},
                    "map": {**MAPPED, "custom:sales_stage": "商談ステージ"},
                    "actions": {"form": {"app": apps.form_history.id},
                                "email": {"app": apps.mail_history.id}},
                    **target,
                }],
            )  # fmt: skip
            env = Env(load_spec(path), ma, kintone, apps, ma_server)
            env.stage_next_cut("2026-11-28T19:00:00+09:00")
            kintone.request_log.entries.clear()
            yield env


EnvFactory = Callable[..., Env]


@pytest.fixture()
def new_env(tmp_path: Path, kintone: BackgroundServer) -> Iterator[EnvFactory]:
    """Build an Env with target settings of the test's choosing; everything closes at teardown."""
    with contextlib.ExitStack() as stack:
        yield lambda customers=250, **kwargs: stack.enter_context(
            make_env(tmp_path, kintone, customers, **kwargs)
        )


@pytest.fixture()
def env(new_env: EnvFactory) -> Env:
    return new_env()


def ma_customers(env: Env) -> dict[str, dict[str, Any]]:
    return {c["email"]: c for page in env.ma.iter_search([]) for c in page}


def as_kintone(value: Any) -> str:
    """How kintone returns an MA value in a text or number field."""
    return "" if value is None else str(value)


def ma_value(customer: dict[str, Any], name: str) -> Any:
    return (customer.get("custom") or {}).get(name[7:]) if name.startswith("custom:") else customer.get(name)


def test_outbound_inbound_and_a_rerun_that_writes_nothing(env: Env) -> None:
    reports = env.outbound("out-1")
    snapshot = reports["customers:snapshot"].counts
    assert (snapshot.received, snapshot.loaded, snapshot.rejected, snapshot.deferred) == (250, 250, 0, 0)
    for kind in ("form", "email"):
        counts = reports[f"actions:{kind}"].counts
        assert (counts.received, counts.loaded) == (30, 30) and counts.balanced

    # every readable field in kintone equals the MA
    records = env.customer_records()
    by_email = {r["メールアドレス"]: r for r in records.values()}
    customers = ma_customers(env)
    assert by_email.keys() == customers.keys()
    for email, customer in customers.items():
        for name in READABLE:
            assert by_email[email][MAPPED[name]] == as_kintone(ma_value(customer, name)), (email, name)
    # clean load in the fewest calls: the customers' 3 requests of 100 in one bulkRequest, each action
    # history's one request alone
    assert env.kintone_writes() == math.ceil(250 / 100 / 20) + 2 * math.ceil(30 / 100)

    # sales change the stage (Writable) and a surname (Readable only) in kintone
    chosen = sorted(customers)[:3]
    with env.client() as client:
        edits: list[dict[str, object]] = [
            {"メールアドレス": e, "商談ステージ": "受注", "姓": "改名"} for e in chosen
        ]
        outcomes = client.update_records(env.apps.customers.id, "メールアドレス", edits)
        assert {o.status for o in outcomes} == {Status.UPDATED}
    inbound = env.inbound("in-1")
    assert inbound.counts.balanced and inbound.counts.received == 250
    # 商談ステージ is Writable: the three stages set in kintone reach the MA; kintone's empty stages
    # never wipe the MA's values (a blank never overwrites, as in the MA's own bulk API)
    assert (inbound.counts.loaded, inbound.counts.skipped, inbound.counts.rejected) == (3, 247, 0)
    after = ma_customers(env)
    for email, customer in after.items():
        expected = "受注" if email in chosen else customers[email]["custom"]["sales_stage"]
        assert customer["custom"]["sales_stage"] == expected
        assert customer["last_name"] == customers[email]["last_name"]  # readable only: never taken in

    # the next cut holds the customers the write-back changed; nothing they carry out has changed
    env.kintone.request_log.entries.clear()
    env.stage_next_cut("2026-11-29T03:00:00+09:00")
    again = env.outbound("out-2")["customers"].counts
    assert (again.received, again.skipped, again.loaded) == (3, 3, 0)
    assert env.inbound("in-2").counts.loaded == 0
    assert env.kintone_writes() == 0  # a re-run writes nothing


def test_a_record_kintone_rejects_is_quarantined_and_the_other_99_load(env: Env) -> None:
    customers = sorted(ma_customers(env).values(), key=lambda c: c["customer_id"])
    victim = customers[37]
    with env.client() as client:  # a stale record already holds the victim's (unique) hashcode
        stale = [{"メールアドレス": "stale@example.co.jp", "顧客ハッシュ": victim["hashcode"]}]
        assert client.add_records(env.apps.customers.id, stale)[0].status is Status.CREATED
    env.kintone.request_log.entries.clear()

    snapshot = env.outbound("out-1")["customers:snapshot"]
    assert (snapshot.counts.loaded, snapshot.counts.rejected) == (249, 1) and snapshot.counts.balanced
    (bad,) = env.state().quarantined("kintone-customers")
    assert (bad.key, bad.code, bad.field) == (victim["email"], "CB_VA01", "顧客ハッシュ")
    assert bad.reason == "値がほかのレコードと重複しています。"
    assert bad.payload["顧客ハッシュ"] == victim["hashcode"]
    emails = {r["メールアドレス"] for r in env.customer_records().values()}
    assert victim["email"] not in emails and len(emails) == 250  # 249 loaded + the stale record
    # the refused batch once, then its other 99 resent: one extra write, no batch lost
    assert env.kintone_writes() == math.ceil(250 / 100) + 1 + 2


def test_values_that_cannot_fit_are_rejected_before_sending(env: Env) -> None:
    change_form(env.kintone, env.apps.customers.id, {"会社名": {"maxLength": "8"}})
    snapshot = env.outbound("out-1")["customers:snapshot"].counts
    long_names = [c for c in ma_customers(env).values() if len(c["lead_company_name"] or "") > 8]
    assert long_names and snapshot.balanced
    assert (snapshot.rejected, snapshot.loaded) == (len(long_names), 250 - len(long_names))
    quarantined = env.state().quarantined("kintone-customers")
    assert {q.key for q in quarantined} == {c["email"] for c in long_names}
    assert {(q.code, q.field) for q in quarantined} == {("too_long", "会社名")}
    assert "the field allows at most 8" in quarantined[0].reason


def test_the_daily_budget_defers_rows_instead_of_failing_them(new_env: EnvFactory) -> None:
    env = new_env(daily_request_budget=3, concurrency=1)
    reports = env.outbound("out-1")
    assert list(reports) == ["customers:snapshot"]  # nothing more is tried once rows are deferred
    counts = reports["customers:snapshot"].counts
    # form fields, the app's first page with its size (the email-uniqueness guard), one batch
    assert (counts.loaded, counts.deferred, counts.rejected) == (100, 150, 0) and counts.balanced
    assert env.state().watermark("kintone-customers", "outbound") is None  # the cut stays pending
    day = budget_day().isoformat()
    assert env.state().requests_used("kintone-customers", f"app:{env.apps.customers.id}", day) == 3
    assert env.kintone_writes() == 1  # one batch; the others were never sent


def test_a_first_load_goes_in_the_fewest_calls(new_env: EnvFactory) -> None:
    env = new_env(customers=4_500)
    reports = env.outbound("r1")
    assert reports["customers:snapshot"].counts.loaded == 4_500
    # one batch of 4,500 (the MA's 500-row pages regrouped): 45 requests of 100 rows in the fewest
    # bulkRequests (3 of 15, at once); the form and email histories (30 rows each) one call each
    assert env.kintone_writes() == 3 + 2
    day = budget_day().isoformat()
    assert env.state().requests_used("kintone-customers", f"app:{env.apps.customers.id}", day) >= 45


def test_duplicate_emails_in_kintone_are_reported_and_the_rest_loads(new_env: EnvFactory) -> None:
    env = new_env(120, match="hashcode")
    change_form(env.kintone, env.apps.customers.id, {"メールアドレス": {"unique": False}})
    assert env.outbound("out-1")["customers:snapshot"].counts.loaded == 120
    customers = ma_customers(env)
    shared, changed = sorted(customers)[5:7]
    with env.client() as client:
        twin: dict[str, object] = {
            "メールアドレス": shared.upper(),
            "顧客ハッシュ": "not-in-the-ma",
            "商談ステージ": "失注",
        }
        (twin_outcome,) = client.add_records(env.apps.customers.id, [twin])
        edits: list[dict[str, object]] = [
            {"顧客ハッシュ": customers[e]["hashcode"], "商談ステージ": "受注"} for e in (shared, changed)
        ]
        client.update_records(env.apps.customers.id, "顧客ハッシュ", edits)
    inbound = env.inbound("in-1")
    assert inbound.counts.balanced and inbound.counts.received == 121
    # the changed stage is written; the other 118 carry blank stages, which never overwrite the MA
    assert (inbound.counts.loaded, inbound.counts.skipped, inbound.counts.rejected) == (1, 118, 2)
    duplicates = [e for e in inbound.errors if e.code == "duplicate_email"]
    twin_id = str(twin_outcome.target_id)
    assert len(duplicates) == 2 and twin_id in {d.key for d in duplicates}
    assert all(twin_id in (d.message or "") and shared in (d.message or "") for d in duplicates)
    after = ma_customers(env)
    assert after[changed]["custom"]["sales_stage"] == "受注"
    assert after[shared]["custom"] == customers[shared]["custom"]  # never written while the email is shared


def test_faults_end_with_counts_that_add_up_and_no_duplicates(env: Env) -> None:
    faults = {"rate": 0.1, "seed": 7, "kinds": ["429", "5xx", "reset", "slow"], "slow_seconds": 0.05}
    httpx.put(f"{env.kintone.url}/_sandbox/faults", json=faults).raise_for_status()
    try:
        reports = env.outbound("out-1")
        inbound = env.inbound("in-1")
    finally:
        httpx.put(f"{env.kintone.url}/_sandbox/faults", json={"rate": 0}).raise_for_status()
    injected = httpx.get(f"{env.kintone.url}/_sandbox/faults").json()["injected"]
    assert sum(injected.values()) > 0
    for report in [*reports.values(), inbound]:
        assert report.counts.balanced, report
    assert reports["customers:snapshot"].counts.received == 250
    emails = [r["メールアドレス"] for r in env.customer_records().values()]
    assert len(emails) == len(set(emails))
    with env.client() as client:
        for app in (env.apps.form_history.id, env.apps.mail_history.id):
            events = [r["イベントID"]["value"] for r in client.iter_records_seek(app)]
            assert len(events) == len(set(events)) == 30


def test_changed_records_read_every_record_once_by_id_ranges(
    tmp_path: Path, kintone: BackgroundServer
) -> None:
    apps = build_demo_apps(kintone.app.state.kintone.store)
    with KintoneClient(kintone.url, api_tokens=[apps.customers.token], policy=FAST) as client:
        rows: list[dict[str, object]] = [{"メールアドレス": f"c{i}@example.co.jp"} for i in range(1_234)]
        client.add_records(apps.customers.id, rows)
    path = write_spec(
        tmp_path / "spec.yaml", "http://127.0.0.1:9", TOKEN, tmp_path,
        targets=[{"name": "k", "kind": "kintone", "url": kintone.url, "app": apps.customers.id,
                  "auth": {"api_token": apps.customers.token},
                  "match": {"ma": "email", "target": "メールアドレス"}, "map": {"last_name": "姓"}}],
    )  # fmt: skip
    spec = load_spec(path)
    adapter = KintoneTarget(spec, spec.targets[0], policy=FAST)
    kintone.request_log.entries.clear()
    try:
        pages = list(adapter.changed_records(None))
        later = list(adapter.changed_records(clock.now() + timedelta(minutes=2)))
    finally:
        adapter.close()
    assert [len(p) for p in pages] == [500, 500, 234]
    records = [r for p in pages for r in p]
    assert (
        sorted(int(r.id) for r in records) == sorted({int(r.id) for r in records}) and len(records) == 1_234
    )
    # parallel adds may straddle a minute: check the values, not which record sorts first
    assert {r.values["メールアドレス"] for r in records} == {f"c{i}@example.co.jp" for i in range(1_234)}
    assert all(r.values.keys() == {"メールアドレス", "姓"} and r.values["姓"] == "" for r in records)
    assert [r for p in later for r in p] == []  # nothing changed after the last write
    calls = [(e.method, e.path.rsplit("/v1/", 1)[1]) for e in kintone.request_log.entries]
    # the form, the first 500 (with the count), the highest $id, then the ranges after the 500th
    # (read at once, seek-paged); a later instant finds nothing in its first page
    assert calls[0] == ("GET", "app/form/fields.json") and calls[-1] == ("GET", "records.json")
    assert set(calls[1:]) == {("GET", "records.json")} and len(calls) - 2 <= math.ceil(1_234 / 500) + 2
