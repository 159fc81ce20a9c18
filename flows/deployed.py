"""Runs started from the CLI or the demo belong to their deployment, when the server has one.

The run is created from the deployment (``<company>-<flow>`` of the same spec file) and executed in
this process, so the UI lists it under that deployment beside the scheduled ones; without such a
deployment it is a plain flow run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.exceptions import ObjectNotFound
from prefect.flow_engine import run_flow

from schemas.validate import load_spec


def run_deployed(flow: Flow[..., Any], spec_path: str, **parameters: Any) -> State[Any]:
    """Run ``flow`` now, in this process, as a run of its deployment for ``spec_path`` if there is one."""
    company = load_spec(spec_path).company
    parameters = {"spec_path": spec_path, **parameters}
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(f"{flow.name}/{company}-{flow.name}")
        except ObjectNotFound:
            deployment = None
        same_spec = deployment is not None and _same_file(deployment.parameters.get("spec_path"), spec_path)
        if deployment is None or not same_spec:
            return cast("State[Any]", flow(**parameters, return_state=True))
        parameters["spec_path"] = deployment.parameters["spec_path"]  # the form's fixed value
        flow_run = client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
    return cast("State[Any]", run_flow(flow, flow_run=flow_run, parameters=parameters, return_type="state"))


def _same_file(deployed: object, spec_path: str) -> bool:
    return isinstance(deployed, str) and Path(deployed).resolve() == Path(spec_path).resolve()
