"""Every stand-in adds the configured latency: a round trip per API request, and a cost per record written.

Lower bounds only: a request may take longer on a busy machine, never less than what was configured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sandbox.common import BackgroundServer, Latency
from sandbox.kintone.app import create_app as kintone_app
from sandbox.kintone.demo_apps import build_demo_apps
from sandbox.salesforce.app import create_app as salesforce_app
from sandbox.sansan.app import create_app as sansan_app
from sandbox.satori.app import create_app as satori_app

SANSAN_KEY = "renkeitest000000000000000000000L"
STAND_INS: dict[str, tuple[Callable[[Path, Latency], FastAPI], str]] = {
    "kintone": (lambda data, lat: kintone_app(data, "admin", "pw", latency=lat), "/k/v1/apps.json"),
    "satori": (lambda data, lat: satori_app(data, {"t": "demo"}, latency=lat), "/integration/v1/customers"),
    "salesforce": (lambda data, lat: salesforce_app(data, latency=lat), "/services/oauth2/token"),
    "sansan": (lambda data, lat: sansan_app(data, SANSAN_KEY, latency=lat), "/v3.2/bizCards"),
}


def timed_get(srv: BackgroundServer, path: str) -> tuple[float, httpx.Response]:
    verify = str(srv.app.state.tls.ca) if srv.url.startswith("https") else True
    start = time.perf_counter()
    response = httpx.get(f"{srv.url}{path}", verify=verify, trust_env=False, timeout=30)
    return time.perf_counter() - start, response


@pytest.mark.parametrize("name", sorted(STAND_INS))
def test_each_request_waits_at_least_the_round_trip(name: str, tmp_path: Path) -> None:
    factory, path = STAND_INS[name]
    with BackgroundServer(factory(tmp_path, Latency(round_trip_ms=250))) as srv:
        seconds, response = timed_get(srv, path)  # refused for want of credentials: still a round trip
        assert response.status_code >= 400 and seconds >= 0.25
        verify = str(srv.app.state.tls.ca) if srv.url.startswith("https") else True
        changed = httpx.put(
            f"{srv.url}/_sandbox/latency", json={"round_trip_ms": 400, "jitter_ms": 50}, verify=verify
        )
        assert changed.json() == {"round_trip_ms": 400.0, "jitter_ms": 50.0, "per_record_ms": 0.0, "seed": 0}
        assert min(timed_get(srv, path)[0] for _ in range(3)) >= 0.35  # 400 ms less at most 50 of jitter


def test_latency_settings_are_checked(tmp_path: Path) -> None:
    with BackgroundServer(satori_app(tmp_path, {"t": "demo"})) as srv:
        refused = httpx.put(f"{srv.url}/_sandbox/latency", json={"round_trip_ms": -1})
        assert refused.status_code == 400 and "≥ 0" in refused.json()["message"]
        assert httpx.get(f"{srv.url}/_sandbox/latency").json()["round_trip_ms"] == 0.0


def test_kintone_charges_each_record_written(tmp_path: Path) -> None:
    """100 records at 5 ms each, alone and inside a bulkRequest: at least 0.5 s more than the round trip."""
    app = kintone_app(tmp_path, "admin", "pw", latency=Latency(round_trip_ms=50, per_record_ms=5))
    demo = build_demo_apps(app.state.kintone.store)
    rows = [{"メールアドレス": {"value": f"lat{i}@x.jp"}} for i in range(100)]
    body = {"app": demo.customers.id, "records": rows}
    headers = {"X-Cybozu-API-Token": demo.customers.token}
    with BackgroundServer(app) as srv, httpx.Client(base_url=srv.url, headers=headers, timeout=30) as http:
        start = time.perf_counter()
        assert len(http.post("/k/v1/records.json", json=body).json()["ids"]) == 100
        assert time.perf_counter() - start >= 0.05 + 100 * 0.005
        more = {**body, "records": [{"メールアドレス": {"value": f"latb{i}@x.jp"}} for i in range(100)]}
        bulk = {"requests": [{"method": "POST", "api": "/k/v1/records.json", "payload": more}]}
        start = time.perf_counter()
        assert http.post("/k/v1/bulkRequest.json", json=bulk).status_code == 200
        assert time.perf_counter() - start >= 0.05 + 100 * 0.005


def test_salesforce_bulk_job_stays_in_progress_for_its_per_record_cost(tmp_path: Path) -> None:
    app = salesforce_app(tmp_path, latency=Latency(per_record_ms=100))
    bulk = app.state.bulk
    job = bulk.new_job("60.0", {"operation": "insert", "object": "Lead", "state": "Open"}, query=False)
    job.data.append("LastName,Company\n" + "".join(f"山田{i},さくら\n" for i in range(5)))
    start = time.perf_counter()
    bulk.process(job, app.state.latency.per_record_ms)
    assert time.perf_counter() - start >= 5 * 0.1
    assert job.info["state"] == "JobComplete" and len(job.ok) == 5
