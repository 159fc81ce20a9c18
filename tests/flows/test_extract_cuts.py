"""Extract end to end: the MA stand-in's cuts staged to Parquet and checked against its database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from connectors.satori import SatoriClient
from connectors.staging import StagingArea
from flows.extract import backfill, extract
from sandbox.common import BackgroundServer
from sandbox.satori import db as satori_db
from sandbox.satori.app import create_app
from schemas.spec import ACTION_KINDS, Spec
from schemas.staging import JST, action_file, staged_files
from schemas.validate import load_spec
from tasks.extract import cuts_between, due_cuts, stage_one_cut
from tests.flows.conftest import sandbox_call, write_spec

TOKEN = "tok-extract"
CUT_02 = "20261128T0200+0900"
CUT_11 = "20261128T1100+0900"


@pytest.fixture(scope="module")
def ma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    data = tmp_path_factory.mktemp("ma")
    with BackgroundServer(create_app(data, {TOKEN: "acme"})) as server:
        call = lambda method, path, body=None: sandbox_call(server.url, TOKEN, method, path, body)  # noqa: E731
        call(
            "POST",
            "/_sandbox/masters",
            [
                {
                    "kind": "form",
                    "id": "fm-1",
                    "name": "資料請求フォーム",
                    "created_at": "2026-11-01T09:00+09:00",
                },
                {
                    "kind": "email",
                    "id": "em-1",
                    "name": "ウェビナー案内",
                    "created_at": "2026-11-01T09:00+09:00",
                },
            ],
        )
        call("POST", "/_sandbox/custom-fields", [{"identifier": "industry", "type": "text"}])
        call("PUT", "/_sandbox/clock", {"now": "2026-11-28T01:00:00+09:00"})
        with SatoriClient(server.url, TOKEN) as client:
            outcomes = client.bulk_upsert(
                [
                    {"email": "tanaka@example.co.jp", "last_name": "田中", "custom": {"industry": "製造業"}},
                    {"email": "ＳＡＴＯ@example.co.jp", "last_name": "佐藤"},
                ]
            )
            call("PUT", "/_sandbox/clock", {"now": "2026-11-28T09:30:00+09:00"})
            outcomes += client.bulk_upsert([{"email": "suzuki@example.co.jp", "last_name": "鈴木"}])
        assert [o.status.value for o in outcomes] == ["created"] * 3
        call(
            "POST",
            "/_sandbox/actions",
            [
                {
                    "kind": "form",
                    "email": "tanaka@example.co.jp",
                    "master_id": "fm-1",
                    "event_type": "submitted",
                    "occurred_at": "2026-11-28T01:50:00+09:00",
                    "recorded_at": "2026-11-28T01:55:00+09:00",
                },
                # occurred before the 02:00 cut, recorded after it: belongs to the 11:00 cut, exactly once
                {
                    "kind": "email",
                    "email": "sato@example.co.jp",
                    "master_id": "em-1",
                    "event_type": "opened",
                    "occurred_at": "2026-11-28T01:59:00+09:00",
                    "recorded_at": "2026-11-28T02:01:00+09:00",
                },
                {
                    "kind": "email",
                    "email": "suzuki@example.co.jp",
                    "master_id": "em-1",
                    "event_type": "clicked",
                    "occurred_at": "2026-11-28T10:00:00+09:00",
                    "recorded_at": "2026-11-28T10:59:59+09:00",
                    "url": "https://example.co.jp/seminar?id=1,2",
                },
            ],
        )
        call("PUT", "/_sandbox/clock", {"now": "2026-11-28T12:00:00+09:00"})
        server.app.state.database_dir = data
        yield server


@pytest.fixture()
def spec(ma: BackgroundServer, tmp_path: Path) -> Spec:
    return load_spec(write_spec(tmp_path / "spec.yaml", ma.url, TOKEN, tmp_path))


def stage(spec: Spec, ma: BackgroundServer, cut_id: str, root: str | None = None) -> StagingArea:
    staging = StagingArea(root or spec.storage.staging)
    with SatoriClient(ma.url, TOKEN) as client:
        (cut,) = [c for c in client.list_cuts(since=datetime(2026, 11, 27, tzinfo=JST)) if c.id == cut_id]
        stage_one_cut(spec, client, staging, cut, "test-run")
    return staging


def expected_event_ids(ma: BackgroundServer, start: datetime, end: datetime) -> dict[str, list[str]]:
    """Straight from the stand-in's database: actions recorded in [start, end), per kind."""
    engine = sa.create_engine(satori_db.database_url_for(ma.app.state.database_dir))
    lo, hi = (int(t.timestamp() * 1_000_000) for t in (start, end))
    table = satori_db.actions
    with engine.connect() as c:
        rows = c.execute(
            sa.select(table.c.kind, table.c.event_id).where(
                table.c.recorded_at >= lo, table.c.recorded_at < hi
            )
        ).all()
    engine.dispose()
    found: dict[str, list[str]] = {k: [] for k in ACTION_KINDS}
    for kind, event_id in rows:
        found[kind].append(str(event_id))
    return found


def staged_event_ids(staging: StagingArea, cut_id: str) -> dict[str, list[str]]:
    return {
        kind: staging.parquet(f"acme/{cut_id}/{action_file(kind)}").read().column("event_id").to_pylist()
        for kind in ACTION_KINDS
    }


def test_two_consecutive_cuts_hold_every_action_once(spec: Spec, ma: BackgroundServer) -> None:
    staging = stage(spec, ma, CUT_02)
    stage(spec, ma, CUT_11)
    first = staged_event_ids(staging, CUT_02)
    second = staged_event_ids(staging, CUT_11)
    assert first == expected_event_ids(
        ma, datetime(2026, 11, 27, 11, tzinfo=JST), datetime(2026, 11, 28, 2, tzinfo=JST)
    )
    assert second == expected_event_ids(
        ma, datetime(2026, 11, 28, 2, tzinfo=JST), datetime(2026, 11, 28, 11, tzinfo=JST)
    )
    assert len(first["form"]) == 1 and first["email"] == [] and len(second["email"]) == 2
    all_ids = [i for ids in (*first.values(), *second.values()) for i in ids]
    assert len(all_ids) == len(set(all_ids)) == 3  # none missing, none twice
    late = staging.parquet(f"acme/{CUT_11}/{action_file('email')}").read().to_pylist()[0]
    assert late["occurred_at"] < datetime(2026, 11, 28, 2, tzinfo=JST) <= late["recorded_at"]
    assert late["email"] == "sato@example.co.jp"


def test_customers_changed_in_the_window_with_readable_fields(spec: Spec, ma: BackgroundServer) -> None:
    staging = stage(spec, ma, CUT_02)
    customers = staging.parquet(f"acme/{CUT_02}/customers.parquet").read()
    assert set(customers.column_names) >= {
        "customer_id",
        "hashcode",
        "email",
        "last_name",
        "score",
        "custom:industry",
    }
    rows = customers.to_pylist()
    assert [r["email"] for r in rows] == ["tanaka@example.co.jp", "sato@example.co.jp"]
    assert rows[0]["custom:industry"] == "製造業" and rows[0]["updated_at"].tzinfo is not None
    later = stage(spec, ma, CUT_11).parquet(f"acme/{CUT_11}/customers.parquet").read()
    assert later.column("email").to_pylist() == ["suzuki@example.co.jp"]


def test_rerunning_a_cut_rewrites_identical_bytes(spec: Spec, ma: BackgroundServer, tmp_path: Path) -> None:
    first = stage(spec, ma, CUT_11, str(tmp_path / "a"))
    second = stage(spec, ma, CUT_11, str(tmp_path / "b"))
    manifest = first.read_json(f"acme/{CUT_11}/manifest.json")
    assert manifest is not None and set(manifest["files"]) == set(staged_files())
    for name in staged_files():
        a = (tmp_path / "a" / "acme" / CUT_11 / name).read_bytes()
        assert a == (tmp_path / "b" / "acme" / CUT_11 / name).read_bytes()
        assert manifest["files"][name]["sha256"] == first.sha256(f"acme/{CUT_11}/{name}")
    assert manifest["window"] == {"from": "2026-11-28T02:00:00+09:00", "to": "2026-11-28T11:00:00+09:00"}
    assert second.read_json(f"acme/{CUT_11}/manifest.json") == manifest


def test_due_cuts_follow_the_watermark(spec: Spec, ma: BackgroundServer) -> None:
    from tasks.clients import state_store

    state = state_store(spec)
    with SatoriClient(ma.url, TOKEN) as client:
        assert [c.id for c in due_cuts(client, state)] == [CUT_11]  # first run: the newest cut only
        state.commit_watermark("staging", "cuts", "20261127T1100+0900", "r0")
        assert [c.id for c in due_cuts(client, state)] == [CUT_02, CUT_11]
        assert [c.id for c in due_cuts(client, state, CUT_02)] == [CUT_02]
        with pytest.raises(ValueError, match="not generated yet"):
            due_cuts(client, state, "20261128T2300+0900")
        cuts = cuts_between(
            client, datetime(2026, 11, 27, 11, tzinfo=JST), datetime(2026, 11, 28, 11, tzinfo=JST)
        )
    assert [c.id for c in cuts] == ["20261127T1100+0900", CUT_02, CUT_11]


def test_extract_and_backfill_flows(prefect_harness: None, ma: BackgroundServer, tmp_path: Path) -> None:
    from flows.states import report_of
    from tasks.clients import staging_area, state_store

    path = write_spec(tmp_path / "spec.yaml", ma.url, TOKEN, tmp_path)
    spec = load_spec(path)
    staged = extract(str(path))
    assert [s.cut for s in staged] == [CUT_11]
    state = state_store(spec)
    assert state.watermark("staging", "cuts") == CUT_11
    assert extract(str(path)) == []  # nothing new: no watermark moves twice
    runs = state.runs()
    assert [r["state"] for r in runs] == ["completed", "completed"]
    assert runs[-1]["counts"][CUT_11]["actions/email.parquet"] == 2

    report = report_of(backfill(str(path), date(2026, 11, 27), date(2026, 11, 28), return_state=True))
    assert report is not None and report.staged_only and not report.failures
    assert report.cuts[-3:] == ["20261127T1100+0900", CUT_02, CUT_11]  # whole days in Asia/Tokyo
    single = stage(spec, ma, CUT_02, str(tmp_path / "single"))
    backfilled = staging_area(spec)
    for name in staged_files():
        assert backfilled.sha256(f"acme/{CUT_02}/{name}") == single.sha256(f"acme/{CUT_02}/{name}")
    assert state.watermark("staging", "cuts") == CUT_11
    table = pq.read_table(tmp_path / "staging" / "acme" / CUT_02 / "masters" / "form.parquet")
    assert table.column("name").to_pylist() == ["資料請求フォーム"]
