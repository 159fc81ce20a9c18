"""The kintone target: MA customers and action histories into kintone apps, changed customers back.

Customers are upserted into the customer app by its unique match field and actions into each kind's
app by the event id, every value first coerced to its field's type (schemas.kintone_values). Changed
records are read on the app's 更新日時: one page of 500, the rest by ``$id`` ranges several at a
time. Every request is charged to the app's daily budget in the
sync-state database; when it is spent the rest is deferred to the next run, never failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from connectors.http import HttpPolicy, chunked
from connectors.kintone import MAX_GET, KintoneClient
from connectors.kintone_model import BudgetExhausted, budget_day
from connectors.state import StateStore
from schemas.actions import action_fields, master_fields
from schemas.audit import AuditReport, SchemaDrift, action_drift, email_findings, kintone_drift
from schemas.kintone_values import FieldInfo, KintoneValueError, kintone_record
from schemas.mapping import TargetRecord, field_map
from schemas.outcomes import RowOutcome
from schemas.spec import Spec
from schemas.targets import KintoneSettings
from tasks.clients import resolve_secret, state_store
from tasks.load import Record
from tasks.targets.kintone_emails import EmailHolders, target_record
from tasks.writeback import taken_in

DEFAULT_DAILY_BUDGET = 10_000
DriftCheck = Callable[[dict[str, FieldInfo]], list[SchemaDrift]]


class KintoneSchemaError(Exception):
    """The app's form does not fit the spec's mapping: nothing is sent until it is fixed."""

    def __init__(self, target: str, app: int, drift: list[SchemaDrift]):
        lines = "\n".join(f"  {d.target_field}: {d.rule}: {d.message}" for d in drift)
        super().__init__(
            f"{target}: kintone app {app} does not fit the mapping (run `renkei audit`):\n{lines}"
        )
        self.drift = drift


@dataclass
class StateBudget:
    """kintone's per-app daily request limit (window 09:00–08:59 JST), counted in the sync-state DB
    (checked and counted in one statement: threads and workers spending at once never pass it)."""

    state: StateStore
    target: str
    limit: int

    def try_spend(self, app: int, requests: int = 1) -> bool:
        return self.state.spend_requests(
            self.target, f"app:{app}", budget_day().isoformat(), requests, self.limit
        )


def kintone_client(
    target: KintoneSettings, policy: HttpPolicy | None = None, budget: StateBudget | None = None
) -> KintoneClient:
    """The client of one kintone target: its tokens (or login), guest space, CA bundle and budget."""
    auth = target.auth
    tokens = [t.strip() for t in (resolve_secret(auth.api_token) or "").split(",") if t.strip()]
    if target.ca_bundle:
        policy = replace(policy or HttpPolicy(), verify=target.ca_bundle)
    return KintoneClient(
        target.url,
        api_tokens=tokens,
        username=auth.username,
        password=resolve_secret(auth.password),
        guest_space=target.guest_space,
        policy=policy,
        max_concurrency=target.concurrency,
        budget=budget,
    )


class KintoneTarget:
    """A ``Destination`` and ``ChangeSource`` (tasks.load) for one kintone target of the spec."""

    def __init__(self, spec: Spec, target: KintoneSettings, *, policy: HttpPolicy | None = None):
        if target.app is None:
            raise ValueError(f"target {target.name} names no kintone customer app")
        self.name = target.name
        self.target = target
        self.app = target.app
        self.fmap = field_map(spec, target)
        self.custom = spec.custom_specs()
        self.state = state_store(spec)
        self.budget = StateBudget(
            self.state, target.name, target.daily_request_budget or DEFAULT_DAILY_BUDGET
        )
        self.client = kintone_client(target, policy, self.budget)
        self._forms: dict[int, dict[str, FieldInfo]] = {}
        self._checked: set[int] = set()
        self._read_deferred: list[RowOutcome] = []
        self.holders = EmailHolders(self.client, self.app, self.fmap)

    @property
    def batch_rows(self) -> int:
        return self.client.rows_at_once

    def form(self, app: int) -> dict[str, FieldInfo]:
        """An app's live form, read once per adapter."""
        if app not in self._forms:
            self._forms[app] = self.client.get_form_fields(app)
        return self._forms[app]

    def _checked_form(self, app: int, drift: DriftCheck) -> dict[str, FieldInfo]:
        form = self.form(app)
        if app not in self._checked:
            problems = drift(form)
            if problems:
                raise KintoneSchemaError(self.name, app, problems)
            self._checked.add(app)
        return form

    def _customer_form(self) -> dict[str, FieldInfo]:
        return self._checked_form(
            self.app, lambda form: kintone_drift(self.fmap, form, self.custom, self.target.updated_field)
        )

    def upsert_customers(self, records: list[Record]) -> list[RowOutcome]:
        """Upsert by the match field; matched on email, a record holding the address in another case
        or width is updated (never duplicated), and an address several records hold is never written."""
        form, key_field = self._customer_form(), self.fmap.key_target
        if self.fmap.key_ma != "email" or not records:
            return self._upsert(self.app, key_field, records, form)
        try:
            refused, sending = self.holders.resolve(records, *self._read_fields(form))
        except BudgetExhausted as exc:
            return [RowOutcome.deferred(key, str(exc)) for key, _ in records]
        return [*refused, *self._upsert(self.app, key_field, sending, form)]

    def _read_fields(self, form: dict[str, FieldInfo]) -> tuple[str, list[str]]:
        """The app's 更新日時 field and the mapped fields it has."""
        stamp = self.target.updated_field or next(c for c, f in form.items() if f.type == "UPDATED_TIME")
        return stamp, [c for c in self.fmap.target_fields() if c in form]

    def upsert_actions(self, kind: str, records: list[Record]) -> list[RowOutcome]:
        app, fields = self._action_app(kind)
        event = fields["event_id"]
        form = self._checked_form(app, lambda form: action_drift(app, fields.values(), event, form))
        return self._upsert(app, event, records, form)

    def upsert_masters(self, kind: str, records: list[Record]) -> list[RowOutcome]:
        master = self.target.masters[kind]
        if master.app is None:
            raise ValueError(f"target {self.name}: masters.{kind} names no kintone app")
        app, fields = master.app, master_fields("kintone", master)
        form = self._checked_form(app, lambda form: action_drift(app, fields.values(), fields["id"], form))
        return self._upsert(app, fields["id"], records, form)

    def _action_app(self, kind: str) -> tuple[int, dict[str, str]]:
        action = self.target.actions[kind]
        if action.app is None:
            raise ValueError(f"target {self.name}: actions.{kind} names no kintone app")
        return action.app, action_fields("kintone", action)

    def _upsert(
        self, app: int, key_field: str, records: list[Record], form: dict[str, FieldInfo]
    ) -> list[RowOutcome]:
        """Coerce every record, send the ones that fit; one outcome per record, keyed as given."""
        outcomes: dict[int, RowOutcome] = {}
        ready: list[tuple[int, dict[str, Any]]] = []
        for position, (key, record) in enumerate(records):
            try:
                ready.append((position, kintone_record(record, form)))
            except KintoneValueError as exc:
                outcomes[position] = RowOutcome.rejected(key, exc.rule, exc.message, exc.field)
        sent = self.client.upsert_records(app, key_field, [row for _, row in ready]) if ready else []
        for (position, _), outcome in zip(ready, sent, strict=True):
            outcomes[position] = replace(outcome, key=records[position][0])
        return [outcomes[p] for p in range(len(records))]

    def changed_records(self, since: datetime | None) -> Iterator[list[TargetRecord]]:
        """Customer records updated at or after ``since``, in no particular order, 500 a page."""
        stamp, mapped = self._read_fields(self._customer_form())
        rows = self.client.changed_since(self.app, mapped, since, stamp)
        try:
            with contextlib.closing(rows):
                for page in chunked((target_record(r, stamp, mapped) for r in rows), MAX_GET):
                    yield self._unshared(page, since)
        except BudgetExhausted as exc:
            reason = f"{exc}: the remaining changed records are read on the next run"
            self._read_deferred.append(RowOutcome.deferred(f"app:{self.app}", reason))

    def _unshared(self, page: list[TargetRecord], since: datetime | None) -> list[TargetRecord]:
        """The page without records whose email another record holds, read or not (EmailHolders). A
        full read (no ``since``) holds every record already: the generic guard sees them all. A record
        read as the write-back last took it in passes unasked: the write-back skips it."""
        if since is None:
            return page
        seen = taken_in(self.state, self.name, page)
        fresh = [r for r in page if r.id not in seen]
        kept, refused = self.holders.withhold(fresh, *self._read_fields(self._customer_form()))
        self._read_deferred += refused
        passed = seen | {r.id for r in kept}
        return [r for r in page if r.id in passed]

    def read_rejections(self) -> list[RowOutcome]:
        """Records withheld for a shared email, and a read cut short by the budget (deferred)."""
        deferred, self._read_deferred = self._read_deferred, []
        return deferred

    def audit(self) -> AuditReport:
        """A full scan of the customer app's emails (id ranges in parallel) and the drift of every
        mapped field."""
        form = self.form(self.app)
        report = AuditReport(
            self.name, "kintone", drift=kintone_drift(self.fmap, form, self.custom, self.target.updated_field)
        )
        for kind in self.target.actions:
            app, fields = self._action_app(kind)
            report.drift += action_drift(app, fields.values(), fields["event_id"], self.form(app))
        email = self.fmap.email_target
        if email is not None and email in form:
            rows = self.client.iter_records_spread(self.app, "", [email])
            with contextlib.closing(rows):
                report.scanned, report.duplicates, report.bad_emails = email_findings(
                    (r["$id"]["value"], r[email]["value"]) for r in rows
                )
        return report

    def close(self) -> None:
        self.client.close()
        self.state.close()
