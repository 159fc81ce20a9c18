"""The sync's Prefect tasks: each one step over a whole batch, retried only where it is idempotent."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.spec import Spec
from tasks.clients import ma_client, staging_area, state_store
from tasks.load import StreamReport
from tasks.public_ma import ma_customers
from tasks.redact import masked_failures
from tasks.retry import counted_attempts, retry_when_transient
from tasks.service_limits import calls_to
from tasks.sync_target import sync_inbound, sync_outbound
from tasks.targets import destination_for, source_for

# transient HTTP errors are retried inside the connectors; a step is retried once more as a whole,
# and only when what stopped it was transient (a target still down) — never a refused credential
STEP_RETRIES = 1
STEP_RETRY_DELAYS: list[float] = [30.0]


@task(
    name="load target",
    task_run_name="load {target_name}",
    cache_policy=NO_CACHE,
    retries=STEP_RETRIES,
    retry_delay_seconds=STEP_RETRY_DELAYS,
    retry_condition_fn=retry_when_transient,
)
@counted_attempts
@masked_failures
def load_target(
    spec: Spec, target_name: str, run_id: str, resend: list[str] | None = None
) -> list[StreamReport]:
    """Staged customers and action histories into one target (idempotent: upserts by natural key).

    ``resend``: cuts a backfill sends again although the target's watermark is past them.
    """
    target = spec.target(target_name)
    with calls_to(target):  # the shared cap covers every call of the step, the adapter's first ones too
        adapter = destination_for(spec, target)
        try:
            with ma_client(spec) as ma, state_store(spec) as state:
                staging = staging_area(spec)
                return sync_outbound(spec, target, adapter, ma, staging, state, run_id, resend or ())
        finally:
            adapter.close()


@task(
    name="write back",
    task_run_name="write back {target_name}",
    cache_policy=NO_CACHE,
    retries=STEP_RETRIES,
    retry_delay_seconds=STEP_RETRY_DELAYS,
    retry_condition_fn=retry_when_transient,
)
@counted_attempts
@masked_failures
def write_back_target(spec: Spec, target_name: str, run_id: str) -> StreamReport:
    """One target's changed Writable fields into the MA (idempotent: only differences are written)."""
    target = spec.target(target_name)
    with calls_to(target):
        adapter = source_for(spec, target)
        try:
            # the integration API, or (ma.access: public) the public API v4
            with ma_customers(spec) as ma, state_store(spec) as state:
                return sync_inbound(spec, target, adapter, ma, state, run_id)
        finally:
            adapter.close()
