"""Mapping changes re-sync, over real HTTP: a field added after the first sync fills every linked
kintone record in ceil(N/100) writes, charged to the budget; `plan` names it first with that count."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from connectors.kintone_model import budget_day
from deployments.cli import app
from flows.plan import plan
from schemas import clock
from schemas.mapping import field_map
from tasks.resync import pending_resync
from tests.flows import test_kintone_sync as base
from tests.flows.test_kintone_sync import MAPPED, EnvFactory, ma_customers

kintone, new_env = base.kintone, base.new_env  # the kintone sync tests' fixtures
WITHOUT_ADDRESS = {k: v for k, v in MAPPED.items() if k != "address"}


def kintone_puts(env: base.Env) -> int:
    """Record-writing calls: PUT records.json, or bulkRequest.json carrying several of them."""
    return len(
        [
            e
            for e in env.kintone.request_log.writes()
            if (e.method == "PUT" and "records.json" in e.path) or e.path.endswith("bulkRequest.json")
        ]
    )


def fewest_calls(rows: int) -> int:
    """100 rows a request, 20 requests a call."""
    return math.ceil(math.ceil(rows / 100) / 20)


def test_a_field_added_after_the_first_sync_fills_every_linked_record(new_env: EnvFactory) -> None:
    env = new_env(250, map=WITHOUT_ADDRESS)
    assert env.outbound("out-1")["customers:snapshot"].counts.loaded == 250
    assert not any(r["住所"] for r in env.customer_records().values())

    target = env.target.model_copy(update={"map": {**WITHOUT_ADDRESS, "address": "住所"}})
    env.spec = env.spec.model_copy(update={"targets": [target]})
    pending = pending_resync(env.state(), field_map(env.spec, target), "kintone")
    assert pending is not None and [link.ma for link in pending.fields] == ["address"]
    assert (pending.records, pending.requests) == (250, math.ceil(250 / 100))
    assert "address → 住所 to 250 linked records in 3 write request(s)" in pending.describe()

    env.kintone.request_log.entries.clear()
    day = budget_day().isoformat()
    used = env.state().requests_used("kintone-customers", f"app:{env.apps.customers.id}", day)
    reports = env.outbound("out-2")
    assert list(reports) == ["customers:resync"]  # no new cut: only the re-sync
    counts = reports["customers:resync"].counts
    assert (counts.received, counts.loaded, counts.deferred) == (250, 250, 0)
    assert kintone_puts(env) == fewest_calls(250)
    spent = env.state().requests_used("kintone-customers", f"app:{env.apps.customers.id}", day) - used
    assert spent >= 3  # every write (and the read that checks emails) is charged to the daily budget
    addresses = {c["email"]: c["address"] for c in ma_customers(env).values()}
    assert {r["メールアドレス"]: r["住所"] for r in env.customer_records().values()} == addresses

    env.kintone.request_log.entries.clear()
    assert all(r.counts.loaded == 0 for r in env.outbound("out-3").values())  # recorded: no second re-sync
    assert kintone_puts(env) == 0


def test_a_resync_past_the_budget_is_deferred_and_stays_pending(new_env: EnvFactory) -> None:
    env = new_env(250, map=WITHOUT_ADDRESS, daily_request_budget=9, concurrency=1)
    assert env.outbound("out-1")["customers:snapshot"].counts.loaded == 250  # 1 + 1 + 3 requests
    target = env.target.model_copy(update={"map": {**WITHOUT_ADDRESS, "address": "住所"}})
    env.spec = env.spec.model_copy(update={"targets": [target]})
    counts = env.outbound("out-2")["customers:resync"].counts
    assert counts.deferred > 0 and counts.balanced and counts.rejected == 0
    assert pending_resync(env.state(), field_map(env.spec, target), "kintone") is not None  # still pending

    # the next kintone day resumes where the budget stopped it: what went is not sent again
    env.kintone.request_log.entries.clear()
    with clock.clock_at(clock.now() + timedelta(days=1)):
        resumed = env.outbound("out-3")["customers:resync"].counts
    assert (resumed.skipped, resumed.loaded, resumed.deferred) == (counts.loaded, counts.deferred, 0)
    assert kintone_puts(env) == fewest_calls(counts.deferred)
    assert pending_resync(env.state(), field_map(env.spec, target), "kintone") is None
    addresses = {c["email"]: c["address"] for c in ma_customers(env).values()}
    assert {r["メールアドレス"]: r["住所"] for r in env.customer_records().values()} == addresses


def synced_then_changed(new_env: EnvFactory, customers: int, folder: Path) -> tuple[base.Env, Path]:
    """A first sync without 住所, then the test's spec file with 住所 added to the mapping."""
    env = new_env(customers, map=WITHOUT_ADDRESS)
    env.outbound("out-1")
    env.kintone.request_log.entries.clear()
    document = yaml.safe_load((folder / "spec.yaml").read_text(encoding="utf-8"))
    document["targets"][0]["map"]["address"] = "住所"
    changed = folder / "changed.yaml"
    changed.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return env, changed


def test_plan_shows_the_resync_first_with_its_request_count(
    prefect_harness: None, new_env: EnvFactory, tmp_path: Path
) -> None:
    env, changed = synced_then_changed(new_env, 120, tmp_path)
    result = plan(str(changed))
    assert kintone_puts(env) == 0  # a dry run
    assert result.resyncs == (
        "kintone-customers: re-sync address → 住所 to 120 linked records in 2 write request(s), "
        "charged to the daily budget",
    )
    summary = Path(result.summary).read_text(encoding="utf-8")
    assert summary.index("re-sync address → 住所") < summary.index("| where |")  # shown first
    rows = [c for c in pq.read_table(result.changes).to_pylist() if c["field"] == "住所"]
    assert len(rows) == 120 and all(r["action"] == "update" for r in rows)


def test_renkei_resync_sends_the_named_field_now(
    prefect_harness: None, new_env: EnvFactory, tmp_path: Path
) -> None:
    env, changed = synced_then_changed(new_env, 150, tmp_path)
    runner = CliRunner()
    refused = runner.invoke(app, ["resync", str(changed), "--target", "kintone-customers", "--field", "fax"])
    assert refused.exit_code == 2 and "fax is not sent to kintone-customers" in refused.output

    env.kintone.request_log.entries.clear()
    args = ["resync", str(changed), "--target", "kintone-customers", "--field", "address"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "kintone-customers: 150 linked records — loaded 150, rejected 0, deferred 0" in result.output
    assert kintone_puts(env) == fewest_calls(150)
    again = runner.invoke(app, ["resync", str(changed), "--target", "kintone-customers"])
    assert "nothing to re-sync" in again.output  # the mapping was recorded
