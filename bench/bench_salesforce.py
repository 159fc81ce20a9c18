"""Salesforce upsert throughput: sObject Collections (one or several in flight) vs Bulk API 2.0.

Run: .venv/bin/python bench/bench_salesforce.py --customers 20000 --latency 0 150 --per-record-ms 1
Prints a Markdown section for bench/RESULTS.md (records/s, requests issued vs the minimum, and the
sizes compared to choose the threshold), one table per latency, all contenders in the same run.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from connectors.salesforce import COLLECTION_SIZE, SalesforceClient
from sandbox.common import BackgroundServer, Latency
from sandbox.salesforce.app import create_app

BULK_MIN_REQUESTS = 7  # create, upload, close, one poll, three result files
NEVER, ALWAYS = 10**9, 1  # bulk thresholds that force one path


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
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 150.0], help="round trips, ms")
    parser.add_argument(
        "--per-record-ms", type=float, default=1.0, help="service time a record (latency > 0)"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="Collections requests in flight")
    parser.add_argument(
        "--probe", default="200,1000,2000,5000,10000", help="sizes compared for the threshold"
    )
    args = parser.parse_args()
    n, width = args.customers, args.concurrency
    lines = [
        f"Command: `.venv/bin/python bench/bench_salesforce.py --customers {n} --latency "
        f"{' '.join(f'{ms:g}' for ms in args.latency)} --per-record-ms {args.per_record_ms:g} "
        f"--concurrency {width}`",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Path(tmp), daily_limit=10_000_000)
        with BackgroundServer(app, **app.state.tls.uvicorn_kwargs()) as server:

            def client(threshold: int, concurrency: int) -> SalesforceClient:
                return SalesforceClient(
                    server.url,
                    client_id="renkei-client",
                    client_secret="renkei-secret",
                    username="admin@renkei.example.com",
                    password="renkei-demo",
                    ca_bundle=str(app.state.tls.ca),
                    bulk_threshold=threshold,
                    poll_seconds=0.5,
                    concurrency=concurrency,
                )

            contenders = [
                ("Collections, 1 in flight", client(NEVER, 1), math.ceil(n / COLLECTION_SIZE)),
                (f"Collections, {width} in flight", client(NEVER, width), math.ceil(n / COLLECTION_SIZE)),
                ("Bulk API 2.0", client(ALWAYS, 1), BULK_MIN_REQUESTS),
            ]
            for ms in args.latency:
                per_record = args.per_record_ms if ms else 0.0
                app.state.latency = Latency(round_trip_ms=ms, per_record_ms=per_record)
                label = f"{ms:g} ms round trip + {per_record:g} ms a record"
                lines += [f"**{label}**", ""]
                lines += [
                    "| path | rows | seconds | records/s | requests | minimum requests | loaded |",
                    "|---|---|---|---|---|---|---|",
                ]
                for i, (name, c, minimum) in enumerate(contenders):
                    seconds, requests, loaded = run(c, f"{ms:g}-{i}-", n)
                    lines.append(
                        f"| {name} | {n} | {seconds:.1f} | {n / seconds:,.0f} | {requests} | {minimum} "
                        f"| {loaded} |"
                    )
                    print(lines[-1], flush=True)
                names = " | ".join(f"{name} s / requests" for name, _, _ in contenders)
                lines += ["", f"| rows | {names} |", "|---|---|---|---|"]
                for size in (int(s) for s in args.probe.split(",")):
                    cells = []
                    for i, (_, c, _) in enumerate(contenders):
                        seconds, requests, _ = run(c, f"P{ms:g}-{i}-{size}-", size)
                        cells.append(f"{seconds:.2f} / {requests}")
                    lines.append(f"| {size} | {' | '.join(cells)} |")
                    print(lines[-1], flush=True)
                lines.append("")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
