"""Import business cards end to end: Sansan stand-in → tasks.targets.sansan → write-back → MA stand-in.

A first run (no watermark) over a seeded Sansan, then a re-run that must write nothing. Measures
records/s, Sansan requests issued against the minimum ceil(N/300), 429s and time spent waiting on
the rate limit, and the MA requests.

    .venv/bin/python bench/bench_sansan_import.py --cards 80000 [--faults 0.05] [--record]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from connectors.satori import SatoriClient
from connectors.state import StateStore
from sandbox.common import BackgroundServer
from sandbox.sansan.app import create_app as sansan_app
from sandbox.sansan.seed import seed
from sandbox.satori.app import create_app as satori_app
from schemas.targets import SansanSettings
from schemas.validate import load_spec
from tasks.sync_target import sync_inbound
from tasks.targets.sansan import SansanSource

KEY = "renkeibenchimport000000000000000"
TOKEN = "tok-bench-import"
NOW = datetime.fromisoformat("2024-06-15T12:00:00+09:00")
RESULTS = Path(__file__).with_name("RESULTS.md")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sansan.yaml"


def write_spec(root: Path, ma_url: str, sansan_url: str) -> Path:
    """The shipped Sansan example (fields, map, rules) pointed at the two stand-ins and ``root``."""
    spec: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    spec["notify"]["smtp"] = {"host": "127.0.0.1", "port": 2525}
    spec["storage"] = {"staging": str(root / "staging"), "state": f"sqlite:///{root / 'state.db'}"}
    spec["ma"] = {"url": ma_url, "token": TOKEN}
    (target,) = spec["targets"]
    target.update(url=sansan_url, auth={"api_key": KEY})
    path = root / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def timed(ma: SatoriClient, spent: dict[str, float]) -> None:
    """Add the time of every MA bulk call to ``spent`` (the MA stand-in's share of a run)."""
    for name in ("bulk_get", "bulk_upsert"):
        call = getattr(ma, name)

        def wrapper(*args: Any, _call: Any = call, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _call(*args, **kwargs)
            finally:
                spent["ma"] += time.perf_counter() - started

        setattr(ma, name, wrapper)


def run(cards: int, faults: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seed(root / "sansan", cards=cards, seed=0)
        with (
            BackgroundServer(sansan_app(root / "sansan", KEY)) as sansan,
            BackgroundServer(satori_app(root / "ma", {TOKEN: "acme"})) as ma_server,
        ):
            httpx.post(
                f"{ma_server.url}/_sandbox/custom-fields",
                json=[{"identifier": "card_exchanged_on", "type": "date"}],
                headers={"Authorization": f"Bearer {TOKEN}"},
            ).raise_for_status()
            if faults:
                httpx.put(f"{sansan.url}/_sandbox/faults", json={"rate": faults, "kinds": ["429"]})
            spec = load_spec(write_spec(root, ma_server.url, sansan.url))
            target = spec.targets[0]
            assert isinstance(target, SansanSettings)
            state = StateStore(spec.storage.state, spec.company)
            with SatoriClient(ma_server.url, TOKEN) as ma:
                spent = {"ma": 0.0}
                timed(ma, spent)
                result: dict[str, Any] = {"cards": cards, "faults": faults}
                for label, run_id in (("first", "r1"), ("rerun", "r2")):
                    source = SansanSource(spec, target, clock=lambda: NOW)
                    ma_server.request_log.entries.clear()
                    spent["ma"] = 0.0
                    started = time.perf_counter()
                    report = sync_inbound(spec, target, source, ma, state, run_id)
                    elapsed = time.perf_counter() - started
                    source.close()
                    counts = report.counts
                    assert counts.balanced and counts.received == source.cards_read
                    result[label] = {
                        "seconds": elapsed,
                        "read_seconds": source.read_seconds,
                        "ma_seconds": spent["ma"],
                        "read": source.cards_read,
                        "loaded": counts.loaded,
                        "skipped": counts.skipped,
                        "rejected": counts.rejected,
                        "requests": source.client.requests_made,
                        "rate_limited": source.client.rate_limited,
                        "wait": source.client.rate_limit_wait_seconds,
                        "ma_requests": len(ma_server.request_log.entries),
                        "ma_writes": sum(
                            e.path.endswith("bulk-upsert") for e in ma_server.request_log.entries
                        ),
                    }
            state.close()
    return result


def rows(result: dict[str, Any]) -> list[str]:
    out = []
    for label in ("first", "rerun"):
        r = result[label]
        minimum = math.ceil(r["read"] / 300)
        out.append(
            f"| {label} | {result['cards']:,} | {result['faults']:g} | {r['read']:,} | {r['loaded']:,} |"
            f" {r['skipped']:,} | {r['rejected']:,} | {r['seconds']:.1f} | {r['read_seconds']:.1f} |"
            f" {r['ma_seconds']:.1f} |"
            f" {r['read'] / r['seconds']:,.0f} |"
            f" {r['requests']} | {minimum} | {r['rate_limited']} |"
            f" {r['wait']:.1f} ({r['wait'] / r['seconds']:.0%}) | {r['ma_requests']} / {r['ma_writes']} |"
        )
    return out


def report(lines: list[str], command: str) -> str:
    return "\n".join(
        [
            "### Sansan import",
            "",
            f"Command: `{command}` (Sansan stand-in limit 10 requests/s per key, client bucket 8/s;"
            " MA stand-in on SQLite; both on 127.0.0.1 in this process; 11 mapped fields).",
            "",
            "| run | cards in Sansan | injected 429 share | persons read | loaded | skipped | rejected |"
            " seconds | of which Sansan read s | of which MA calls s | records/s | Sansan requests | minimum | 429s |"
            " rate-limit wait s (share) | MA requests / writes |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *lines,
            "",
            "A first run reads every person's newest completed card once (`includePastBizCards=false`):"
            " its minimum is ceil(cards read by that query / 300), where the query skips past cards and"
            " entries still processing, so it is below ceil(cards in Sansan / 300). The re-run reads"
            " only the overlap window, checks each of its emails with one search, and writes nothing.",
            "",
        ]
    )


def record(text: str) -> None:
    """Insert the subsection at the end of the ``## Sansan`` section of RESULTS.md."""
    body = RESULTS.read_text(encoding="utf-8")
    start = body.index("\n## Sansan\n")
    end = body.find("\n## ", start + 1)
    end = len(body) if end < 0 else end + 1
    RESULTS.write_text(body[:end].rstrip("\n") + "\n\n" + text + "\n" + body[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, default=80_000, help="cards seeded into Sansan")
    parser.add_argument("--faults", type=float, nargs="+", default=[0.0], help="shares answered 429")
    parser.add_argument("--record", action="store_true", help=f"add the result to {RESULTS.name}")
    args = parser.parse_args()
    lines = [line for share in args.faults for line in rows(run(args.cards, share))]
    command = f".venv/bin/python bench/bench_sansan_import.py --cards {args.cards} --faults " + " ".join(
        f"{share:g}" for share in args.faults
    )
    text = report(lines, command)
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
