"""Extraction of one cut's email history: renkei vs dlt's rest_api source vs the raw pyarrow limit.

Each contender runs in its own process (peak RSS is that process's own), against the same MA
stand-in, which runs in a separate process and serves the cut's CSV file (made once, as the vendor
generates cuts). Usage:

    .venv/bin/python bench/bench_extract.py --rows 1000000 10000000 --dlt-rows 1000000 --record
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import httpx

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TOKEN = "bench-token"
COMPANY = "bench"
CUT = "20261128T0200+0900"
CUT_AT = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # 02:00 JST
WINDOW_START = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # the 11:00 JST cut before it
ENV = {
    **os.environ,
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}

RENKEI = """
import sys, time
from connectors.satori import SatoriClient
from connectors.staging import StagingArea
from schemas.staging import ACTION_SCHEMA
url, token, cut, out = sys.argv[1:5]
started = time.perf_counter()
with SatoriClient(url, token) as ma:
    stats = StagingArea(out).write_csv_stream("actions/email.parquet", ACTION_SCHEMA, ma.stream_actions_csv(cut, "email"))
print(stats.rows, time.perf_counter() - started)
"""

DLT = """
import sys, time
import dlt
from dlt.sources.rest_api import rest_api_source
url, token, cut, out = sys.argv[1:5]
source = rest_api_source({
    "client": {"base_url": url + "/api/integration/v1/", "auth": {"type": "bearer", "token": token}},
    "resources": [{
        "name": "email_actions",
        "endpoint": {
            "path": f"cuts/{cut}/actions/email",
            "params": {"page_size": 5000},
            "data_selector": "actions",
            "paginator": {"type": "cursor", "cursor_path": "next_page_token", "cursor_param": "page_token"},
        },
    }],
})
pipeline = dlt.pipeline("bench_extract", destination=dlt.destinations.filesystem(out), dataset_name="staging",
                        pipelines_dir=out + "/.dlt")
started = time.perf_counter()
info = pipeline.run(source, loader_file_format="parquet")
rows = pipeline.last_trace.last_normalize_info.row_counts.get("email_actions", 0)
print(rows, time.perf_counter() - started)
"""

RAW = """
import sys, time
import pyarrow.csv as pacsv, pyarrow.parquet as pq
from schemas.staging import ACTION_SCHEMA
source, out = sys.argv[1:3]
started = time.perf_counter()
reader = pacsv.open_csv(source, read_options=pacsv.ReadOptions(block_size=4 << 20),
    convert_options=pacsv.ConvertOptions(column_types={f.name: f.type for f in ACTION_SCHEMA}, strings_can_be_null=True))
rows = 0
with pq.ParquetWriter(out, ACTION_SCHEMA, compression="zstd") as writer:
    for batch in reader:
        writer.write_batch(batch.cast(ACTION_SCHEMA))
        rows += batch.num_rows
print(rows, time.perf_counter() - started)
"""


def micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def build_ma(data: Path, rows: int) -> None:
    """10k customers through the seeder, then ``rows`` email actions recorded inside one cut."""
    subprocess.run(
        [str(Path(PYTHON).with_name("renkei")), "sandbox", "seed", "--data", str(data), "--customers", "10000", "--actions", "0",
         "--company", COMPANY, "--token", TOKEN],
        check=True, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    db = sqlite3.connect(data / "satori.db")
    db.execute("PRAGMA synchronous=OFF")
    masters = [
        r[0] for r in db.execute("SELECT id FROM masters WHERE company_id=? AND kind='email'", (COMPANY,))
    ]
    pks = [r[0] for r in db.execute("SELECT pk FROM customers WHERE company_id=?", (COMPANY,))]
    span = micros(CUT_AT) - micros(WINDOW_START) - 1
    start, cut_at = micros(WINDOW_START), micros(CUT_AT)
    events = ("sent", "opened", "clicked")
    chunk = 200_000
    for offset in range(0, rows, chunk):
        batch = [
            (COMPANY, "email", pks[i % len(pks)], masters[i % len(masters)], events[i % 3],
             start + (i * 7919) % span, start + (i * 7919) % span, cut_at,
             f"https://example.co.jp/lp/{i % 97}?utm_source=mail" if i % 3 == 2 else None)
            for i in range(offset, min(rows, offset + chunk))
        ]  # fmt: skip
        db.executemany(
            "INSERT INTO actions (company_id, kind, customer_pk, master_id, event_type, occurred_at, recorded_at,"
            " cut_at, url) VALUES (?,?,?,?,?,?,?,?,?)",
            batch,
        )
        db.commit()
    db.close()


def free_port() -> int:
    sys.path.insert(0, str(ROOT))
    from sandbox.common import free_port as pick

    return pick()


def measure(script: str, *args: str) -> tuple[int, float, float]:
    """Run ``script`` in its own process: (rows, seconds it reported, peak RSS in MiB)."""
    process = subprocess.Popen([PYTHON, "-c", script, *args], cwd=ROOT, env=ENV, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"benchmark process failed ({status}): {output}")
    rows, seconds = output.split()[-2:]
    return int(rows), float(seconds), usage.ru_maxrss / 1024


def run(rows: int, with_dlt: bool, work: Path) -> dict[str, object]:
    data = work / f"ma-{rows}"
    started = time.perf_counter()
    build_ma(data, rows)
    built = time.perf_counter() - started
    port = free_port()
    server = subprocess.Popen(
        [str(Path(PYTHON).with_name("renkei")), "sandbox", "satori", "--port", str(port), "--data", str(data), "--token", TOKEN,
         "--company", COMPANY],
        cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        httpx.put(
            url + "/_sandbox/clock", json={"now": "2026-11-28T09:00:00+09:00"}, headers=auth
        ).raise_for_status()
        started = time.perf_counter()
        with httpx.stream(
            "GET", f"{url}/api/integration/v1/cuts/{CUT}/actions/email.csv", headers=auth, timeout=None
        ) as r:
            for _ in r.iter_bytes():
                pass
        generated = time.perf_counter() - started
        csv_file = data / "cuts" / COMPANY / CUT / "actions_email.csv"
        result: dict[str, object] = {"rows": rows, "ma_build_s": built, "cut_file_s": generated,
                                     "csv_mib": csv_file.stat().st_size / 2**20}  # fmt: skip
        result["renkei"] = measure(RENKEI, url, TOKEN, CUT, str(work / f"renkei-{rows}"))
        result["raw"] = measure(RAW, str(csv_file), str(work / f"raw-{rows}.parquet"))
        if with_dlt:
            result["dlt"] = measure(DLT, url, TOKEN, CUT, str(work / f"dlt-{rows}"))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)
    return result


def report(results: list[dict[str, object]], command: str) -> str:
    lines = [
        "## Extract and stage (one cut's email history)",
        "",
        f"Command: `{command}` (machine: {platform.machine()}, {os.cpu_count()} cores; each contender in its own",
        "process against the same MA stand-in process on 127.0.0.1; peak RSS is the contender's own).",
        "",
        "| rows | contender | seconds | rows/s | peak RSS MiB | vs renkei |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        renkei_rate = 0.0
        for name in ("renkei", "dlt", "raw"):
            if name not in result:
                continue
            rows, seconds, rss = cast("tuple[int, float, float]", result[name])  # what measure() gave
            rate = rows / seconds
            renkei_rate = rate if name == "renkei" else renkei_rate
            ratio = "1.00" if name == "renkei" else f"renkei = {renkei_rate / rate:.2f}×"
            lines.append(f"| {rows:,} | {name} | {seconds:.1f} | {rate:,.0f} | {rss:,.0f} | {ratio} |")
        lines.append(
            f"| {result['rows']:,} | (MA cut file made once: {result['cut_file_s']:.1f} s, {result['csv_mib']:.0f} MiB CSV) | | | | |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument(
        "--dlt-rows", type=int, nargs="*", default=[1_000_000], help="sizes that also run dlt"
    )
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="renkei-bench-") as folder:
        results = [run(rows, rows in args.dlt_rows, Path(folder)) for rows in args.rows]
    print(json.dumps(results, indent=2))
    table = report(results, "python bench/bench_extract.py " + " ".join(sys.argv[1:]))
    print(table)
    if args.record:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as out:
            out.write("\n" + table)


if __name__ == "__main__":
    main()
