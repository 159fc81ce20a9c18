"""tasks.public_ma.PublicMa against the MA stand-in's public API v4 with injected 429s and 5xxs:
retried like every other call, one outcome per row, what was written remembered for the next run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.http import HttpPolicy
from connectors.satori import SatoriClient, V4Credentials, V4Writer
from connectors.staging import StagingArea
from sandbox.common import BackgroundServer, FaultConfig
from sandbox.satori.app import create_app
from schemas.outcomes import Status
from tasks.public_ma import PublicMa, v4_row

TOKEN, PUBLIC_KEY = "tok-public-ma", "key-public-ma"
FAST = HttpPolicy(max_attempts=8, backoff_base=0.01)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    faults = FaultConfig(rate=0.4, seed=7, kinds=("429", "5xx"))
    app = create_app(tmp_path / "ma", {TOKEN: "acme"}, faults, public_keys={PUBLIC_KEY: "acme"})
    with BackgroundServer(app) as running:
        httpx.post(
            f"{running.url}/_sandbox/custom-fields",
            json=[{"identifier": "sales_stage", "type": "select", "options": ["商談", "受注"]}],
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).raise_for_status()
        yield running


def test_v4_rows_carry_custom_fields_lists_and_flags_as_text() -> None:
    row = {
        "email": "a@example.jp",
        "tags": ["展示会", "資料請求"],
        "star": True,
        "custom": {"sales_stage": "受注"},
    }
    assert v4_row(row) == {
        "email": "a@example.jp",
        "tags": "展示会,資料請求",
        "star": "true",
        "custom:sales_stage": "受注",
    }


def test_bulk_upsert_through_faults_gives_one_outcome_per_row_and_remembers_them(
    server: BackgroundServer, tmp_path: Path
) -> None:
    staging = StagingArea(str(tmp_path / "staging"))
    writer = V4Writer(server.url, V4Credentials("u", "s", "acme", PUBLIC_KEY), FAST)
    rows: list[dict[str, Any]] = [
        {"email": "sato@example.jp", "last_name": "佐藤", "custom": {"sales_stage": "受注"}},
        {"email": "suzuki@example.jp", "custom": {"sales_stage": "存在しない段階"}},
        {"email": "takahashi@example.jp", "last_name": "髙橋"},
    ]
    try:
        outcomes = PublicMa(writer, staging, "acme").bulk_upsert(rows)
    finally:
        writer.close()
    assert [o.status for o in outcomes] == [Status.UPDATED, Status.REJECTED, Status.UPDATED]
    assert outcomes[1].code == "bulk_row_failed" and "sales_stage" in (outcomes[1].message or "")
    injected = httpx.put(f"{server.url}/_sandbox/faults", json={"rate": 0}).json()["injected"]
    assert sum(injected.values()) > 0  # the run met faults and still wrote every row once
    with SatoriClient(server.url, TOKEN) as ma:
        found = {c["email"]: c for c in ma.bulk_get(emails=[r["email"] for r in rows])}
    assert set(found) == {"sato@example.jp", "takahashi@example.jp"}
    assert found["sato@example.jp"]["custom"]["sales_stage"] == "受注"
    # the next run (a new PublicMa) compares with what this one wrote: nothing is written twice
    again = PublicMa(V4Writer(server.url, V4Credentials("u", "s", "acme", PUBLIC_KEY), FAST), staging, "acme")
    known = again.bulk_get(emails=["sato@example.jp", "suzuki@example.jp"])
    assert [(c["email"], c["last_name"], c["custom"]) for c in known] == [
        ("sato@example.jp", "佐藤", {"sales_stage": "受注"})
    ]
    again.writer.close()


def test_one_row_goes_through_the_single_upsert(server: BackgroundServer, tmp_path: Path) -> None:
    httpx.put(f"{server.url}/_sandbox/faults", json={"rate": 0}).raise_for_status()
    writer = V4Writer(server.url, V4Credentials("u", "s", "acme", PUBLIC_KEY), FAST)
    ma = PublicMa(writer, StagingArea(str(tmp_path / "staging")), "acme")
    try:
        [written] = ma.bulk_upsert([{"email": "one@example.jp", "last_name": "一人"}])
        [refused] = ma.bulk_upsert([{"email": "two@example.jp", "custom": {"sales_stage": "不明"}}])
    finally:
        writer.close()
    assert written.status is Status.UPDATED and written.target_id  # the MA's hashcode
    assert refused.status is Status.REJECTED and "sales_stage" in (refused.message or "")
    paths = [e.path for e in server.request_log.entries if e.path.startswith("/api/")]
    assert paths == ["/api/v4/public/customer/upsert.json"] * 2
