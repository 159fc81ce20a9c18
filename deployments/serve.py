"""`renkei serve SPEC`: the deployments of one company, served by this process (Prefect serve).

``sync`` runs on the spec's cuts (cron ``0 2,11 * * *`` in Asia/Tokyo by default); ``backfill``,
``plan``, ``replay`` and ``audit`` run on demand from the UI's form. Beyond one machine, the same
flows run from ``prefect.yaml`` on a work pool (see deployments/README.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from prefect import Flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.audit import audit
from flows.extract import backfill
from flows.plan import plan
from flows.replay import replay
from flows.sync import sync
from schemas.schedule import cron_for_cuts
from schemas.validate import load_spec


def _deployment(flow: Flow[..., Any], **options: Any) -> RunnerDeployment:
    return cast(RunnerDeployment, flow.to_deployment(**options))


def build_deployments(spec_path: str | Path) -> list[RunnerDeployment]:
    spec_file = str(Path(spec_path).resolve())
    spec = load_spec(spec_file)
    tags = ["renkei", spec.company]
    fixed = {"spec_path": spec_file}
    schedules = [Cron(expr, timezone=spec.timezone) for expr in cron_for_cuts(spec.cuts)]
    return [
        _deployment(
            sync,
            name=f"{spec.company}-sync",
            schedules=schedules,
            parameters=fixed,
            concurrency_limit=1,
            tags=tags,
            description=f"Twice-daily sync of {spec.company} at {', '.join(spec.cuts)} {spec.timezone}.",
        ),
        _deployment(backfill, name=f"{spec.company}-backfill", parameters=fixed, tags=tags),
        _deployment(plan, name=f"{spec.company}-plan", parameters=fixed, tags=tags),
        _deployment(replay, name=f"{spec.company}-replay", parameters=fixed, tags=tags),
        _deployment(audit, name=f"{spec.company}-audit", parameters=fixed, tags=tags),
    ]


def serve_spec(spec_path: str | Path) -> None:
    """Serve every deployment until interrupted (Ctrl-C pauses them, as Prefect's serve does)."""
    serve(*build_deployments(spec_path))
