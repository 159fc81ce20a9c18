"""The sync's Prefect tasks: each one step over a whole batch, retried only where it is idempotent."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.spec import Spec
from tasks.clients import ma_client, staging_area, state_store
from tasks.load import StreamReport
from tasks.sync_target import sync_inbound, sync_outbound
from tasks.targets import adapter_for

# transient HTTP errors are retried inside the connectors; a step is retried once more as a whole
STEP_RETRIES = 1
STEP_RETRY_DELAYS: list[float] = [30.0]


@task(name="load target", cache_policy=NO_CACHE, retries=STEP_RETRIES, retry_delay_seconds=STEP_RETRY_DELAYS)
def load_target(spec: Spec, target_name: str, run_id: str) -> list[StreamReport]:
    """Staged customers and action histories into one target (idempotent: upserts by natural key)."""
    target = spec.target(target_name)
    adapter = adapter_for(spec, target)
    try:
        with ma_client(spec) as ma:
            return sync_outbound(spec, target, adapter, ma, staging_area(spec), state_store(spec), run_id)
    finally:
        adapter.close()


@task(name="write back", cache_policy=NO_CACHE, retries=STEP_RETRIES, retry_delay_seconds=STEP_RETRY_DELAYS)
def write_back_target(spec: Spec, target_name: str, run_id: str) -> StreamReport:
    """One target's changed Writable fields into the MA (idempotent: only differences are written)."""
    target = spec.target(target_name)
    adapter = adapter_for(spec, target)
    try:
        with ma_client(spec) as ma:
            return sync_inbound(
                spec, target, adapter, ma, state_store(spec), run_id, create_missing=target.kind == "sansan"
            )
    finally:
        adapter.close()
