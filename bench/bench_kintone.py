"""kintone export and import/upsert: renkei's client vs the official cli-kintone, same stand-in, same run.

    .venv/bin/python bench/bench_kintone.py --records 100000 --write-results

Import: one CSV of N customers upserted by メールアドレス into an empty copy of the demo 顧客 app.
Export: every record of that app read back and written to a CSV (renkei: $id ranges read 4 at a time,
iter_records_spread, rows in no particular order; cli-kintone:
its own `record export`). cli-kintone is the npm package @kintone/cli pinned in tests/kintone_official.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from connectors.kintone import KintoneClient
from connectors.kintone_batches import MAX_BULK
from connectors.kintone_model import record_values
from sandbox.common import free_port
from sandbox.japanese import company, person
from sandbox.kintone.apps import build_app
from sandbox.kintone.demo_apps import customer_fields
from sandbox.kintone.store import Store

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "var" / "kintone_official"
COLUMNS = ["メールアドレス", "姓", "名", "姓かな", "名かな", "会社名", "電話番号", "スコア", "商談ステージ"]
STAGES = ("未接触", "アプローチ中", "商談中", "受注", "失注")


def write_customers(path: Path, n: int) -> None:
    """N deterministic Japanese customers as a UTF-8 CSV whose header is the field codes."""
    rng = random.Random(5)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(n):
            who = person(rng)
            firm = company(rng, i % 500)
            writer.writerow(
                [
                    f"bench{i}@example.jp",
                    who.last_name,
                    who.first_name,
                    who.last_name_reading,
                    who.first_name_reading,
                    firm.name,
                    f"03-{i // 10000:04d}-{i % 10000:04d}",
                    rng.randint(0, 100),
                    STAGES[i % len(STAGES)],
                ]
            )


def api_requests(url: str) -> int:
    return len(httpx.get(f"{url}/_sandbox/requests", timeout=60).json())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(label: str, n: int, url: str, pid: int, run: Callable[[], None]) -> Step:
    """Records/s of one step, how many API requests it made, and the stand-in's CPU time in it."""
    before, cpu_before = api_requests(url), cpu_seconds(pid)
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    step = Step(n / seconds, api_requests(url) - before, cpu_seconds(pid) - cpu_before, seconds)
    print(
        f"{label:<28} {n:>7} records in {seconds:7.1f} s = {step.rate:8.0f} records/s, "
        f"{step.requests} requests, stand-in CPU {step.standin_cpu:.1f} s"
    )
    return step


@dataclass(frozen=True)
class Step:
    rate: float
    requests: int
    standin_cpu: float
    seconds: float


@contextlib.contextmanager
def standin(data: Path) -> Iterator[tuple[str, int]]:
    """`renkei sandbox kintone` in its own process, as a user runs it (no GIL shared with either client)."""
    port = free_port()
    renkei = Path(sys.executable).with_name("renkei")
    command = [str(renkei), "sandbox", "kintone", "--port", str(port), "--data", str(data)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"  # cli-kintone takes plain http only for "localhost"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{url}/_sandbox/usage", timeout=5)
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("the kintone stand-in did not start")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def renkei_import(url: str, token: str, app: int, source: Path, requests_per_call: int) -> None:
    client = KintoneClient(url, api_tokens=[token], requests_per_call=requests_per_call)
    with source.open(encoding="utf-8") as rows, client:
        outcomes = client.upsert_records(app, "メールアドレス", [dict(r) for r in csv.DictReader(rows)])
    if not all(o.status.loaded for o in outcomes):
        raise SystemExit("renkei import did not load every row")


def renkei_export(url: str, token: str, app: int, target: Path) -> None:
    with (
        target.open("w", newline="", encoding="utf-8") as out,
        KintoneClient(url, api_tokens=[token]) as client,
    ):
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        with contextlib.closing(client.iter_records_spread(app, "", COLUMNS)) as records:
            for record in records:
                values = record_values(record)
                writer.writerow([values.get(c) for c in COLUMNS])


def cli_kintone(*args: str) -> None:
    binary = NODE_DIR / "node_modules" / ".bin" / "cli-kintone"
    done = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"cli-kintone failed: {done.stderr[-2000:]}")
    if args[1] == "export":
        Path(os.environ["BENCH_EXPORT_TO"]).write_text(done.stdout, encoding="utf-8")


IMPORTERS = ("renkei bulkRequest", "renkei PUT", "cli-kintone")


@dataclass(frozen=True)
class Setting:
    """The stand-in's latency for one part of the run: round trip and service time per record written."""

    latency_ms: float
    per_record_ms: float

    @property
    def label(self) -> str:
        return f"{self.latency_ms:g} ms + {self.per_record_ms:g} ms/record"

    def apply(self, url: str) -> None:
        body = {"round_trip_ms": self.latency_ms, "per_record_ms": self.per_record_ms}
        httpx.put(f"{url}/_sandbox/latency", json=body, timeout=30).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="import and export this many times; medians")
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 20.0, 80.0], help="round trips, ms")
    parser.add_argument(
        "--per-record-ms", type=float, default=1.0, help="service time per record written (at latency > 0)"
    )
    parser.add_argument("--write-results", action="store_true", help="append the table to bench/RESULTS.md")
    options = parser.parse_args()
    if not (NODE_DIR / "node_modules" / ".bin" / "cli-kintone").exists():
        raise SystemExit(
            "install the official clients first: pytest tests/connectors/test_kintone_client_official.py"
        )
    n, rounds = options.records, options.rounds
    settings = [Setting(ms, options.per_record_ms if ms else 0.0) for ms in options.latency]
    work = Path(tempfile.mkdtemp(prefix="bench-kintone-"))
    source = work / "customers.csv"
    write_customers(source, n)
    store = Store(work / "data" / "kintone.db")
    apps = {
        (setting, r): {name: new_app(store, f"顧客-{name}-{setting.label}-{r}") for name in IMPORTERS}
        for setting in settings
        for r in range(rounds)
    }
    store.close()
    steps: dict[tuple[Setting, str], list[Step]] = {}
    with standin(work / "data") as (url, pid):
        for setting in settings:
            setting.apply(url)
            for r in range(rounds):
                print(f"{setting.label}: round {r + 1} of {rounds}")
                for label, run in one_round(url, source, work, apps[(setting, r)]):
                    steps.setdefault((setting, label), []).append(timed(label, n, url, pid, run))
                    if label.startswith("import"):
                        expect_loaded(url, *apps[(setting, r)][label.removeprefix("import ")], n)
    table = results_table(n, rounds, settings, steps)
    print(table)
    if options.write_results:
        append_results(table)


def new_app(store: Store, name: str) -> tuple[int, str]:
    """An empty copy of the demo 顧客 app and an API token for it."""
    app = build_app(store, name, customer_fields())
    return app.id, store.issue_token(app.id)


def one_round(
    url: str, source: Path, work: Path, apps: dict[str, tuple[int, str]]
) -> list[tuple[str, Callable[[], None]]]:
    """Import into an empty app with each importer, then export the first with each client."""
    common = ["--base-url", url]
    theirs, token_theirs = apps["cli-kintone"]
    ours, token_ours = apps["renkei bulkRequest"]
    single, token_single = apps["renkei PUT"]
    cli_import = ["record", "import", *common, "--api-token", token_theirs, "--app", str(theirs)]
    os.environ["BENCH_EXPORT_TO"] = str(work / "cli.csv")
    return [
        ("import renkei bulkRequest", lambda: renkei_import(url, token_ours, ours, source, MAX_BULK)),
        ("import renkei PUT", lambda: renkei_import(url, token_single, single, source, 1)),
        (
            "import cli-kintone",
            lambda: cli_kintone(*cli_import, "--file-path", str(source), "--update-key", "メールアドレス"),
        ),
        ("export renkei", lambda: renkei_export(url, token_ours, ours, work / "renkei.csv")),
        (
            "export cli-kintone",
            lambda: cli_kintone("record", "export", *common, "--api-token", token_ours, "--app", str(ours)),
        ),
    ]


def expect_loaded(url: str, app: int, token: str, n: int) -> None:
    with KintoneClient(url, api_tokens=[token]) as check:
        if check.get_records(app, "limit 1", ["$id"], total_count=True).total_count != n:
            raise SystemExit("an import did not load every row")


def results_table(
    n: int, rounds: int, settings: list[Setting], steps: dict[tuple[Setting, str], list[Step]]
) -> str:
    """Per latency: medians over the rounds, and the ratio to cli-kintone of the medians and per round."""
    lines = [
        "| latency | step | client | records/s (requests, stand-in CPU s) | ÷ cli-kintone (median) | per round |",
        "|---|---|---|---:|---:|---|",
    ]
    for setting in settings:
        for step, clients in (("import", IMPORTERS), ("export", ("renkei", "cli-kintone"))):
            cli = steps[(setting, f"{step} cli-kintone")]
            for client in clients:
                runs = steps[(setting, f"{step} {client}")]
                mine = median(runs)
                per_round = ", ".join(f"{a.rate / b.rate:.2f}×" for a, b in zip(runs, cli, strict=True))
                lines.append(
                    f"| {setting.label} | {step} | {client} | {mine.rate:,.0f} ({mine.requests:,}, "
                    f"{mine.standin_cpu:.1f}) | **{mine.rate / median(cli).rate:.2f}×** | {per_round} |"
                )
    header = [
        "## kintone at 0 ms and at realistic latency",
        "",
        f"`.venv/bin/python bench/bench_kintone.py --records {n} --rounds {rounds} --latency "
        f"{' '.join(f'{s.latency_ms:g}' for s in settings)} --per-record-ms "
        f"{max(s.per_record_ms for s in settings):g}`: {n:,} customers, {rounds} round(s) per latency, one",
        "stand-in process (`renkei sandbox kintone`) for every client, latency set through",
        "`PUT /_sandbox/latency`; renkei = connectors.kintone (bulkRequest: 20 requests of 100 rows a call, or",
        f"PUT: 100 rows a request; 4 calls in flight); cli-kintone = npm @kintone/cli 1.19.2 (Node {node_version()}).",
        "",
    ]
    return "\n".join(header + lines) + "\n"


def median(runs: list[Step]) -> Step:
    return sorted(runs, key=lambda s: s.rate)[len(runs) // 2]


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


def append_results(section: str) -> None:
    """Append to bench/RESULTS.md, creating it with its header and the machine line when missing."""
    results = ROOT / "bench" / "RESULTS.md"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    header = f"# Benchmarks\n\nMachine: {machine}\n\n"
    with results.open("a", encoding="utf-8") as out:
        if out.tell() == 0:
            out.write(header)
        out.write("\n" + section)


if __name__ == "__main__":
    main()
