"""`renkei resync`: send mapped fields to every linked record of one target now (tasks.resync)."""

from __future__ import annotations

from prefect import flow, runtime

from flows.lock import run_lock
from schemas import clock
from schemas.mapping import field_map
from schemas.validate import load_spec
from tasks.clients import ma_client, state_store
from tasks.load import StreamReport
from tasks.ma_catalog import run_spec
from tasks.resync import pending_resync, remember_mapping, resync_fields
from tasks.targets import destination_for


@flow(name="resync", log_prints=True)
def resync(spec_path: str, target: str, fields: list[str] | None = None) -> StreamReport | None:
    """Send ``fields`` (default: those whose mapping changed) to every record linked in ``target``.

    Args:
        spec_path: The integration spec (連携要件連絡書) on the machine that runs the flow.
        target: The target's name.
        fields: MA fields to send (e.g. address); empty: every field added or changed in the mapping.
    """
    spec = run_spec(load_spec(spec_path))[0]
    if spec.ma.access == "public":
        raise ValueError(
            "ma.access: public では再送に使う MA の検索がありません。"
            "全顧客の CSV エクスポートを ma.exports に置けば次の同期で新しい項目も送られます"
            " / ma.access: public cannot search the MA to resend a field: drop a full customer"
            " export in ma.exports and the next sync sends the new field with every customer"
        )
    chosen = spec.target(target)
    fmap = field_map(spec, chosen)
    state = state_store(spec)
    pending = pending_resync(state, fmap, chosen.kind, tuple(fields or ()))
    if pending is None:
        return None
    run_id = str(runtime.flow_run.get_id() or f"resync-{clock.now().strftime('%Y%m%dT%H%M%S%f')}")
    with run_lock(state, "resync", run_id):
        adapter = destination_for(spec, chosen)
        try:
            with ma_client(spec) as ma:
                report = resync_fields(adapter, fmap, pending.fields, ma, state, run_id)
        finally:
            adapter.close()
        if not report.deferred:
            remember_mapping(state, fmap)
    return report
