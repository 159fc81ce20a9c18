"""`renkei replay`: push quarantined rows through again after a fix, or dismiss them (audited)."""

from __future__ import annotations

import uuid
from typing import Any

from prefect import flow, get_run_logger, runtime
from prefect.client.schemas.objects import State

from connectors.state import StateStore
from flows.lock import RunLocked, run_lock
from flows.names import timed
from flows.states import refused_state
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.clients import state_store
from tasks.public_ma import ma_customers
from tasks.replay import ReplayResult, dismiss_rows, replay_rows
from tasks.targets import adapter_for


@flow(name="replay", flow_run_name=timed("replay"), log_prints=True)
def replay(
    spec_path: str,
    target: str | None = None,
    rule: str | None = None,
    dismiss: bool = False,
    note: str | None = None,
) -> ReplayResult | State[Any]:
    """Retry the open quarantined rows (of one target / one rule code), or dismiss them with a note.

    Args:
        spec_path: The integration spec (連携要件連絡書) on the machine that runs the flow.
        target: Only rows of this target name; all targets when empty.
        rule: Only rows rejected with this code (e.g. CB_VA01, REQUIRED_FIELD_MISSING).
        dismiss: Close the rows (nobody will fix them) instead of retrying them.
        note: Why they are dismissed; kept with each row.
    """
    spec = load_spec(spec_path)
    state = state_store(spec)
    run_id = str(runtime.flow_run.get_id() or f"replay-{uuid.uuid4().hex}")
    try:
        with run_lock(state, "replay", run_id):
            return _replay(spec, state, run_id, target, rule, dismiss, note)
    except RunLocked as exc:  # Skipped, not failed: the holder is named, nothing changed
        get_run_logger().warning("%s", exc)
        return refused_state(exc)


def _replay(
    spec: Spec,
    state: StateStore,
    run_id: str,
    target: str | None,
    rule: str | None,
    dismiss: bool,
    note: str | None,
) -> ReplayResult:
    result = ReplayResult()
    for chosen in (t for t in spec.targets if target is None or t.name == target):
        rows = state.quarantined(chosen.name, rule)
        if not rows:
            continue
        if dismiss:
            result.dismissed += dismiss_rows(state, rows, note)
            continue
        adapter = adapter_for(spec, chosen)
        try:
            with ma_customers(spec) as ma:  # the integration API, or v4 and the exports (public)
                done = replay_rows(spec, chosen, adapter, ma, state, rows, run_id)
        finally:
            adapter.close()
        result.replayed += done.replayed
        result.still_rejected += done.still_rejected
        result.counts.update({f"{chosen.name} {k}": v for k, v in done.counts.items()})
    return result
