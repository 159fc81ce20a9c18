"""Salesforce upsert throughput: sObject Collections vs Bulk API 2.0 on the same HTTPS stand-in.

Run: .venv/bin/python bench/bench_salesforce.py --customers 100000
Prints a Markdown section for bench/RESULTS.md (records/s, requests issued vs the minimum, threshold).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from connectors.salesforce import COLLECTION_SIZE, SalesforceClient
from sandbox.common import BackgroundServer
from sandbox.salesforce.app import create_app

BULK_MIN_REQUESTS = 7  # create, upload, close, one poll, three result files


def customers(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "SATORI_Customer_ID__c": f"{prefix}{i:07d}",
            "LastName": "山田",
            "FirstName": "太郎",
            "Company": "株式会社サンプル",
            "Email": f"taro{i}@example.co.jp",
            "Title": "部長",
        }
        for i in range(n)
    ]


def run(client: SalesforceClient, prefix: str, n: int) -> tuple[float, int, int]:
    """(seconds, requests issued, rows loaded)."""
    before = client.requests_made
    started = time.perf_counter()
    outcomes = client.upsert("Lead", "SATORI_Customer_ID__c", customers(prefix, n))
    return (
        time.perf_counter() - started,
        client.requests_made - before,
        sum(o.status.loaded for o in outcomes),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument(
        "--probe", default="200,1000,2000,5000", help="sizes compared to choose the threshold"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Path(tmp), daily_limit=10_000_000)
        with BackgroundServer(app, **app.state.tls.uvicorn_kwargs()) as server:

            def client(threshold: int) -> SalesforceClient:
                return SalesforceClient(
                    server.url,
                    client_id="renkei-client",
                    client_secret="renkei-secret",
                    username="admin@renkei.example.com",
                    password="renkei-demo",
                    ca_bundle=str(app.state.tls.ca),
                    bulk_threshold=threshold,
                    poll_seconds=0.5,
                )

            collections, bulk = client(10**9), client(1)
            n = args.customers
            lines = [f"Command: `.venv/bin/python bench/bench_salesforce.py --customers {n}`", ""]
            lines += [
                "| path | rows | seconds | records/s | requests | minimum requests | loaded |",
                "|---|---|---|---|---|---|---|",
            ]
            for name, c, prefix, minimum in (
                ("Collections", collections, "C", math.ceil(n / COLLECTION_SIZE)),
                ("Bulk API 2.0", bulk, "B", BULK_MIN_REQUESTS),
            ):
                seconds, requests, loaded = run(c, prefix, n)
                lines.append(
                    f"| {name} | {n} | {seconds:.1f} | {n / seconds:,.0f} | {requests} | {minimum} "
                    f"| {loaded} |"
                )
            lines += ["", "| rows | Collections s / requests | Bulk 2.0 s / requests |", "|---|---|---|"]
            for size in (int(s) for s in args.probe.split(",")):
                cs, cr, _ = run(collections, f"PC{size}-", size)
                bs, br, _ = run(bulk, f"PB{size}-", size)
                lines.append(f"| {size} | {cs:.2f} / {cr} | {bs:.2f} / {br} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
