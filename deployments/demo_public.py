"""The demo's second half: the same stand-ins reached as an MA user without the Data Integration Option.

The MA stand-in's admin screen exports its customers (CP932, Japanese headers) into
``ma.exports`` of ``examples/public.yaml``; one sync then reads that file and writes only through
the public API v4 (the Sansan import and kintone's write-back).
"""

from __future__ import annotations

from pathlib import Path

import httpx
from rich.console import Console

from flows.report import print_report
from flows.sync import sync_report
from sandbox.demo_env import MA_TOKEN, DemoEnvironment
from schemas.validate import load_spec

PUBLIC_SPEC = Path("examples/public.yaml")


def run_public_demo(env: DemoEnvironment, console: Console, spec_path: Path) -> str:
    """Drop the admin screen's export where the public spec (``examples/public.yaml`` pointed at
    this environment) looks, sync once; the run's outcome."""
    spec = load_spec(spec_path)
    folder = Path(str(spec.ma.exports)).parent
    folder.mkdir(parents=True, exist_ok=True)
    export = httpx.get(
        f"{env.servers['satori'].url}/_sandbox/admin/customers.csv",
        params={"encoding": "cp932"},
        headers={"Authorization": f"Bearer {MA_TOKEN}"},
    )
    export.raise_for_status()
    dropped = folder / "customers_admin_export.csv"
    dropped.write_bytes(export.content)
    console.print(
        f"{spec_path}: ma.access public — オプションなしの経路: 管理画面の顧客 CSV と公開 API v4 /"
        f" without the option: reads the admin screen's customer export ({dropped}), writes through v4"
    )
    report = sync_report(str(spec_path))
    print_report(report, console)
    console.print(f"archived: {Path(spec.ma.exports_archive or folder / 'archive')}")
    return report.outcome
