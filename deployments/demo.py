"""`renkei demo`: the trial environment, one full sync and a plan, in under a minute."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from deployments.serve import build_deployments, serve_specs
from deployments.server import local_server, recorded_locally
from flows.deployed import run_deployed
from flows.plan import plan
from flows.report import print_report
from flows.states import report_of
from flows.sync import sync
from sandbox.demo_env import DemoEnvironment
from schemas import clock
from schemas.validate import load_spec

DEMO_SPEC = Path("examples/demo.yaml")
DEMO_FOLDER = Path("var/demo")


def run_demo(console: Console, serve_port: int | None = None) -> int:
    """Start every stand-in, sync once (all targets, both ways), plan once, print where things are.

    The runs are recorded in var/prefect's database (or the local server when one is up); with
    ``serve_port`` the Prefect server with its UI then starts there and serves the deployments.
    """
    if serve_port is None:
        with recorded_locally():
            return _run_demo(console, None)
    with local_server(serve_port) as ui:
        console.print(f"Prefect UI: {ui}", highlight=False)
        return _run_demo(console, serve_port)


def _run_demo(console: Console, serve_port: int | None) -> int:
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
        for deployment in build_deployments(DEMO_SPEC):  # the demo's runs are listed under them
            deployment.apply()
        report = report_of(run_deployed(sync, str(DEMO_SPEC)))
        if report is None:
            console.print("the demo sync ended without a report: see its run in the Prefect UI")
            return 1
        print_report(report, console)
        planned = run_deployed(plan, str(DEMO_SPEC)).result()
        mails = len(env.mail.messages) if env.mail else 0
        console.print(f"staging:  {spec.storage.staging}")
        console.print(f"state:    {spec.storage.state}")
        console.print(f"plan:     {planned.changes} (summary {planned.summary})")
        console.print(f"mail:     {mails} message(s) captured in {DEMO_FOLDER / 'mail'}")
        console.print(f"done in {time.monotonic() - started:.0f} s")
        if serve_port is None:
            console.print("the runs in the Prefect UI: .venv/bin/renkei demo --serve", highlight=False)
        else:  # joins the server started above
            serve_specs([DEMO_SPEC], serve_port, lambda line: console.print(line, highlight=False))
    return 0 if report.outcome != "failed" else 1
