"""Benchmark of the SATORI stand-in: seed time, search page latency, CSV export of one cut.

Run: .venv/bin/python bench/bench_satori.py --customers 1000000 --actions 10000000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from connectors.satori import SatoriClient
from sandbox.common import BackgroundServer
from sandbox.satori import db
from sandbox.satori.app import create_app
from sandbox.satori.clock import cut_id, from_micros
from sandbox.satori.seed import seed

NOW = datetime.fromisoformat("2026-11-28T18:00+09:00")
SEARCHES: dict[str, list[dict[str, Any]]] = {
    "all, by updated_at": [],
    "tags any_of": [{"field": "tags", "op": "any_of", "values": ["展示会", "資料請求"]}],
    "company contains": [{"field": "lead_company_name", "op": "contains", "value": "さくら"}],
    "custom range": [{"field": "custom:employees", "op": "range", "from": 300, "to": 2000}],
    "updated_at range + not_contains": [
        {"field": "updated_at", "op": "range", "from": "2026-01-01T00:00+09:00"},
        {"field": "department", "op": "not_contains", "value": "営業"},
    ],
}


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def quantiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (n={len(ordered)})"


def search_latency(client: SatoriClient, pages: int) -> dict[str, str]:
    """Latency of consecutive pages (500 rows each) of each search, following the pager."""
    results: dict[str, str] = {}
    every: list[float] = []
    for name, conditions in SEARCHES.items():
        samples: list[float] = []
        pager = client.iter_search(conditions, page_size=500)
        for _ in range(pages):
            started = time.perf_counter()
            if next(pager, None) is None:
                break
            samples.append(time.perf_counter() - started)
        every.extend(samples)
        results[name] = quantiles(samples)
    results["all searches"] = quantiles(every)
    return results


def busiest_email_cut(data: Path) -> tuple[str, int]:
    engine = db.make_engine(db.database_url_for(data))
    a = db.actions.c
    with engine.connect() as conn:
        cut, rows = conn.execute(
            select(a.cut_at, func.count())
            .where(a.kind == "email")
            .group_by(a.cut_at)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
    engine.dispose()
    return cut_id(from_micros(cut)), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--actions", type=int, default=10_000_000)
    parser.add_argument("--pages", type=int, default=20, help="pages per search")
    parser.add_argument("--data", type=Path, default=None, help="keep the database here (default: temporary)")
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="bench-satori-"))
    try:
        started = time.perf_counter()
        summary = seed(data, args.customers, args.actions, progress=None)
        total = time.perf_counter() - started
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
        print(
            f"seed: {summary.customers:,} customers + {summary.actions:,} actions in {total:.1f} s ({stages})"
        )
        size = sum(p.stat().st_size for p in data.glob("satori.db*")) / 2**30
        print(f"database: {size:.2f} GiB")
        app = create_app(data, {"demo-token": "demo"})
        app.state.store.clock.set(NOW)
        with BackgroundServer(app) as server, SatoriClient(server.url, "demo-token") as client:
            for name, figure in search_latency(client, args.pages).items():
                print(f"search {name}: {figure}")
            cut, expected = busiest_email_cut(data)
            rows = 0
            elapsed = 0.0
            for _ in range(3):
                started = time.perf_counter()
                rows = sum(chunk.count(b"\n") for chunk in client.stream_actions_csv(cut, "email")) - 1
                elapsed = min(elapsed or float("inf"), time.perf_counter() - started)
            assert rows == expected, (rows, expected)
            rate = rows / elapsed
            print(
                f"CSV export, email history of cut {cut}: {rows:,} rows, {elapsed:.2f} s = {rate:,.0f} rows/s"
            )
    finally:
        if args.data is None:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
