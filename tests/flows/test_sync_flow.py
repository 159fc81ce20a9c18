"""The twice-daily sync flow end to end: every stand-in, every target, the ledger, one email."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from connectors.satori import SatoriClient
from flows.plan import plan, write_plan_workbook
from flows.replay import replay
from flows.states import report_of
from flows.sync import sync_report
from sandbox.demo_env import KINTONE_TOKENS, MA_TOKEN, SANSAN_KEY, DemoEnvironment, DemoSizes
from schemas import clock
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.flows.conftest import demo_spec_file as spec_file
from tests.flows.conftest import demo_world

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
SECRETS = (MA_TOKEN, SANSAN_KEY, "renkei-secret", "renkei-demo", *KINTONE_TOKENS)
WRITES = {
    "satori": ("/customers/bulk-upsert", "/customers/by-"),
    "kintone": ("/records.json", "/record.json", "/bulkRequest.json"),
    "salesforce": ("/composite/", "/sobjects/", "/jobs/ingest"),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    with demo_world(
        tmp_path_factory, "sync-flow", DemoSizes(customers=300, actions=3_000, cards=60)
    ) as running:
        yield running


def writes(env: DemoEnvironment) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, paths in WRITES.items():
        log = env.servers[name].request_log
        found[name] = [f"{e.method} {e.path}" for e in log.writes() if any(p in e.path for p in paths)]
    return found


def clear_logs(env: DemoEnvironment) -> None:
    for server in env.servers.values():
        server.request_log.entries.clear()


def test_plan_first_issues_no_write_request(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    path = spec_file(env, tmp_path)
    clear_logs(env)
    result = plan(str(path))
    assert writes(env) == {"satori": [], "kintone": [], "salesforce": []}
    changes = pq.read_table(result.changes).to_pylist()
    outbound = [c for c in changes if c["target"] == "kintone-customers" and c["direction"] == "MA → target"]
    kintone = {c["key"] for c in outbound if c["action"] == "create"}
    assert len(kintone) == 300 == result.counts["kintone-customers MA → target"]["create"]
    first = next(c for c in changes if c["target"] == "kintone-customers" and c["field"] == "姓")
    assert first["before"] is None and first["after"]
    assert result.counts["sansan-cards target → MA"]["create"] > 0
    assert result.counts["sansan-cards inbound"]["reject"] > 0
    state = state_store(load_spec(path))
    assert state.watermark("kintone-customers", "outbound") is None  # the plan moved nothing
    assert state.quarantined() == [] and state.link_hashes("kintone-customers", "customers", kintone) == {}
    assert Path(result.summary).read_text(encoding="utf-8").startswith("# Plan for demo")
    assert write_plan_workbook(result, tmp_path / "plan.xlsx", "ja") == len(changes)
    sheets = pd.read_excel(tmp_path / "plan.xlsx", sheet_name=None, dtype=str, keep_default_na=False)
    assert next(iter(sheets)) == "概要" and "kintone-customers" in sheets
    summary = sheets["概要"].set_index(["連携先", "方向"])
    assert summary.loc[("kintone-customers", "MA → 連携先"), "新規作成"] == "300"
    created = sheets["kintone-customers"].query("操作 == '新規作成' and 方向 == 'MA → 連携先'")
    assert created["キー"].nunique() == 300 and "姓" in set(created["項目"])


def test_full_sync_then_a_rerun_that_writes_nothing(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    assert env.mail is not None
    mails_before = len(env.mail.messages)
    path = spec_file(env, tmp_path)
    report = sync_report(str(path))

    lines = {(line.target, line.stream): line.counts for line in report.lines}
    assert report.balanced and not report.failures and report.cuts
    assert lines[("kintone-customers", "customers:snapshot")].loaded == 300
    assert lines[("salesforce-leads", "customers:snapshot")].loaded == 300
    assert lines[("kintone-customers", "actions:email")].received > 0
    sansan = lines[("sansan-cards", "inbound")]
    assert sansan.loaded > 0 and sansan.rejected > 0  # cards without email, shared addresses
    assert report.outcome == "completed_with_rejections"

    state = state_store(load_spec(path))
    ledger = state.run(report.run_id)
    assert ledger is not None and ledger["state"] == report.outcome and ledger["finished_at"] is not None
    assert ledger["counts"]["lines"] == report.table()
    assert report.quarantine_open == sansan.rejected == len(state.quarantined("sansan-cards"))

    (mail,) = env.mail.messages[mails_before:]  # exactly one email for the run
    assert report.run_id in mail["Subject"] and "demo" in mail["Subject"]
    attachment = next(part for part in mail.iter_attachments())
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes) and payload.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM for Excel
    rows = list(csv.DictReader(io.StringIO(payload.decode("utf-8-sig"))))
    assert len(rows) == sansan.rejected and {r["連携先 / target"] for r in rows} == {"sansan-cards"}
    assert all(r["氏名 / name"] for r in rows)  # each card's person, by the spec's map
    raw = mail.as_string()
    assert not [secret for secret in SECRETS if secret in raw]

    clear_logs(env)
    again = sync_report(str(path))
    assert again.balanced and not again.failures
    assert all(line.counts.loaded == 0 for line in again.lines), again.table()
    assert writes(env) == {"satori": [], "kintone": [], "salesforce": []}
    assert len(env.mail.messages) == mails_before + 1  # nothing needed a human: no second email


def test_a_failing_target_lets_the_others_finish(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    assert env.mail is not None
    mails_before = len(env.mail.messages)
    auth = {
        "client_id": "renkei-client",
        "client_secret": "wrong-secret-sentinel",
        "username": "admin@renkei.example.com",
        "password": "renkei-demo",
    }
    broken = {"salesforce-leads": {"auth": auth}}
    report = sync_report(str(spec_file(env, tmp_path, **broken)))
    assert {(f.target, f.step) for f in report.failures} == {
        ("salesforce-leads", "load"),
        ("salesforce-leads", "write back"),
    }
    assert report.outcome == "failed"
    targets = {line.target for line in report.lines}
    assert {"kintone-customers", "sansan-cards"} <= targets and "salesforce-leads" not in targets
    assert report.balanced
    (mail,) = env.mail.messages[mails_before:]
    body = mail.get_body(("plain",))
    assert body is not None and "salesforce-leads" in body.get_content()
    assert "wrong-secret-sentinel" not in mail.as_string()


def test_replay_moves_a_fixed_row_from_rejected_to_loaded(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    path = spec_file(env, tmp_path)
    kintone = env.servers["kintone"]
    login = base64.b64encode(b"Administrator:renkei-demo").decode()
    for method, api, body in (  # an administrator limits 会社名 to 40 characters in the live app
        ("PUT", "preview/app/form/fields.json", {"app": 1, "properties": {"会社名": {"maxLength": "40"}}}),
        ("POST", "preview/app/deploy.json", {"apps": [{"app": 1}]}),
    ):
        httpx.request(
            method, f"{kintone.url}/k/v1/{api}", json=body, headers={"X-Cybozu-Authorization": login}
        )
    with SatoriClient(env.servers["satori"].url, MA_TOKEN) as ma:
        customer = ma.iter_search([], page_size=1, order="customer_id").__next__()[0]
        email = customer["email"]
        ma.put_customer({"lead_company_name": "株式会社" + "長" * 60}, email=email)

        report = sync_report(str(path), ["kintone-customers"])
        state = state_store(load_spec(path))
        (bad,) = state.quarantined("kintone-customers")
        assert (bad.key, bad.code, bad.field) == (email, "too_long", "会社名")

        ma.put_customer({"lead_company_name": "株式会社みらい"}, email=email)  # the user fixes the source
        result = replay(str(path), "kintone-customers")
    assert (result.replayed, result.still_rejected) == (1, 0)
    assert state.quarantined("kintone-customers") == []
    assert [r.id for r in state.quarantined("kintone-customers", status="replayed")] == [bad.id]
    query = {"app": 1, "query": f'メールアドレス = "{email}"'}
    token = {"X-Cybozu-API-Token": KINTONE_TOKENS[0]}
    (record,) = httpx.get(f"{kintone.url}/k/v1/records.json", params=query, headers=token).json()["records"]
    assert record["会社名"]["value"] == "株式会社みらい"
    assert report.balanced


def test_a_crashed_run_still_sends_its_one_email(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.sync

    assert env.mail is not None
    mails_before = len(env.mail.messages)
    path = spec_file(env, tmp_path)

    def broken(*_: object) -> None:
        raise RuntimeError("the report step blew up")

    monkeypatch.setattr(flows.sync, "finish_report", broken)
    state = flows.sync.sync(str(path), ["kintone-customers"], return_state=True)
    assert state.is_failed()
    (mail,) = env.mail.messages[mails_before:]
    assert "crashed" in mail["Subject"]
    body = mail.get_body(("plain",))
    assert body is not None and "the report step blew up" in body.get_content()
    store = state_store(load_spec(path))
    (ledger,) = store.runs()
    assert ledger["state"] == "crashed" and ledger["finished_at"] is not None
    assert store.acquire_lock("next-run") is None  # the crashed run's lock was freed


def test_backfill_stages_a_range_then_loads_the_chosen_target(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    from datetime import timedelta

    from flows.extract import backfill
    from schemas.staging import JST

    path = spec_file(env, tmp_path)
    today = clock.now().astimezone(JST).date()
    final = backfill(str(path), today - timedelta(days=1), today, ["kintone-customers"], return_state=True)
    report = report_of(final)
    assert report is not None and len(report.cuts) >= 2 and report.cuts == sorted(report.cuts)
    state = state_store(load_spec(path))
    assert state.watermark("staging", "cuts") == report.cuts[-1]
    assert state.watermark("kintone-customers", "outbound") == report.cuts[-1]  # loaded, not only staged
    assert state.watermark("salesforce-leads", "outbound") is None  # not chosen
