"""`renkei serve SPEC…`: the deployments of one company or several, served by this process (Prefect serve).

Each spec (a file, or every ``*.yaml`` of a folder) gives its company five deployments named after it
(``acme-sync``, ``acme-backfill``…): ``sync`` runs on the spec's cuts (cron ``0 2,11 * * *`` in
Asia/Tokyo by default), one at a time per company; ``backfill``, ``plan``, ``replay`` and ``audit``
run on demand from the UI's form. The caps shared by every company on one service (kintone's 100
concurrent calls per domain) become Prefect global concurrency limits (tasks/service_limits.py).
Beyond one machine, the same flows run from ``prefect.yaml`` on a work pool (see deployments/README.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from schemas.service_limits import service_caps
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.service_limits import ensure_limits

SPEC_SUFFIXES = (".yaml", ".yml")


class SpecsError(ValueError):
    """The paths given to serve name no spec, or two specs of one company."""


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


def build_deployments(spec_path: str | Path, spec: Spec | None = None) -> list[RunnerDeployment]:
    """The company's five deployments (``spec``: the file's spec, when it was read already)."""
    spec_file = str(Path(spec_path).resolve())
    spec = spec or load_spec(spec_file)
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


def spec_files(paths: Sequence[str | Path]) -> list[Path]:
    """The spec files named: a file as it is, a folder as its ``*.yaml``/``*.yml`` files (sorted)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
        else:
            files.append(path)
    if not files:
        raise SpecsError(f"no spec (*.yaml) in {', '.join(map(str, paths))}")
    return files


def company_specs(paths: Sequence[str | Path]) -> dict[Path, Spec]:
    """Each spec file with its spec; two specs of one company are refused (their deployments would clash)."""
    found: dict[Path, Spec] = {}
    for file in spec_files(paths):
        spec = load_spec(file)
        twin = next((other for other, seen in found.items() if seen.company == spec.company), None)
        if twin is not None:
            raise SpecsError(f"company {spec.company!r} is in both {twin} and {file}: keep one")
        found[file] = spec
    return found


def serve_specs(
    paths: Sequence[str | Path], port: int = DEFAULT_PORT, say: Callable[[str], None] = print
) -> None:
    """Start (or join) the local Prefect server, print its UI URL, create the shared limits and serve
    every company's deployments until Ctrl-C."""
    companies = company_specs(paths)
    with local_server(port) as ui:
        say(f"Prefect UI: {ui}  (runs, deployments, the 02:00 / 11:00 schedule; Ctrl-C stops)")
        deployments = [d for file, spec in companies.items() for d in build_deployments(file, spec)]
        limits = ensure_limits(service_caps(companies.values()))
        names = ", ".join(spec.company for spec in companies.values())
        say(f"companies: {names}; deployments: {', '.join(d.name for d in deployments)}")
        if limits:
            say(f"shared limits: {', '.join(f'{name} ({size})' for name, size in limits.items())}")
        say(f"run one now with `PREFECT_API_URL={ui}/api .venv/bin/prefect deployment run "
            f"'sync/{deployments[0].name}'` or from the UI's Run button")  # fmt: skip
        serve(*deployments, print_starting_message=False)
