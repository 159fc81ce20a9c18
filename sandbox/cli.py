"""`renkei sandbox …`: each stand-in in the foreground, on 127.0.0.1 only."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer

from sandbox.kintone import CONCURRENCY_LIMIT

sandbox_app = typer.Typer(
    help="Run the local stand-ins (trial environment) of the MA, kintone, Salesforce and Sansan.",
    no_args_is_help=True,
)

PortOpt = typer.Option(..., "--port", help="Port on 127.0.0.1.")
DataOpt = typer.Option(Path("./var/sandbox"), "--data", help="Directory that holds the stand-in's data.")
FaultsOpt = typer.Option(0.0, "--faults", help="Share of requests (0–1) that get an injected fault.")
FaultSeedOpt = typer.Option(0, "--fault-seed", help="Seed of the fault sequence (runs are reproducible).")
FaultKindsOpt = typer.Option(
    None, "--fault-kinds", help="Comma-separated subset of 429,5xx,slow,timeout,reset (default: all)."
)
LatencyOpt = typer.Option(0.0, "--latency", min=0, help="Milliseconds added to every API request.")
JitterOpt = typer.Option(0.0, "--jitter", min=0, help="Up to this many milliseconds more or less, seeded.")
PerRecordOpt = typer.Option(
    0.0, "--per-record-ms", min=0, help="Milliseconds of service time per record a request writes."
)


def _conditions(
    faults: float,
    fault_seed: int,
    fault_kinds: str | None,
    latency: float,
    jitter: float,
    per_record_ms: float,
) -> dict[str, Any]:
    """The injected faults and latency of a stand-in (the servers are imported only when one starts)."""
    from sandbox.common import FaultConfig, Latency

    return {
        "faults": FaultConfig.from_options(faults, fault_seed, fault_kinds),
        "latency": Latency(latency, jitter, per_record_ms),
    }


@sandbox_app.command("satori")
def satori(
    port: int = PortOpt,
    data: Path = DataOpt,
    token: str = typer.Option("demo-token", "--token", help="Bearer token of the demo company."),
    company: str = typer.Option("demo", "--company", help="Company (MA account) the token belongs to."),
    public_key: str = typer.Option(
        "demo-public-key", "--public-key", help="The public API v4's company_secret of that company."
    ),
    faults: float = FaultsOpt,
    fault_seed: int = FaultSeedOpt,
    fault_kinds: str | None = FaultKindsOpt,
    latency: float = LatencyOpt,
    jitter: float = JitterOpt,
    per_record_ms: float = PerRecordOpt,
) -> None:
    """The MA (SATORI) integration API and public API v4.

    Example: renkei sandbox satori --port 8701 --data ./var/sandbox --token demo-token
    """
    from sandbox.satori.app import serve

    serve(
        port=port,
        data=data,
        token=token,
        company=company,
        public_key=public_key,
        **_conditions(faults, fault_seed, fault_kinds, latency, jitter, per_record_ms),
    )


@sandbox_app.command("kintone")
def kintone(
    port: int = PortOpt,
    data: Path = DataOpt,
    user: str = typer.Option("Administrator", "--user", help="Login name for password auth."),
    password: str = typer.Option("renkei-demo", "--password", help="Password for password auth."),
    concurrency_limit: int = typer.Option(
        CONCURRENCY_LIMIT,
        "--concurrency-limit",
        min=1,
        help="API requests in progress at once before a 429 (GAIA_TO04).",
    ),
    faults: float = FaultsOpt,
    fault_seed: int = FaultSeedOpt,
    fault_kinds: str | None = FaultKindsOpt,
    latency: float = LatencyOpt,
    jitter: float = JitterOpt,
    per_record_ms: float = PerRecordOpt,
) -> None:
    """kintone's REST API (/k/v1/ and guest spaces).

    Example: renkei sandbox kintone --port 8702 --data ./var/sandbox --user admin --password secret
    """
    from sandbox.kintone.app import serve

    serve(
        port=port,
        data=data,
        user=user,
        password=password,
        **_conditions(faults, fault_seed, fault_kinds, latency, jitter, per_record_ms),
        concurrency_limit=concurrency_limit,
    )


@sandbox_app.command("salesforce")
def salesforce(
    port: int = PortOpt,
    data: Path = DataOpt,
    username: str = typer.Option("admin@renkei.example.com", "--username", help="OAuth user name."),
    password: str = typer.Option("renkei-demo", "--password", help="OAuth password."),
    client_id: str = typer.Option("renkei-client", "--client-id", help="Connected app consumer key."),
    client_secret: str = typer.Option("renkei-secret", "--client-secret", help="Connected app secret."),
    daily_limit: int = typer.Option(100_000, "--daily-limit", help="Daily API request allocation."),
    faults: float = FaultsOpt,
    fault_seed: int = FaultSeedOpt,
    fault_kinds: str | None = FaultKindsOpt,
    latency: float = LatencyOpt,
    jitter: float = JitterOpt,
    per_record_ms: float = PerRecordOpt,
) -> None:
    """Salesforce over HTTPS: OAuth, REST, SOQL, Collections and Bulk API 2.0.

    Example: renkei sandbox salesforce --port 8703 --data ./var/sandbox
    """
    from sandbox.salesforce.app import serve

    serve(
        port=port,
        data=data,
        username=username,
        password=password,
        client_id=client_id,
        client_secret=client_secret,
        daily_limit=daily_limit,
        **_conditions(faults, fault_seed, fault_kinds, latency, jitter, per_record_ms),
    )


@sandbox_app.command("sansan")
def sansan(
    port: int = PortOpt,
    data: Path = DataOpt,
    api_key: str = typer.Option("renkeidemo0000000000000000000000", "--api-key", help="X-Sansan-Api-Key."),
    faults: float = FaultsOpt,
    fault_seed: int = FaultSeedOpt,
    fault_kinds: str | None = FaultKindsOpt,
    latency: float = LatencyOpt,
    jitter: float = JitterOpt,
    per_record_ms: float = PerRecordOpt,
) -> None:
    """Sansan's business-card Open API.

    Example: renkei sandbox sansan --port 8704 --data ./var/sandbox
    """
    from sandbox.sansan.app import serve

    serve(
        port=port,
        data=data,
        api_key=api_key,
        **_conditions(faults, fault_seed, fault_kinds, latency, jitter, per_record_ms),
    )


STAND_INS = ("satori", "kintone", "salesforce", "sansan")  # `all` serves them on PORT, PORT+1, …


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@sandbox_app.command("all")
def all_stand_ins(
    port: int = PortOpt,
    data: Path = DataOpt,
    faults: float = FaultsOpt,
    fault_seed: int = FaultSeedOpt,
    fault_kinds: str | None = FaultKindsOpt,
    latency: float = LatencyOpt,
    jitter: float = JitterOpt,
    per_record_ms: float = PerRecordOpt,
) -> None:
    """Every stand-in with its default credentials, each in its own process, until interrupted:
    the MA on PORT, kintone on PORT+1, Salesforce (HTTPS) on PORT+2, Sansan on PORT+3, each keeping
    its data in DATA/<name>.

    Example: renkei sandbox all --port 8701 --data ./var/sandbox
    """
    signal.signal(signal.SIGTERM, _interrupt)  # a terminated `all` stops its stand-ins too
    shared = ["--faults", str(faults), "--fault-seed", str(fault_seed)]
    shared += ["--fault-kinds", fault_kinds] if fault_kinds else []
    shared += ["--latency", str(latency), "--jitter", str(jitter), "--per-record-ms", str(per_record_ms)]
    command = [sys.executable, "-m", "deployments.cli", "sandbox"]
    children = [
        subprocess.Popen([*command, name, "--port", str(port + i), "--data", str(data / name), *shared])
        for i, name in enumerate(STAND_INS)
    ]
    typer.echo(", ".join(f"{name} :{port + i}" for i, name in enumerate(STAND_INS)) + " — Ctrl-C stops them")
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)
    stopped = (0, -signal.SIGTERM)
    failed = [n for n, child in zip(STAND_INS, children, strict=True) if child.returncode not in stopped]
    if failed:
        typer.echo(f"stopped: {', '.join(failed)} exited on its own", err=True)
        raise typer.Exit(1)


@sandbox_app.command("seed")
def seed(
    data: Path = DataOpt,
    customers: int = typer.Option(10_000, "--customers", min=0, help="Number of customers."),
    actions: int = typer.Option(100_000, "--actions", min=0, help="Number of action events."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed always gives the same data."),
    company: str = typer.Option("demo", "--company", help="Company (MA account) to (re)fill."),
    token: str = typer.Option("demo-token", "--token", help="Bearer token of that company."),
) -> None:
    """Fill the MA stand-in with deterministic Japanese B2B sample data (replaces the company's data).

    Example: renkei sandbox seed --data ./var/sandbox --customers 1000000 --actions 10000000
    """
    from rich.progress import Progress

    from sandbox.satori.seed import seed as run_seed

    with Progress() as progress:
        bars = {
            "customers": progress.add_task("customers", total=customers),
            "actions": progress.add_task("actions", total=actions),
        }
        summary = run_seed(
            data,
            customers,
            actions,
            seed=seed,
            company=company,
            token=token,
            progress=lambda stage, done: progress.update(bars[stage], completed=done),
        )
    timings = ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in summary.seconds.items())
    typer.echo(f"seeded {summary.customers} customers and {summary.actions} actions for {company}: {timings}")
