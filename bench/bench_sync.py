"""End to end: a first full sync, a run with nothing changed, and a run with 1% of the customers changed.

    .venv/bin/python bench/bench_sync.py --customers 10000 --actions 100000 --cards 3000

Every stand-in runs in this process with the latency of its real service (``--latency`` per stand-in);
each sync runs as `renkei`'s Prefect flow in a child process of its own (its own Prefect home and
temporary API server, as a scheduled run has), so its peak RSS is the sync's alone. Per step: wall
time, the requests each stand-in answered (all, and writes), the child's peak RSS, and the share of
wall time of the sync flow outside the steps' own bodies (staging, each target's load and write-back,
the report): Prefect's flow, subflow and task machinery. The temporary API server's start-up is timed
apart (an empty flow runs first). For the first sync, the calls each service answered that write rows
or return their outcomes, against the fewest its batch limits allow for the rows loaded
(``minimum_writes``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO_SPEC = ROOT / "examples" / "demo.yaml"
# round trips from an office in Japan, ms (sources in bench/RESULTS.md); per-record cost on writes only
LATENCY = {"satori": 20.0, "kintone": 20.0, "salesforce": 150.0, "sansan": 20.0}


def child(spec_path: str) -> None:
    """Run one sync, timing the bodies of its steps; print one JSON line.

    An empty flow runs first, so the temporary Prefect API server's start-up is timed on its own.
    """
    from prefect import flow

    import flows.sync as sync_module
    from tasks import steps

    start = time.perf_counter()
    flow(name="bench-warm-up")(lambda: None)()
    prefect_start = time.perf_counter() - start

    inside: dict[str, float] = {}  # seconds in each step's body: "load kintone-customers", …

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)  # Prefect names task runs from the signature ("load {target_name}")
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                target = args[1:2] if fn.__name__ in ("load_target", "write_back_target") else ()
                name = " ".join([fn.__name__, *target])
                inside[name] = inside.get(name, 0.0) + time.perf_counter() - start

        return run

    sync_module.stage_due_cuts = timed(sync_module.stage_due_cuts)
    sync_module.finish_report = timed(sync_module.finish_report)
    steps.load_target.fn = timed(steps.load_target.fn)
    steps.write_back_target.fn = timed(steps.write_back_target.fn)
    start = time.perf_counter()
    report = sync_module.sync_report(spec_path)
    wall = time.perf_counter() - start
    lines = {f"{line.target}:{line.stream}": line.counts.loaded for line in report.lines}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "wall": wall,
                "inside": sum(inside.values()),
                "steps": {name: round(seconds, 2) for name, seconds in inside.items()},
                "prefect_start": prefect_start,
                "rss_mib": rss,
                "loaded": lines,
                "outcome": report.outcome,
                "failures": [str(f) for f in report.failures],
            }
        )
    )


Calls = dict[str, list[tuple[str, str]]]  # stand-in → (method, path) of every request it answered


def rows_written(loaded: dict[str, int], kinds: dict[str, str]) -> dict[str, dict[str, int]]:
    """Rows loaded per service and stream: a write-back's into the MA, the rest into its target."""
    out: dict[str, dict[str, int]] = {"kintone": {}, "salesforce": {}, "satori": {}}
    for line, rows in loaded.items():
        target, stream = line.split(":", 1)
        service = "satori" if stream == "inbound" else kinds[target]
        out[service][line] = rows
    return out


def minimum_writes(written: dict[str, dict[str, int]]) -> dict[str, int]:
    """The fewest calls that write the rows loaded and return each row's outcome, per service.

    kintone: per stream, 100 records a request and 20 requests a bulkRequest (a stream's rows are
    written, and their links and watermark committed, before the next stream's, so two streams never
    share a call). Salesforce: per stream the cheaper of sObject Collections (200 records a request,
    outcomes in the answer) and one Bulk API 2.0 job (create, upload, close, then its three result
    files: 6 calls; its status polls are counted apart). MA: the write-back's bulk upserts, 1,000
    customers a call, per target (each target's write-back is its own step).
    """
    from connectors.kintone_batches import MAX_BULK, MAX_WRITE
    from connectors.salesforce import COLLECTION_SIZE
    from connectors.satori import BULK_LIMIT

    def calls(rows: int, size: int) -> int:
        return -(-rows // size)

    return {
        "kintone": sum(calls(calls(n, MAX_WRITE), MAX_BULK) for n in written["kintone"].values()),
        "salesforce": sum(
            min(calls(n, COLLECTION_SIZE), BULK_JOB_CALLS) for n in written["salesforce"].values()
        ),
        "satori": sum(calls(n, BULK_LIMIT) for n in written["satori"].values()),
    }


BULK_JOB_CALLS = 6  # create, upload, close, successfulResults, failedResults, unprocessedrecords
BULK_RESULT = re.compile(r"/jobs/ingest/[^/]+/(successfulResults|failedResults|unprocessedRecords)/?$", re.I)
BULK_POLL = re.compile(r"/jobs/ingest/[^/]+/?$")


def issued_writes(calls: Calls) -> dict[str, int]:
    """The calls each stand-in answered that write rows or return their outcomes (a cursor, a query
    job or a login is a read even when it is a POST; a Bulk job's status polls are counted apart)."""

    def kintone(method: str, path: str) -> bool:
        # the email guard's long queries go as POST + X-HTTP-Method-Override to records.json: none on a
        # first sync (the app is empty), so records.json POSTs are counted as writes here
        return path.endswith("bulkRequest.json") or (path.endswith("/records.json") and method != "GET")

    def salesforce(method: str, path: str) -> bool:
        if method == "GET":
            return bool(BULK_RESULT.search(path))
        return "/services/data/" in path and "/jobs/query" not in path

    return {
        "kintone": sum(kintone(m, p) for m, p in calls["kintone"]),
        "salesforce": sum(salesforce(m, p) for m, p in calls["salesforce"]),
        "satori": sum(p.endswith("/customers/bulk-upsert") for _, p in calls["satori"]),
    }


def bulk_polls(calls: Calls) -> int:
    """The status polls of Salesforce's Bulk 2.0 ingest jobs (their number follows the service's pace)."""
    return sum(m == "GET" and bool(BULK_POLL.search(p)) for m, p in calls["salesforce"])


def run_sync(spec: Path, env: dict[str, str]) -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(spec)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"the sync failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--actions", type=int, default=100_000)
    parser.add_argument("--cards", type=int, default=3_000)
    parser.add_argument("--per-record-ms", type=float, default=1.0, help="service time a record written")
    parser.add_argument("--no-latency", action="store_true", help="loopback only (0 ms everywhere)")
    parser.add_argument(
        "--no-change-runs", type=int, default=5, help="no-change runs in each world, taken in turns"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.child)
        return

    from connectors.satori import SatoriClient
    from sandbox.demo_env import MA_TOKEN, DemoEnvironment, DemoPorts, DemoSizes
    from schemas import clock

    folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    sizes = DemoSizes(options.customers, options.actions, options.cards)
    started = time.perf_counter()
    with DemoEnvironment(folder / "world", sizes, ports=DemoPorts.free()) as world:
        seeded = time.perf_counter() - started
        with DemoEnvironment(folder / "empty", DemoSizes(0, 0, 0), ports=DemoPorts.free()) as nothing:
            full, empty = (
                Side(world, folder / "world-run", options),
                Side(nothing, folder / "empty-run", options),
            )
            full.step("first full sync")
            empty.step("empty world: first sync")
            for run in range(1, options.no_change_runs + 1):  # in turns: a busy spell hits both alike
                full.step(f"no change ({run})")
                empty.step(f"empty world: no change ({run})")
        with SatoriClient(world.servers["satori"].url, MA_TOKEN) as ma:
            customers = [c for page in ma.iter_search([], order="customer_id") for c in page]
            changed = customers[::100]
            ma.bulk_upsert(
                [
                    {"email": c["email"], "lead_company_name": f"{c['lead_company_name'] or ''}改"}
                    for c in changed
                    if c.get("email")
                ]
            )
        offset = str(int(timedelta(hours=12).total_seconds()))  # past the next cut, for both sides
        os.environ[clock.OFFSET_ENV] = full.env[clock.OFFSET_ENV] = offset
        try:
            full.step(f"1% changed ({len(changed)} customers)")
        finally:
            os.environ.pop(clock.OFFSET_ENV, None)
    results = [r for side in (full, empty) for r in side.results]
    print(table(options, sizes, seeded, results))
    print(no_change_line(full, empty))
    kinds = {t["name"]: t["kind"] for t in full.document["targets"]}
    print(ratio_table(full.results[0][1]["loaded"], kinds, full.first))


Result = tuple[str, dict[str, Any], dict[str, tuple[int, int]]]


class Side:
    """One world under test: its spec, Prefect home, and the syncs run against it."""

    def __init__(self, world: Any, folder: Path, options: argparse.Namespace):
        from sandbox.common import Latency

        self.world = world
        for name, server in world.servers.items():
            ms = 0.0 if options.no_latency else LATENCY[name]
            server.app.state.latency = Latency(ms, ms / 10, options.per_record_ms if ms else 0.0, seed=1)
        folder.mkdir(parents=True)
        self.spec = folder / "spec.yaml"
        self.document = world.spec_document(DEMO_SPEC)
        self.spec.write_text(yaml.safe_dump(self.document, allow_unicode=True), encoding="utf-8")
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(folder / "prefect"),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",  # a busy shared machine
        }
        self.results: list[Result] = []
        self.first: Calls = {}

    def step(self, label: str) -> None:
        servers = self.world.servers
        for server in servers.values():
            server.request_log.entries.clear()
        result = run_sync(self.spec, self.env)
        counts = {n: (len(s.request_log.entries), len(s.request_log.writes())) for n, s in servers.items()}
        self.results.append((label, result, counts))
        print(label, json.dumps(result, ensure_ascii=False), counts, flush=True)
        if not self.first:
            self.first.update(
                {n: [(e.method, e.path) for e in s.request_log.entries] for n, s in servers.items()}
            )

    def no_change_walls(self) -> list[float]:
        return [r["wall"] for label, r, _ in self.results if "no change" in label]


def no_change_line(full: Side, empty: Side) -> str:
    """The no-change sync flow's median wall time in each world, and their ratio."""
    mine, fixed = statistics.median(full.no_change_walls()), statistics.median(empty.no_change_walls())
    return (
        f"No change, median sync flow of {len(full.no_change_walls())} runs in turns: {mine:.1f} s, "
        f"against {fixed:.1f} s in the empty world: **{mine / fixed:.2f}×**\n"
    )


def table(options: argparse.Namespace, sizes: Any, seeded: float, results: list[Result]) -> str:
    latency = "0 ms" if options.no_latency else ", ".join(f"{n} {ms:g} ms" for n, ms in LATENCY.items())
    lines = [
        "## End-to-end sync",
        "",
        f"`.venv/bin/python bench/bench_sync.py --customers {sizes.customers} --actions {sizes.actions} "
        f"--cards {sizes.cards}{' --no-latency' if options.no_latency else ''}`: round trips {latency} "
        f"(±10%), {options.per_record_ms:g} ms a record written; world seeded in {seeded:.0f} s. "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| step | sync flow s | in the steps' bodies s | outside them | Prefect server start s | "
        "process s | peak RSS MiB | MA req (writes) | kintone req (writes) | Salesforce req (writes) | "
        "Sansan req | rows loaded | outcome |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|---|---:|---|",
    ]
    for label, r, counts in results:
        share = 1 - r["inside"] / r["wall"] if r["wall"] else 0.0
        cells = [f"{counts[n][0]} ({counts[n][1]})" for n in ("satori", "kintone", "salesforce")]
        lines.append(
            f"| {label} | {r['wall']:.1f} | {r['inside']:.1f} | {share:.0%} | {r['prefect_start']:.1f} | "
            f"{r['process']:.1f} | {r['rss_mib']:.0f} | {' | '.join(cells)} | {counts['sansan'][0]} | "
            f"{sum(r['loaded'].values()):,} | {r['outcome']} |"
        )
    return "\n".join(lines) + "\n"


def ratio_table(loaded: dict[str, int], kinds: dict[str, str], calls: Calls) -> str:
    """Calls issued ÷ the minimum, per service, on the first sync."""
    written = rows_written(loaded, kinds)
    least, issued = minimum_writes(written), issued_writes(calls)
    lines = [
        "First sync: calls that write rows or return their outcomes, issued ÷ the fewest the rows loaded "
        f"need (`minimum_writes`); Salesforce Bulk status polls apart: {bulk_polls(calls)}",
        "",
        "| service | rows loaded | minimum calls | issued | issued ÷ minimum |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in (("kintone", "kintone"), ("salesforce", "Salesforce"), ("satori", "MA (write-back)")):
        ratio = f"{issued[name] / least[name]:.2f}" if least[name] else "-"
        rows = sum(written[name].values())
        lines.append(f"| {label} | {rows:,} | {least[name]} | {issued[name]} | {ratio} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
