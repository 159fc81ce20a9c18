"""`renkei deploy SPEC…`: every company's five deployments on a work pool, from ``prefect.yaml``.

For each spec (a file, or every ``*.yaml`` of a folder) this runs ``prefect deploy --prefect-file
deployments/prefect.yaml --all`` from the folder that holds ``flows/`` (where process workers find the
entrypoints), with ``RENKEI_SPEC`` and ``RENKEI_COMPANY`` taken from the spec, so each company's
deployments carry its name (``acme-sync``…); then it creates the shared limits of its targets' services.
The server is the one ``PREFECT_API_URL`` names.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from deployments.serve import company_specs
from deployments.server import QUIET, prefect_command
from schemas.service_limits import service_caps
from tasks.service_limits import ensure_limits

PREFECT_FILE = Path(__file__).with_name("prefect.yaml")
ROOT = PREFECT_FILE.parents[1]  # entrypoints (flows/sync.py:sync) are relative to it
FLOWS = ("sync", "backfill", "plan", "replay", "audit")


class DeployError(RuntimeError):
    """`prefect deploy` refused a company's deployments; the message holds its output."""


def deploy_specs(paths: Sequence[str | Path], say: Callable[[str], None] = print) -> list[str]:
    """Deploy every company of ``paths``; return the deployment names created or updated."""
    companies = company_specs(paths)
    names: list[str] = []
    for file, spec in companies.items():
        env = {**os.environ, **QUIET, "RENKEI_SPEC": str(file.resolve()), "RENKEI_COMPANY": spec.company}
        command = [*prefect_command(), "deploy", "--prefect-file", str(PREFECT_FILE), "--all"]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            output = done.stdout[-3000:] + done.stderr[-3000:]
            raise DeployError(f"prefect deploy ({spec.company}, {file}):\n{output}")
        created = [f"{spec.company}-{flow}" for flow in FLOWS]
        say(f"{spec.company}: {', '.join(created)}")
        names += created
    limits = ensure_limits(service_caps(companies.values()))
    if limits:
        say(f"shared limits: {', '.join(f'{name} ({size})' for name, size in limits.items())}")
    return names
