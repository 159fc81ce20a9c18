"""`renkei demo`: the trial environment, one full sync and a plan, in about a minute."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from flows.plan import plan
from flows.report import print_report
from flows.sync import sync
from sandbox.demo_env import DemoEnvironment
from schemas import clock
from schemas.validate import load_spec

DEMO_SPEC = Path("examples/demo.yaml")
DEMO_FOLDER = Path("var/demo")


def run_demo(console: Console, serve_after: bool = False) -> int:
    """Start every stand-in, sync once (all targets, both ways), plan once, print where things are."""
    started = time.monotonic()
    spec = load_spec(DEMO_SPEC)
    console.print(
        f"{DEMO_SPEC}: valid — company {spec.company}, targets: {', '.join(t.name for t in spec.targets)}"
    )
    if clock.moved():
        at = clock.now().astimezone(ZoneInfo(spec.timezone))
        console.print(f"時計 clock: {at:%Y-%m-%d %H:%M:%S %Z} (RENKEI_NOW / RENKEI_CLOCK_OFFSET)")
    with DemoEnvironment(DEMO_FOLDER) as env:
        console.print(
            "stand-ins up: MA :8701, kintone :8702, Salesforce :8703 (HTTPS), Sansan :8704, SMTP :8725"
        )
        report = sync(str(DEMO_SPEC))
        print_report(report, console)
        planned = plan(str(DEMO_SPEC))
        mails = len(env.mail.messages) if env.mail else 0
        console.print(f"staging:  {spec.storage.staging}")
        console.print(f"state:    {spec.storage.state}")
        console.print(f"plan:     {planned.changes} (summary {planned.summary})")
        console.print(f"mail:     {mails} message(s) captured in {DEMO_FOLDER / 'mail'}")
        console.print(f"done in {time.monotonic() - started:.0f} s")
        if serve_after:
            from deployments.serve import serve_spec

            serve_spec(DEMO_SPEC)
    return 0 if report.outcome != "failed" else 1
