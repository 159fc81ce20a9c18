"""Mapping changes re-sync, over real HTTP: a field added after the first sync fills every linked
kintone record in ceil(N/100) writes, charged to the budget; `plan` names it first with that count."""

from __future__ import annotations

import math

from connectors.kintone_model import budget_day
from schemas.mapping import field_map
from tasks.resync import pending_resync
from tests.flows import test_kintone_sync as base
from tests.flows.test_kintone_sync import MAPPED, EnvFactory, ma_customers

kintone, new_env = base.kintone, base.new_env  # the kintone sync tests' fixtures
WITHOUT_ADDRESS = {k: v for k, v in MAPPED.items() if k != "address"}


def kintone_puts(env: base.Env) -> int:
    return len(
        [e for e in env.kintone.request_log.writes() if e.method == "PUT" and "records.json" in e.path]
    )


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
    assert kintone_puts(env) == math.ceil(250 / 100)
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
