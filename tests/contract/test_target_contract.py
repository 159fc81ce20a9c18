"""The target conformance suite: one set of tests every target kind passes before it ships.

Parametrized over the kintone and Salesforce stand-ins (real HTTP), the in-memory target and, where
the contract concerns a source, the Sansan stand-in: every key gets an outcome; a re-run writes
nothing; an email shared with a record outside the window is withheld and reported with both records;
an exhausted budget defers rows instead of failing them; a source-only target is refused as a
destination; a mapping change re-syncs every linked record; plan equals run in both directions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.staging import StagingArea
from sandbox.common import BackgroundServer
from sandbox.sansan.app import create_app as sansan_app
from sandbox.sansan.seed import seed as seed_sansan
from schemas.mapping import field_map, flatten_customer
from schemas.spec import DESTINATION_KINDS, TARGET_KINDS, Spec
from tasks.clients import state_store
from tasks.load import ChangeSource, Destination, SourceOnlyError, StreamReport
from tasks.plan import IN, PlanBook, PlannedMA, PlannedTarget, ReadOnlyState
from tasks.sync_target import OUTBOUND, sync_inbound, sync_outbound
from tasks.targets import ADAPTERS, destination_for
from tasks.targets.sansan import SansanSource
from tests.contract.worlds import CUSTOMERS, OUT_KINDS, WORLDS, World, ma_world, stage
from tests.flows.conftest import write_spec

SANSAN_KEY = "renkeicontract000000000000000000"


@pytest.fixture(params=OUT_KINDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        yield WORLDS[request.param](stack, tmp_path)


def outbound(world: World, spec: Spec, run_id: str) -> dict[str, StreamReport]:
    with world.adapter(spec) as adapter:
        state, staging = state_store(spec), StagingArea(spec.storage.staging)
        reports = sync_outbound(spec, spec.targets[0], adapter, world.ma, staging, state, run_id)
    return {r.stream: r for r in reports}


def inbound(world: World, spec: Spec, run_id: str) -> StreamReport:
    with world.adapter(spec) as adapter:
        return sync_inbound(spec, spec.targets[0], adapter, world.ma, state_store(spec), run_id)


def shared_reports(report: StreamReport) -> dict[str, str]:
    """Rejections for an email several records hold (Sansan words it as persons sharing it)."""
    return {e.key: e.message or "" for e in report.errors if e.code in ("duplicate_email", "email_shared")}


def test_every_key_gets_an_outcome_and_a_rerun_writes_nothing(world: World) -> None:
    spec = world.spec()
    stage(spec, world.ma)
    counts = outbound(world, spec, "c1")["customers:snapshot"].counts
    assert counts.balanced and (counts.received, counts.loaded) == (len(CUSTOMERS), len(CUSTOMERS))
    assert len(world.values()) == len(CUSTOMERS)
    before = world.writes()
    again = outbound(world, spec, "c2")
    assert all(r.counts.loaded == 0 for r in again.values())
    assert world.writes() == before


def test_an_email_shared_with_a_record_outside_the_window_is_withheld_with_both_reported(
    world: World,
) -> None:
    spec = world.spec()
    stage(spec, world.ma)
    outbound(world, spec, "s1")
    assert inbound(world, spec, "s2").counts.rejected == 0
    shared, other = CUSTOMERS[5]["email"], CUSTOMERS[7]["email"]
    twin = world.add_twin(shared)
    world.change(other, "製造")  # a later change moves the window past the twin
    inbound(world, spec, "s3")
    inside = world.change(shared, "小売")

    report = inbound(world, spec, "s4")
    assert report.counts.balanced
    reported = shared_reports(report)
    assert set(reported) == {inside, twin}
    assert all(inside in message and twin in message for message in reported.values())
    assert world.ma.get_customer(email=shared)["custom"].get("industry") is None  # never written


def test_an_exhausted_budget_defers_rows_instead_of_failing_them(world: World) -> None:
    spec = world.spec(**world.exhaust())
    stage(spec, world.ma)
    counts = outbound(world, spec, "b1")["customers:snapshot"].counts
    assert counts.balanced and counts.deferred == len(CUSTOMERS) and counts.rejected == 0
    assert state_store(spec).watermark("contract", OUTBOUND) is None  # the cut stays pending


def test_a_mapping_change_resyncs_every_linked_record(world: World) -> None:
    first_name = {"kintone": "名", "salesforce": "FirstName", "memory": "first"}[world.kind]
    world.fields = {**world.fields, "first_name": "readable"}
    world.ma.bulk_upsert([{**c, "first_name": f"名{i:02d}"} for i, c in enumerate(CUSTOMERS)])
    spec = world.spec()
    stage(spec, world.ma)
    outbound(world, spec, "m1")
    changed = world.spec(map={**world.target["map"], "first_name": first_name})
    reports = outbound(world, changed, "m2")
    counts = reports["customers:resync"].counts
    assert counts.balanced and counts.loaded == len(CUSTOMERS)
    assert {e: v[first_name] for e, v in world.values().items()} == {
        c["email"]: f"名{i:02d}" for i, c in enumerate(CUSTOMERS)
    }
    assert all(r.counts.loaded == 0 for r in outbound(world, changed, "m3").values())


def test_plan_equals_run(world: World) -> None:
    spec = world.spec()
    stage(spec, world.ma)
    book = PlanBook()
    key_field = field_map(spec, spec.targets[0]).key_target
    with world.adapter(spec) as real:
        planned = PlannedTarget(real, key_field, book)
        staging, state = StagingArea(spec.storage.staging), ReadOnlyState(state_store(spec), book)
        sync_outbound(spec, spec.targets[0], planned, world.ma, staging, state, "p1")
    assert world.writes() == 0  # the plan sent nothing
    predicted = {(c.key, c.field, c.after) for c in book.changes}
    assert len({key for key, _, _ in predicted}) == len(CUSTOMERS)

    outbound(world, spec, "p2")
    held = {str(v.get(key_field)): v for v in world.values().values()}
    made = {
        (key, name, None if held[key].get(name) in (None, "") else str(held[key][name]))
        for key, name, _ in predicted
    }
    assert made == predicted  # every record and field as the plan said, value for value


def test_plan_equals_run_into_the_ma(world: World) -> None:
    """The way back too: the plan's target → MA changes are the ones the run then writes, value for value."""
    spec = world.spec()
    stage(spec, world.ma)
    outbound(world, spec, "r1")
    inbound(world, spec, "r2")
    key_ma = field_map(spec, spec.targets[0]).key_ma
    edits = {CUSTOMERS[i]["email"]: value for i, value in ((1, "製造"), (2, "小売"), (3, "金融"))}
    for email, value in edits.items():
        world.change(email, value)

    def in_ma() -> dict[str, dict[str, Any]]:
        found = (flatten_customer(world.ma.get_customer(email=e)) for e in edits)
        return {str(c[key_ma]): c for c in found}

    before = in_ma()
    book = PlanBook()
    with world.adapter(spec) as real:
        state = ReadOnlyState(state_store(spec), book)
        sync_inbound(spec, spec.targets[0], real, PlannedMA(world.ma, "contract", book), state, "plan")
    predicted = {
        (c.key, c.field, c.after) for c in book.changes if c.direction == IN and c.action != "reject"
    }
    assert sorted(after for _, _, after in predicted) == sorted(edits.values())  # each edit, nothing else
    assert {key for key, _, _ in predicted} == set(before) and in_ma() == before  # the plan wrote nothing

    inbound(world, spec, "r3")
    held = in_ma()
    made = {
        (key, name, None if held[key].get(name) in (None, "") else str(held[key][name]))
        for key, name, _ in predicted
    }
    assert made == predicted


# Sansan is a source: the uniqueness contract on its side, and its refusal as a destination


@pytest.fixture()
def sansan(tmp_path: Path) -> Iterator[tuple[Spec, Any, str]]:
    with contextlib.ExitStack() as stack:
        ma, ma_url = ma_world(stack, tmp_path)
        seed_sansan(tmp_path / "sansan", cards=0, seed=3)
        srv = stack.enter_context(BackgroundServer(sansan_app(tmp_path / "sansan", SANSAN_KEY)))
        path = write_spec(
            tmp_path / "sansan.yaml", ma_url, "tok-contract", tmp_path,
            custom_fields={"industry": {"type": "text"}},
            fields={"last_name": "writable", "custom:industry": "writable"},
            targets=[{
                "name": "contract", "kind": "sansan", "url": srv.url, "api_version": "v3.2",
                "auth": {"api_key": SANSAN_KEY}, "match": {"ma": "email", "target": "email"},
                "map": {"last_name": "lastName", "custom:industry": "title"}, "overlap_minutes": 0,
            }],
        )  # fmt: skip
        from schemas.validate import load_spec

        yield load_spec(path), ma, srv.url


def put_cards(url: str, *cards: dict[str, Any]) -> None:
    httpx.post(f"{url}/_sandbox/cards", json={"cards": list(cards)}).raise_for_status()


def card(person: int, email: str, title: str, updated: str) -> dict[str, Any]:
    return {"personId": f"{person:032X}", "lastName": f"姓{person}", "email": email, "title": title,
            "updatedTime": updated, "exchangeDate": updated[:10]}  # fmt: skip


def test_sansan_withholds_an_email_shared_with_a_card_outside_the_window(
    sansan: tuple[Spec, Any, str],
) -> None:
    spec, ma, url = sansan
    target, state = spec.targets[0], state_store(spec)
    shared = CUSTOMERS[5]["email"]
    put_cards(url, card(1, shared, "部長", "2026-04-01T09:00:00+09:00"))
    put_cards(url, card(2, shared.upper(), "課長", "2026-04-02T09:00:00+09:00"))  # the twin
    put_cards(url, card(3, CUSTOMERS[7]["email"], "主任", "2026-04-03T09:00:00+09:00"))

    def run(now: str, run_id: str) -> StreamReport:
        source = SansanSource(spec, target, clock=lambda: datetime.fromisoformat(now))
        try:
            return sync_inbound(spec, target, source, ma, state, run_id)
        finally:
            source.close()

    run("2026-04-10T09:00:00+09:00", "n1")  # the first read sees every card
    put_cards(url, card(1, shared, "本部長", "2026-04-12T09:00:00+09:00"))  # only person 1 changes
    report = run("2026-04-13T09:00:00+09:00", "n2")
    assert report.counts.balanced
    reported = shared_reports(report)  # the person in the window, naming the other one
    assert set(reported) == {f"{1:032X}"} and f"{2:032X}" in reported[f"{1:032X}"]
    assert ma.get_customer(email=shared)["custom"].get("industry") is None


def test_a_source_only_target_is_refused_as_a_destination(sansan: tuple[Spec, Any, str]) -> None:
    spec, _, _ = sansan
    with pytest.raises(SourceOnlyError, match="source only"):
        destination_for(spec, spec.targets[0])
    source = SansanSource(spec, spec.targets[0])
    try:
        assert not isinstance(source, Destination) and isinstance(source, ChangeSource)
    finally:
        source.close()


def test_what_a_kind_can_do_is_its_adapter_type() -> None:
    """The spec's DESTINATION_KINDS (what flows load) and the adapters' types say the same."""
    for kind, path in ADAPTERS.items():
        module, name = path.split(":")
        adapter = getattr(import_module(module), name)
        upserts = ("upsert_customers", "upsert_actions", "upsert_masters")
        loads = [callable(getattr(adapter, m, None)) for m in upserts]
        assert loads == [kind in DESTINATION_KINDS] * 3, kind
        assert callable(getattr(adapter, "changed_records", None)), kind
    assert set(ADAPTERS) == set(TARGET_KINDS)
