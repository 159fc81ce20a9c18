"""kintone export and import/upsert: renkei's client vs the official cli-kintone, same stand-in, same run.

    .venv/bin/python bench/bench_kintone.py --records 100000 --write-results

Import: one CSV of N customers upserted by メールアドレス into an empty copy of the demo 顧客 app.
Export: every record of that app read back and written to a CSV (renkei: cursor API; cli-kintone:
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
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from connectors.kintone import KintoneClient
from connectors.kintone_model import record_values
from sandbox.common import BackgroundServer
from sandbox.japanese import company, person
from sandbox.kintone.app import create_app
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


def timed(label: str, n: int, server: BackgroundServer, run: Callable[[], None]) -> tuple[float, int]:
    """Records/s of one step and how many API requests it made."""
    before = len(server.request_log.entries)
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    requests = len(server.request_log.entries) - before
    print(
        f"{label:<28} {n:>7} records in {seconds:7.1f} s = {n / seconds:8.0f} records/s, {requests} requests"
    )
    return n / seconds, requests


def renkei_import(url: str, token: str, app: int, source: Path) -> None:
    with source.open(encoding="utf-8") as rows, KintoneClient(url, api_tokens=[token]) as client:
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
        with contextlib.closing(client.iter_records_cursor(app, "order by $id asc", COLUMNS)) as records:
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--write-results", action="store_true", help="append the table to bench/RESULTS.md")
    options = parser.parse_args()
    if not (NODE_DIR / "node_modules" / ".bin" / "cli-kintone").exists():
        raise SystemExit(
            "install the official clients first: pytest tests/connectors/test_kintone_client_official.py"
        )
    n = options.records
    work = Path(tempfile.mkdtemp(prefix="bench-kintone-"))
    source = work / "customers.csv"
    write_customers(source, n)
    app = create_app(work / "data", "admin", "pw")
    store: Store = app.state.kintone.store
    ours, theirs = (build_app(store, name, customer_fields()) for name in ("顧客-renkei", "顧客-cli"))
    token_ours, token_theirs = store.issue_token(ours.id), store.issue_token(theirs.id)
    rates: dict[str, tuple[float, int]] = {}
    with BackgroundServer(app) as server:
        url = f"http://localhost:{server.port}"  # cli-kintone takes plain http only for "localhost"
        common = ["--base-url", url]
        rates["import renkei"] = timed(
            "import renkei (upsert)", n, server, lambda: renkei_import(url, token_ours, ours.id, source)
        )
        rates["import cli"] = timed(
            "import cli-kintone (upsert)",
            n,
            server,
            lambda: cli_kintone(
                "record",
                "import",
                *common,
                "--api-token",
                token_theirs,
                "--app",
                str(theirs.id),
                "--file-path",
                str(source),
                "--update-key",
                "メールアドレス",
            ),
        )
        if len(store.records[theirs.id]) != n or len(store.records[ours.id]) != n:
            raise SystemExit("an import did not load every row")
        rates["export renkei"] = timed(
            "export renkei (cursor)",
            n,
            server,
            lambda: renkei_export(url, token_ours, ours.id, work / "renkei.csv"),
        )
        os.environ["BENCH_EXPORT_TO"] = str(work / "cli.csv")
        rates["export cli"] = timed(
            "export cli-kintone",
            n,
            server,
            lambda: cli_kintone(
                "record", "export", *common, "--api-token", token_ours, "--app", str(ours.id)
            ),
        )
    lines = [
        "## kintone",
        "",
        f"`.venv/bin/python bench/bench_kintone.py --records {n} --write-results` — one stand-in, one run, "
        f"{n:,} customers; cli-kintone = npm @kintone/cli 1.19.2 (Node {node_version()}).",
        "",
        "| step | renkei records/s (requests) | cli-kintone records/s (requests) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for step in ("import", "export"):
        (ours_rate, ours_calls), (cli_rate, cli_calls) = rates[f"{step} renkei"], rates[f"{step} cli"]
        ratio = ours_rate / cli_rate
        lines.append(
            f"| {step} | {ours_rate:.0f} ({ours_calls}) | {cli_rate:.0f} ({cli_calls}) | {ratio:.2f}× |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    if options.write_results:
        append_results(table)


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
