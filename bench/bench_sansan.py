"""Read N business cards from the Sansan stand-in through connectors.sansan under the real rate limit.

Measures records/s, requests issued against the minimum ceil(N/300), and time spent waiting on the
rate limit (client bucket plus any 429 ``retry_after``); also times the card-selection rules.

    .venv/bin/python bench/bench_sansan.py --cards 50000 [--faults 0.05] [--record]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from connectors.sansan import SansanClient
from sandbox.common import BackgroundServer
from sandbox.sansan.app import create_app
from sandbox.sansan.seed import seed
from sandbox.sansan.wire import JST
from schemas.cards import select_cards
from schemas.sansan_card import read_cards

KEY = "renkeibench000000000000000000000"
RESULTS = Path(__file__).with_name("RESULTS.md")


def run(cards: int, faults: float, rate: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        seed(Path(tmp), cards=cards, seed=0)
        seeded = time.perf_counter() - started
        with BackgroundServer(create_app(Path(tmp), KEY)) as server:
            if faults:
                httpx.put(f"{server.url}/_sandbox/faults", json={"rate": faults, "kinds": ["429"]})
            with SansanClient(server.url, KEY, rate_per_second=rate) as client:
                started = time.perf_counter()
                read = read_cards(
                    client.iter_cards(
                        datetime(2000, 1, 1, tzinfo=JST), datetime(2100, 1, 1, tzinfo=JST), entry_status="all"
                    )
                )
                elapsed = time.perf_counter() - started
            started = time.perf_counter()
            selection = select_cards(read)
            selecting = time.perf_counter() - started
    assert len(read) == cards == selection.card_count
    return {
        "cards": cards,
        "seconds": elapsed,
        "records_per_second": cards / elapsed,
        "requests": client.requests_made,
        "minimum_requests": math.ceil(cards / 300),
        "rate_limited": client.rate_limited,
        "rate_limit_wait": client.rate_limit_wait_seconds,
        "seed_seconds": seeded,
        "select_seconds": selecting,
        "selected": len(selection.selected),
        "rejected": len(selection.rejected),
    }


def row(result: dict[str, float], faults: float, rate: float) -> str:
    return (
        f"| {result['cards']:,} | {faults:g} | {result['seconds']:.1f} |"
        f" {result['records_per_second']:,.0f} |"
        f" {result['requests']} | {result['minimum_requests']} | {result['rate_limited']} |"
        f" {result['rate_limit_wait']:.1f} ({result['rate_limit_wait'] / result['seconds']:.0%}) |"
        f" {result['select_seconds']:.2f} |"
    )


def report(rows: list[str], command: str, rate: float) -> str:
    return "\n".join(
        [
            "## Sansan",
            "",
            f"Command: `{command}` (stand-in limit 10 requests/s per key, client bucket {rate:g}/s,"
            " 300 cards a page, past cards and processing entries included).",
            "",
            "| cards | injected 429 share | read s | records/s | requests | minimum ceil(N/300) | 429s |"
            " rate-limit wait s (share of read) | selection rules s |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"The ceiling at {rate:g} requests/s is {rate * 300:,.0f} cards/s; read time not spent waiting"
            " on the limit is the stand-in serving pages and the client parsing them.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, default=50_000)
    parser.add_argument(
        "--faults", type=float, nargs="+", default=[0.0], help="shares of requests answered 429, one run each"
    )
    parser.add_argument("--rate", type=float, default=8.0, help="client requests per second")
    parser.add_argument("--record", action="store_true", help=f"append the result to {RESULTS.name}")
    args = parser.parse_args()
    rows = [row(run(args.cards, share, args.rate), share, args.rate) for share in args.faults]
    command = f".venv/bin/python bench/bench_sansan.py --cards {args.cards} --faults " + " ".join(
        f"{share:g}" for share in args.faults
    )
    text = report(rows, command, args.rate)
    print(text)
    if args.record:
        machine = f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}"
        with contextlib.suppress(FileExistsError), RESULTS.open("x", encoding="utf-8") as new:
            new.write(f"# Benchmarks\n\n{machine}, Python {platform.python_version()}\n")
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
