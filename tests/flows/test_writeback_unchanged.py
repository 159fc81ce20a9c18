"""A write-back re-reads, inside its watermark's overlap, every record the last runs wrote (issue 17).

A record that reads as the write-back last took it in is skipped before the email guard and the MA
comparison: a run with nothing changed asks kintone no email question and the MA nothing, while a
record a person edits afterwards is written back, once. The stand-ins' request logs prove it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from sandbox.common import BackgroundServer
from sandbox.salesforce.soql_exec import format_datetime
from schemas import clock
from schemas.spec import Spec
from tasks.clients import state_store
from tasks.sync_target import sync_inbound
from tasks.writeback import INBOUND
from tests.flows import test_kintone_sync as base
from tests.flows import test_salesforce_sync as sf_base
from tests.flows.test_kintone_sync import Env, EnvFactory, change_form, ma_customers

kintone, new_env = base.kintone, base.new_env  # the kintone sync tests' fixtures
world = sf_base.world  # the Salesforce sync tests' MA and org


def kintone_calls(env: Env) -> list[tuple[str, str]]:
    return [(e.method, e.path.rsplit("/v1/", 1)[1]) for e in env.kintone.request_log.entries]


def ma_calls(server: BackgroundServer) -> list[str]:
    return [e.path.rsplit("/", 1)[1] for e in server.request_log.entries]


def clear(*servers: BackgroundServer) -> None:
    for server in servers:
        server.request_log.entries.clear()


def test_kintone_no_change_asks_nothing_and_a_later_edit_is_written_back_once(new_env: EnvFactory) -> None:
    env = new_env()
    env.outbound("out-1")
    first = env.inbound("in-1")  # no watermark yet: every record is read and compared with the MA
    assert (first.counts.received, first.counts.skipped) == (250, 250)

    clear(env.kintone, env.ma_server)
    again = env.inbound("in-2")
    # the overlap reads the 250 records the first run wrote again; none is asked about or compared
    assert (again.counts.received, again.counts.skipped) == (250, 250) and again.counts.balanced
    assert kintone_calls(env) == [("GET", "app/form/fields.json"), ("GET", "records.json")]
    assert ma_calls(env.ma_server) == []

    customers = ma_customers(env)
    email = sorted(customers)[7]
    stage = "受注" if customers[email]["custom"]["sales_stage"] != "受注" else "失注"
    edit: dict[str, Any] = {"メールアドレス": email, "商談ステージ": stage}
    with env.client() as client:  # a sales rep edits one record after the sync
        client.update_records(env.apps.customers.id, "メールアドレス", [edit])
    clear(env.kintone, env.ma_server)
    edited = env.inbound("in-3")
    assert (edited.counts.loaded, edited.counts.skipped) == (1, 249) and edited.counts.balanced
    assert ma_customers(env)[email]["custom"]["sales_stage"] == stage
    # its email is checked across the whole app (250 records: one read), then compared and written
    assert kintone_calls(env).count(("GET", "records.json")) == 2
    assert ma_calls(env.ma_server)[:2] == ["bulk-get", "bulk-upsert"]

    clear(env.ma_server)
    once = env.inbound("in-4")
    assert (once.counts.loaded, once.counts.skipped) == (0, 250)
    assert ma_calls(env.ma_server) == []  # written once, never again


def test_kintone_a_new_record_sharing_an_unchanged_records_email_withholds_both(
    new_env: EnvFactory,
) -> None:
    env = new_env(40, match="hashcode")
    change_form(env.kintone, env.apps.customers.id, {"メールアドレス": {"unique": False}})
    env.outbound("out-1")
    env.inbound("in-1")
    customers = ma_customers(env)
    shared = sorted(customers)[5]
    holder = next(
        i for i, r in env.customer_records().items() if r["顧客ハッシュ"] == customers[shared]["hashcode"]
    )
    twin: dict[str, Any] = {
        "メールアドレス": shared.upper(),
        "顧客ハッシュ": customers[shared]["hashcode"] + "-twin",
        "商談ステージ": "失注",
    }
    with env.client() as client:
        (added,) = client.add_records(env.apps.customers.id, [twin])

    inbound = env.inbound("in-2")  # the holder is unchanged since in-1, the twin is new
    counts = inbound.counts
    assert counts.balanced and (counts.received, counts.skipped, counts.rejected) == (41, 39, 2)
    duplicates = sorted(e.key for e in inbound.errors if e.code == "duplicate_email")
    assert duplicates == sorted([holder, str(added.target_id)])
    assert ma_customers(env)[shared]["custom"] == customers[shared]["custom"]


def test_salesforce_no_change_compares_nothing_and_a_later_edit_is_written_back(
    world: sf_base.World,
) -> None:
    spec, target = written_out(world)
    try:
        first = sync_inbound(spec, spec.targets[0], target, world.ma, state_store(spec), "r2")
        assert (first.counts.received, first.counts.skipped) == (3, 3)

        clear(world.ma_server)
        world.sf.request_log.entries.clear()
        again = sync_inbound(spec, spec.targets[0], target, world.ma, state_store(spec), "r3")
        # none is read again (renkei wrote them all before the watermark), unless stamped after it
        at_mark = stamped_at(world, watermark(spec))
        assert (again.counts.received, again.counts.skipped) == (at_mark, at_mark) and again.counts.balanced
        assert ma_calls(world.ma_server) == []  # the three Leads read again are not compared with the MA
        assert soql_queries(world) == 1  # the read alone: no GROUP BY for shared emails either

        person_edit(world, "sato@example.co.jp", {"Stage__c": "商談中"})  # a sales rep's, now
        world.sf.request_log.entries.clear()
        edited = sync_inbound(spec, spec.targets[0], target, world.ma, state_store(spec), "r4")
        assert edited.counts.loaded == 1 and edited.counts.balanced
        assert soql_queries(world) == 2  # the read, then the shared emails for the edited Lead
        assert world.ma.get_customer(email="sato@example.co.jp")["custom"]["stage"] == "商談中"
    finally:
        target.close()


def written_out(world: sf_base.World) -> tuple[Spec, Any]:
    """The world's spec and Salesforce adapter, after one outbound run ("r1") wrote the Leads."""
    spec = world.spec(defaults={"Company": "(未設定)"})
    world.stage_due(spec)
    target = sf_base.adapter(spec)
    sf_base.outbound(world, spec, target, "r1")
    return spec, target


def person_edit(
    world: sf_base.World, email: str, fields: dict[str, Any], stamp: datetime | None = None
) -> None:
    """A sales rep's edit of the Lead with ``email``, made as another user (stamped now, or ``stamp``)."""
    lead = next(r for r in world.rows("Lead") if r["Email"] == email)
    body = {"fields": fields, "stamp": format_datetime(stamp) if stamp else None}
    world.control.post(f"/_sandbox/sobjects/Lead/{lead['Id']}/person-edit", json=body).raise_for_status()


def soql_queries(world: sf_base.World) -> int:
    return sum(e.path.rstrip("/").endswith("/query") for e in world.sf.request_log.entries)


def test_salesforce_overlap_reads_a_persons_late_edit_and_not_renkeis_own_writes(
    world: sf_base.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, target = written_out(world)
    try:
        leads = {r["Email"]: r["Id"] for r in world.rows("Lead")}
        monkeypatch.setenv(clock.OFFSET_ENV, "5")  # renkei writes one Lead again 5 s later
        newer = {"LastName": "鈴木"}
        target.client.call(
            lambda sf: sf.restful(
                f"sobjects/Lead/{leads['suzuki@example.co.jp']}", method="PATCH", json=newer
            )
        )
        first = sync_inbound(spec, spec.targets[0], target, world.ma, state_store(spec), "r2")
        assert first.counts.received == 3
        mark = watermark(spec)
        assert stamped_at(world, mark) == 0  # the watermark is that Lead's stamp, the newest
        # a sales rep's edit that committed after r2 read, stamped a minute before the watermark
        person_edit(world, "sato@example.co.jp", {"Stage__c": "受注"}, mark - timedelta(minutes=1))
        again = sync_inbound(spec, spec.targets[0], target, world.ma, state_store(spec), "r3")
        assert again.counts.loaded == 1 and again.counts.balanced
        assert again.counts.received == 1 + stamped_at(world, mark)  # renkei's own Leads before it: unread
        assert world.ma.get_customer(email="sato@example.co.jp")["custom"]["stage"] == "受注"
    finally:
        target.close()


def watermark(spec: Spec) -> datetime:
    mark = state_store(spec).watermark(spec.targets[0].name, INBOUND)
    assert mark is not None
    return datetime.fromisoformat(mark)


def stamped_at(world: sf_base.World, mark: datetime) -> int:
    """Leads stamped at or after the whole second from the watermark on: read whoever wrote them."""
    bound = mark + timedelta(microseconds=-mark.microsecond % 1_000_000)
    return sum(
        datetime.fromisoformat(r["SystemModstamp"].replace("Z", "+00:00")) >= bound
        for r in world.rows("Lead")
    )
