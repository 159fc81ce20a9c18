"""`renkei serve SPEC`: the deployments of one company, served by this process (Prefect serve).

``sync`` runs on the spec's cuts (cron ``0 2,11 * * *`` in Asia/Tokyo by default); ``backfill``,
``plan``, ``replay`` and ``audit`` run on demand from the UI's form. Beyond one machine, the same
flows run from ``prefect.yaml`` on a work pool (see deployments/README.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from prefect import Flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.utilities.annotations import freeze

from deployments.server import DEFAULT_PORT, local_server
from flows.audit import audit
from flows.extract import backfill
from flows.plan import plan
from flows.replay import replay
from flows.sync import sync
from schemas.schedule import cron_for_cuts
from schemas.spec import Spec
from schemas.validate import load_spec


def _deployment(flow: Flow[..., Any], spec: Spec, spec_file: str, **options: Any) -> RunnerDeployment:
    """One deployment of ``spec_file`` (read-only in its UI form) whose form offers the spec's target
    names and days in the spec's zone."""
    fixed = {"spec_path": freeze(spec_file)}
    options = {
        "name": f"{spec.company}-{flow.name}",
        "parameters": fixed,
        "tags": ["renkei", spec.company],
    } | options
    deployment = cast(RunnerDeployment, flow.to_deployment(**options))
    form = deployment._parameter_openapi_schema.properties
    names = [t.name for t in spec.targets]
    for key, field in form.items():
        kept = {k: field[k] for k in ("title", "description", "position") if k in field}
        if key == "targets":
            form[key] = {
                **kept,
                "type": "array",
                "items": {"type": "string", "enum": names},
                "uniqueItems": True,
            }
        elif key == "target":
            form[key] = {**kept, "type": "string", "enum": names}
        elif key in ("start", "end"):
            form[key] = {**kept, "type": "string", "format": "date", "title": f"{key} ({spec.timezone})"}
    return deployment


def build_deployments(spec_path: str | Path) -> list[RunnerDeployment]:
    spec_file = str(Path(spec_path).resolve())
    spec = load_spec(spec_file)
    schedules = [Cron(expr, timezone=spec.timezone) for expr in cron_for_cuts(spec.cuts)]
    return [
        _deployment(
            sync,
            spec,
            spec_file,
            schedules=schedules,
            concurrency_limit=1,
            description=f"Twice-daily sync of {spec.company} at {', '.join(spec.cuts)} {spec.timezone}.",
        ),
        *(_deployment(f, spec, spec_file) for f in (backfill, plan, replay, audit)),
    ]


def serve_spec(spec_path: str | Path, port: int = DEFAULT_PORT, say: Callable[[str], None] = print) -> None:
    """Start (or join) the local Prefect server, print its UI URL, serve every deployment until Ctrl-C."""
    with local_server(port) as ui:
        say(f"Prefect UI: {ui}  (runs, deployments, the 02:00 / 11:00 schedule; Ctrl-C stops)")
        deployments = build_deployments(spec_path)
        say(f"deployments: {', '.join(d.name for d in deployments)}; run one now with "
            f"`PREFECT_API_URL={ui}/api .venv/bin/prefect deployment run 'sync/{deployments[0].name}'`"
            " or from the UI's Run button")  # fmt: skip
        serve(*deployments, print_starting_message=False)
