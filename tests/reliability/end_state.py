"""The end state the soak and crash tests demand: nothing lost, nothing duplicated, counts that add up.

Read back over the real APIs (faults off): every MA customer is in each outbound target once with the
spec's readable fields equal to the MA's (or quarantined for that target), every action of every
staged cut is there once by event id (or quarantined), the MA holds what the targets wrote, no email
or event id appears twice anywhere, and every run's every stream balances in the ledger.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from schemas.actions import action_fields
from schemas.email import normalise_email
from schemas.mapping import field_map, flatten_customer, outbound_record
from schemas.staging import action_file, cut_path
from schemas.targets import SalesforceSettings
from tasks.clients import staging_area, state_store
from tasks.sync_target import staged_cuts
from tasks.targets.kintone import KintoneTarget
from tasks.targets.salesforce import SalesforceTarget
from tests.reliability.soak_world import KINTONE, SALESFORCE, World


@dataclass
class Findings:
    """What the check found: problems (must be empty) and the figures for docs/RELIABILITY.md."""

    problems: list[str] = field(default_factory=list)
    customers: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    duplicated: int = 0
    runs: int = 0

    def lose(self, message: str) -> None:
        self.lost += 1
        self.problems.append(f"lost: {message}")

    def duplicate(self, message: str) -> None:
        self.duplicated += 1
        self.problems.append(f"duplicated: {message}")


def _norm(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _dupes(values: list[str], where: str, found: Findings) -> None:
    for value, n in Counter(values).items():
        if n > 1:
            found.duplicate(f"{where}: {value} ×{n}")


def check_end_state(world: World) -> Findings:
    """Every assertion of the soak and the crash test, collected so one failure shows them all."""
    found = Findings()
    customers = world.ma_customers()
    _dupes([normalise_email(e).value or e for e in customers], "MA emails", found)
    for (email, name), value in world.written.ma_values.items():
        flat = flatten_customer(customers.get(email, {}))
        if email not in customers or _norm(flat.get(name)) != _norm(value):
            found.lose(f"MA {email} {name}: {flat.get(name)!r}, a target wrote {value!r}")
    state = state_store(world.spec)
    open_rows = {(q.target, q.stream, q.key) for q in state.quarantined()}
    kintone = KintoneTarget(world.spec, world.spec.target(KINTONE))
    salesforce = SalesforceTarget(world.spec, world.spec.target(SALESFORCE))
    try:
        for target_name, records in (
            (KINTONE, _kintone_customers(kintone)),
            (SALESFORCE, _salesforce_customers(salesforce, world)),
        ):
            _customers(world, target_name, records, customers, open_rows, found)
        _actions(world, kintone, salesforce, open_rows, found)
    finally:
        kintone.close()
        salesforce.close()
    _ledger(world, found)
    found.quarantined = dict(Counter(q.target for q in state.quarantined()))
    return found


def _kintone_customers(adapter: KintoneTarget) -> list[dict[str, Any]]:
    return [{k: v.get("value") for k, v in r.items()} for r in adapter.client.iter_records_seek(adapter.app)]


def _salesforce_customers(adapter: SalesforceTarget, world: World) -> list[dict[str, Any]]:
    fmap = field_map(world.spec, world.spec.target(SALESFORCE))
    names = ", ".join(dict.fromkeys(["Id", fmap.key_target, *(link.target for link in fmap.outbound)]))
    return list(adapter.client.read(f"SELECT {names} FROM {adapter.object}"))


def _customers(
    world: World,
    target_name: str,
    records: list[dict[str, Any]],
    customers: dict[str, dict[str, Any]],
    open_rows: set[tuple[str, str, str]],
    found: Findings,
) -> None:
    target = world.spec.target(target_name)
    defaults = target.defaults if isinstance(target, SalesforceSettings) else {}  # a created record needs
    fmap = field_map(world.spec, target)
    email_field = fmap.email_target or fmap.key_target
    _dupes([str(r[fmap.key_target]) for r in records if r.get(fmap.key_target)], f"{target_name} keys", found)
    _dupes(
        [normalise_email(r[email_field]).value or "" for r in records if r.get(email_field)],
        f"{target_name} emails",
        found,
    )
    by_key = {str(r.get(fmap.key_target)): r for r in records}
    found.customers[target_name] = len(records)
    for customer in customers.values():
        flat = flatten_customer(customer)
        key = str(flat.get(fmap.key_ma))
        if (target_name, "customers", key) in open_rows:
            continue
        record = by_key.get(key)
        if record is None:
            found.lose(f"{target_name}: customer {customer['email']} is missing")
            continue
        expected = outbound_record(flat, fmap, new=False)
        for name, value in expected.items():
            default = defaults.get(name)
            ok = {_norm(value)} | ({_norm(default)} if value in (None, "") and default else set())
            if _norm(record.get(name)) not in ok:
                found.lose(f"{target_name} {customer['email']} {name}: {record.get(name)!r} ≠ MA {value!r}")


def _actions(
    world: World,
    kintone: KintoneTarget,
    salesforce: SalesforceTarget,
    open_rows: set[tuple[str, str, str]],
    found: Findings,
) -> None:
    staging = staging_area(world.spec)
    cuts = staged_cuts(staging, world.spec.company)
    for target_name in (KINTONE, SALESFORCE):
        target = world.spec.target(target_name)
        for kind, action in target.actions.items():
            event = action_fields(target.kind, action)["event_id"]
            if target_name == KINTONE:
                assert action.app is not None
                held = [
                    str(r[event]["value"])
                    for r in kintone.client.iter_records_seek(action.app, fields=[event])
                ]
            else:
                held = [str(r[event]) for r in salesforce.client.read(f"SELECT {event} FROM {action.object}")]
            _dupes(held, f"{target_name} {kind} event ids", found)
            present = set(held)
            staged = [
                str(e)
                for cut in cuts
                for e in staging.parquet(f"{cut_path(world.spec.company, cut)}/{action_file(kind)}")
                .read(columns=["event_id"])
                .column("event_id")
                .to_pylist()
            ]
            found.actions[f"{target_name} {kind}"] = len(staged)
            for event_id in staged:
                if event_id not in present and (target_name, f"actions:{kind}", event_id) not in open_rows:
                    found.lose(f"{target_name} {kind} event {event_id} of a staged cut is missing")


def _ledger(world: World, found: Findings) -> None:
    """Every finished run in the ledger: in = loaded + skipped + rejected + deferred per stream."""
    for run in state_store(world.spec).runs(limit=10_000):
        if run["flow"] != "sync" or run["finished_at"] is None:
            continue
        found.runs += 1
        for line in run["counts"].get("lines", []):
            parts = line["loaded"] + line["skipped"] + line["rejected"] + line["deferred"]
            if line["in"] != parts:
                found.problems.append(f"ledger run {run['id']} {line['target']} {line['stream']}: {line}")
