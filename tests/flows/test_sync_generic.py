"""The generic per-target sync against the real MA stand-in, with an in-memory target.

The in-memory target stands for the loading contract only; every target's own end-to-end tests run
against its stand-in over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.http import HttpError
from connectors.satori import SatoriClient
from connectors.staging import StagingArea
from sandbox.common import BackgroundServer
from sandbox.satori.app import create_app
from schemas import clock
from schemas.mapping import TargetRecord
from schemas.outcomes import RowOutcome
from schemas.staging import JST
from schemas.validate import load_spec
from tasks.clients import state_store
from tasks.extract import due_cuts, stage_one_cut
from tasks.sync_target import sync_inbound, sync_outbound
from tests.flows.conftest import sandbox_call, write_spec

TOKEN = "tok-generic"


class MemoryTarget:
    """A target that keeps records in a dict keyed by the match field; it refuses a 'BAD' name."""

    name = "memory"
    batch_rows = 1_000

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.modified: dict[str, datetime] = {}
        self.sent = 0
        self.masters: list[tuple[str, str]] = []

    def upsert_customers(self, records: list[tuple[str, dict[str, Any]]]) -> list[RowOutcome]:
        outcomes = []
        for key, record in records:
            self.sent += 1
            if record.get("name") == "BAD":
                outcomes.append(RowOutcome.rejected(key, "INVALID", "name may not be BAD", "name"))
                continue
            new = key not in self.records
            self.records.setdefault(key, {}).update(record)
            self.modified[key] = clock.now()
            outcomes.append(RowOutcome.created(key, key) if new else RowOutcome.updated(key, key))
        return outcomes

    def upsert_actions(self, kind: str, records: list[tuple[str, dict[str, Any]]]) -> list[RowOutcome]:
        return [RowOutcome.created(key, key) for key, _ in records]

    def upsert_masters(self, kind: str, records: list[tuple[str, dict[str, Any]]]) -> list[RowOutcome]:
        self.masters += [(kind, key) for key, _ in records]
        return [RowOutcome.created(key, key) for key, _ in records]

    def changed_records(self, since: datetime | None) -> Iterator[list[TargetRecord]]:
        yield [
            TargetRecord(key, self.modified[key], dict(values))
            for key, values in self.records.items()
            if since is None or self.modified[key] >= since
        ]

    def read_rejections(self) -> list[RowOutcome]:
        return []

    def close(self) -> None:
        """Nothing to release: the records live in this object."""


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[tuple[Any, SatoriClient, MemoryTarget]]:
    with BackgroundServer(create_app(tmp_path / "ma", {TOKEN: "acme"})) as server:
        call = lambda m, p, b=None: sandbox_call(server.url, TOKEN, m, p, b)  # noqa: E731
        call("POST", "/_sandbox/custom-fields", [{"identifier": "stage", "type": "text"}])
        call("PUT", "/_sandbox/clock", {"now": "2026-11-28T01:00:00+09:00"})
        with SatoriClient(server.url, TOKEN) as ma:
            ma.bulk_upsert([
                {"email": "a@example.co.jp", "last_name": "田中"},
                {"email": "b@example.co.jp", "last_name": "BAD"},
                {"email": "c@example.co.jp", "last_name": "鈴木"},
            ])  # fmt: skip
            call("PUT", "/_sandbox/clock", {"now": "2026-11-28T03:00:00+09:00"})
            path = write_spec(
                tmp_path / "spec.yaml",
                server.url,
                TOKEN,
                tmp_path,
                custom_fields={"stage": {"type": "text"}},
                fields={"email": "readable", "last_name": "readable", "custom:stage": "writable"},
                targets=[{
                    "name": "memory", "kind": "kintone", "url": "http://127.0.0.1:1", "app": 1,
                    "auth": {"api_token": "t"}, "match": {"ma": "email", "target": "mail"},
                    "map": {"last_name": "name", "custom:stage": "stage"},
                }],
            )  # fmt: skip
            spec = load_spec(path)
            state = state_store(spec)
            (cut,) = due_cuts(ma, state)
            stage_one_cut(spec, ma, StagingArea(spec.storage.staging), cut, "r0")
            yield spec, ma, MemoryTarget()


def test_outbound_then_rerun_then_inbound(env: tuple[Any, SatoriClient, MemoryTarget]) -> None:
    spec, ma, memory = env
    state, staging, target = state_store(spec), StagingArea(spec.storage.staging), spec.targets[0]

    reports = {r.stream: r for r in sync_outbound(spec, target, memory, ma, staging, state, "r1")}
    snapshot = reports["customers:snapshot"].counts
    assert (snapshot.received, snapshot.loaded, snapshot.rejected) == (3, 2, 1) and snapshot.balanced
    assert memory.records["a@example.co.jp"] == {"mail": "a@example.co.jp", "name": "田中"}
    (bad,) = state.quarantined("memory")
    assert bad.key == "b@example.co.jp" and bad.code == "INVALID" and bad.payload["name"] == "BAD"
    assert state.watermark("memory", "outbound") is not None

    memory.sent = 0
    assert sync_outbound(spec, target, memory, ma, staging, state, "r2") == []  # nothing pending
    assert memory.sent == 0

    memory.records["a@example.co.jp"]["stage"] = "商談中"
    memory.records["c@example.co.jp"]["stage"] = "受注"
    memory.records["c@example.co.jp"]["mail"] = "Ａ@example.co.jp"  # now shares a's address
    inbound = sync_inbound(spec, target, memory, ma, state, "r3")
    assert inbound.counts.balanced and inbound.counts.rejected == 2
    assert {e.code for e in inbound.errors} == {"duplicate_email"}
    memory.records["c@example.co.jp"]["mail"] = "c@example.co.jp"
    memory.modified["c@example.co.jp"] = clock.now()
    inbound = sync_inbound(spec, target, memory, ma, state, "r4")
    assert inbound.counts.loaded == 2, inbound
    assert ma.get_customer(email="a@example.co.jp")["custom"]["stage"] == "商談中"
    assert ma.get_customer(email="c@example.co.jp")["custom"]["stage"] == "受注"
    again = sync_inbound(spec, target, memory, ma, state, "r5")
    assert again.counts.loaded == 0 and again.counts.balanced  # a re-run writes nothing


def test_replay_moves_a_fixed_row_from_rejected_to_loaded(
    env: tuple[Any, SatoriClient, MemoryTarget],
) -> None:
    from tasks.replay import dismiss_rows, replay_rows

    spec, ma, memory = env
    state, staging, target = state_store(spec), StagingArea(spec.storage.staging), spec.targets[0]
    sync_outbound(spec, target, memory, ma, staging, state, "r1")
    (bad,) = state.quarantined("memory")

    still = replay_rows(spec, target, memory, ma, state, [bad], "r2")  # not fixed yet: rejected again
    assert (still.replayed, still.still_rejected) == (0, 1)
    (again,) = state.quarantined("memory")
    assert again.id == bad.id and again.run_id == "r1"  # the same problem keeps its first entry

    ma.bulk_upsert([{"email": "b@example.co.jp", "last_name": "木村"}])  # the user fixes the source
    fixed = replay_rows(spec, target, memory, ma, state, [again], "r3")
    assert (fixed.replayed, fixed.still_rejected) == (1, 0)
    assert memory.records["b@example.co.jp"]["name"] == "木村"
    assert state.quarantined("memory") == []
    assert [r.id for r in state.quarantined("memory", status="replayed")] == [again.id]

    memory.records.clear()
    memory.sent = 0
    ma.bulk_upsert([{"email": "b@example.co.jp", "last_name": "BAD"}])
    replay_rows(spec, target, memory, ma, state, [again], "r4")
    (last,) = state.quarantined("memory")
    assert dismiss_rows(state, [last], "test account, nobody will fix it") == 1
    (dismissed,) = state.quarantined("memory", status="dismissed")
    assert "test account" in (dismissed.note or "") and "dismissed by" in (dismissed.note or "")


def test_replay_resends_a_quarantined_master_row_to_the_target(
    env: tuple[Any, SatoriClient, MemoryTarget],
) -> None:
    from tasks.load import StreamReport, record_outcomes
    from tasks.replay import replay_rows

    spec, ma, memory = env
    state, target = state_store(spec), spec.targets[0]
    sent = {"f1": {"id": "f1", "name": "資料請求フォーム"}}
    refused = [RowOutcome.rejected("f1", "INVALID", "name too long", "name")]
    record_outcomes(state, "r1", StreamReport("memory", "masters:form"), sent, refused, link=False)
    (row,) = state.quarantined("memory")
    result = replay_rows(spec, target, memory, ma, state, [row], "r2")
    assert (result.replayed, result.still_rejected) == (1, 0)
    assert memory.masters == [("form", "f1")]  # sent again as a master, not read back as a change
    assert state.quarantined("memory") == []


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (HttpError("GET", "/x", None, "ConnectError", "gave up"), True),
        (HttpError("GET", "/x", 503, None, "unavailable"), True),
        (HttpError("GET", "/x", 429, None, "slow down"), True),
        (HttpError("GET", "/x", 400, "CB_VA01", "bad"), False),
        (HttpError("POST", "/token", 401, "invalid_grant", "authentication failure"), False),
        (ConnectionResetError("reset"), True),
        (ValueError("bad spec"), False),
    ],
)
def test_a_step_is_retried_only_when_the_target_is_still_down(error: BaseException, retried: bool) -> None:
    from tasks.retry import still_down

    assert still_down(error) is retried


def test_a_new_target_gets_the_actions_of_every_staged_cut(tmp_path: Path) -> None:
    """A first run killed after staging must not leave the earlier cut's actions behind."""
    memory = MemoryTarget()
    sent: list[str] = []
    memory.upsert_actions = lambda kind, records: [  # type: ignore[method-assign]
        sent.append(key) or RowOutcome.created(key, key) for key, _ in records
    ]
    with BackgroundServer(create_app(tmp_path / "ma", {TOKEN: "acme"})) as server:
        call = lambda m, p, b=None: sandbox_call(server.url, TOKEN, m, p, b)  # noqa: E731
        call(
            "POST",
            "/_sandbox/masters",
            [{"kind": "form", "id": "f1", "name": "資料請求", "created_at": "2026-11-01T00:00+09:00"}],
        )
        call("PUT", "/_sandbox/clock", {"now": "2026-11-28T01:00:00+09:00"})
        with SatoriClient(server.url, TOKEN) as ma:
            ma.bulk_upsert([{"email": "a@example.co.jp", "last_name": "田中"}])
            event = {"kind": "form", "email": "a@example.co.jp", "master_id": "f1", "event_type": "submitted"}
            at = ("2026-11-28T01:10:00+09:00", "2026-11-28T09:00:00+09:00")  # one in each cut's window
            call("POST", "/_sandbox/actions", [{**event, "occurred_at": t, "recorded_at": t} for t in at])
            call("PUT", "/_sandbox/clock", {"now": "2026-11-28T12:00:00+09:00"})
            target = {
                "name": "memory", "kind": "kintone", "url": "http://127.0.0.1:1", "app": 1,
                "auth": {"api_token": "t"}, "match": {"ma": "email", "target": "mail"},
                "map": {"last_name": "name"}, "actions": {"form": {"app": 2}},
            }  # fmt: skip
            spec = load_spec(
                write_spec(tmp_path / "spec.yaml", server.url, TOKEN, tmp_path, targets=[target])
            )
            staging, state = StagingArea(spec.storage.staging), state_store(spec)
            for cut in ma.list_cuts(since=datetime(2026, 11, 28, tzinfo=JST)):  # 02:00 and 11:00
                stage_one_cut(spec, ma, staging, cut, "r0")
            reports = {
                r.stream: r.counts
                for r in sync_outbound(spec, spec.targets[0], memory, ma, staging, state, "r1")
            }
    assert reports["actions:form"].loaded == 2 and len(sent) == 2  # both cuts' actions, not only the last
    assert reports["customers:snapshot"].loaded == 1 and "customers" not in reports
    assert state.watermark("memory", "outbound") == "20261128T1100+0900"
