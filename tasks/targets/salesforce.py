"""Salesforce as a sync target: customers into Lead or Contact, actions into a custom object, changes back.

Customers are upserted by the spec's External ID field (``match.target``) with values coerced to the
object's describe() types; Lead's required fields take the spec's ``defaults``. A converted Lead is
followed to its Contact. Actions are upserted by their event id with a lookup to the customer's
record, found by the same External ID. Changes come back by SystemModstamp; an email that Salesforce
holds on several records (in the read set or not) is withheld and every record of it reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from connectors.http import HttpPolicy, chunked
from connectors.salesforce import DEFAULT_BULK_THRESHOLD, ApiLimitReached, SalesforceClient
from connectors.salesforce_budget import ApiBudget
from schemas.actions import action_fields, master_fields
from schemas.audit import AuditReport, email_findings, salesforce_drift
from schemas.coerce import CoercionError
from schemas.email import email_key
from schemas.mapping import TargetRecord, field_map
from schemas.outcomes import RowOutcome
from schemas.salesforce_values import FieldInfo, required_defaults, salesforce_record
from schemas.spec import Spec, Target
from schemas.targets import SalesforceSettings
from tasks.clients import resolve_secret, state_store
from tasks.load import Record
from tasks.writeback import taken_in

DEFAULT_OBJECT = "Lead"
DEFAULT_ACTION_OBJECT = "SATORI_Action__c"
DEFAULT_MASTER_OBJECT = "SATORI_Master__c"
CONVERTED = "CANNOT_UPDATE_CONVERTED_LEAD"
MISSING = "REQUIRED_FIELD_MISSING"
PAGE = 2_000


def salesforce_client(
    target: SalesforceSettings, policy: HttpPolicy | None = None, poll_seconds: float = 0.5
) -> SalesforceClient:
    """The client of one Salesforce target: its login, CA bundle, API version and budget shares."""
    auth = target.auth
    options: dict[str, Any] = {"api_version": target.api_version} if target.api_version else {}
    return SalesforceClient(
        target.url,
        client_id=resolve_secret(auth.client_id) or "",
        client_secret=resolve_secret(auth.client_secret),
        username=resolve_secret(auth.username),
        password=resolve_secret(auth.password),
        private_key=resolve_secret(auth.private_key),
        ca_bundle=target.ca_bundle,
        policy=policy,
        bulk_threshold=target.bulk_threshold or DEFAULT_BULK_THRESHOLD,
        budget=ApiBudget(target.budget_share_per_run, target.budget_share_total),
        poll_seconds=poll_seconds,
        concurrency=target.concurrency,
        **options,
    )


class SalesforceTarget:
    """One Salesforce target of a spec; see the module docstring."""

    def __init__(
        self,
        spec: Spec,
        target: SalesforceSettings,
        *,
        policy: HttpPolicy | None = None,
        poll_seconds: float = 0.5,
    ):
        self.name = target.name
        self.target = target
        self.object = target.object or DEFAULT_OBJECT
        self.fmap = field_map(spec, target)
        self.client = salesforce_client(target, policy, poll_seconds)
        _check_action_references(target, self.fmap.key_ma, self.fmap.key_target)
        self._described: dict[str, dict[str, FieldInfo]] = {}
        self._refused: list[RowOutcome] = []
        self.state = state_store(spec)

    @property
    def batch_rows(self) -> int:
        return self.client.rows_at_once

    def fields(self, obj: str) -> dict[str, FieldInfo]:
        """describe() of ``obj``, once per run."""
        if obj not in self._described:
            self._described[obj] = self.client.describe(obj)
        return self._described[obj]

    def upsert_customers(self, records: list[Record]) -> list[RowOutcome]:
        return self._within_budget(records, lambda: self._upsert_customers(records))

    def upsert_actions(self, kind: str, records: list[Record]) -> list[RowOutcome]:
        return self._within_budget(records, lambda: self._upsert_actions(kind, records))

    def upsert_masters(self, kind: str, records: list[Record]) -> list[RowOutcome]:
        return self._within_budget(records, lambda: self._upsert_masters(kind, records))

    def _within_budget(self, records: list[Record], work: Callable[[], list[RowOutcome]]) -> list[RowOutcome]:
        """No new work past the run's share of the API allocation, nor past the org's daily limit."""
        try:
            spent = self.client.budget_spent()
            return [RowOutcome.deferred(k, spent) for k, _ in records] if spent else work()
        except ApiLimitReached as exc:
            return [RowOutcome.deferred(key, str(exc)) for key, _ in records]

    def _upsert_customers(self, records: list[Record]) -> list[RowOutcome]:
        fields = self.fields(self.object)
        rows, refused = self._coerce(self.object, records, fields)
        outcomes = self._upsert(self.object, self.fmap.key_target, rows)
        retry = {
            key: {**row, **extra}
            for key, row in rows.items()
            if outcomes[key].code == MISSING
            and (extra := required_defaults(fields, self.target.defaults, set(row)))
        }  # a new record missing an unmapped required field: the spec's default fills it on creation
        outcomes.update(self._upsert(self.object, self.fmap.key_target, retry))
        converted = {key: row for key, row in rows.items() if outcomes[key].code == CONVERTED}
        if converted and self.object == "Lead":
            outcomes.update(self._follow_conversion(converted))
        return [*refused, *outcomes.values()]

    def _coerce(
        self, obj: str, records: list[Record], fields: dict[str, FieldInfo]
    ) -> tuple[dict[str, dict[str, Any]], list[RowOutcome]]:
        rows: dict[str, dict[str, Any]] = {}
        refused: list[RowOutcome] = []
        for key, record in records:
            try:
                rows[key] = salesforce_record(record, fields, self.target.defaults, obj)
            except CoercionError as exc:
                refused.append(RowOutcome.rejected(key, exc.rule, str(exc), exc.field))
        return rows, refused

    def _upsert(self, obj: str, ext: str, rows: dict[str, dict[str, Any]]) -> dict[str, RowOutcome]:
        """Outcomes keyed as ``rows`` (the client answers in input order)."""
        if not rows:
            return {}
        answers = self.client.upsert(obj, ext, list(rows.values()))
        return {key: replace(o, key=key) for key, o in zip(rows, answers, strict=True)}

    def _follow_conversion(self, rows: dict[str, dict[str, Any]]) -> dict[str, RowOutcome]:
        """Converted Leads: the values go to the Contact each became, which takes the External ID too."""
        ext = self.fmap.key_target
        contact = self.fields("Contact")
        if ext not in contact:
            hint = f"Contact has no field {ext}: add it (and map it in Lead conversion) so renkei can follow"
            return {
                k: RowOutcome.rejected(k, CONVERTED, f"the Lead was converted; {hint}", ext) for k in rows
            }
        leads = self.client.find_by("Lead", ext, list(rows), ["ConvertedContactId"])
        contact_of = {str(r[ext]).lower(): r.get("ConvertedContactId") for r in leads}
        targets: dict[str, dict[str, Any]] = {}
        out: dict[str, RowOutcome] = {}
        for key, row in rows.items():
            contact_id = contact_of.get(key.lower())
            if not contact_id:
                out[key] = RowOutcome.rejected(key, CONVERTED, "the Lead was converted to no Contact", ext)
                continue
            values = {k: v for k, v in row.items() if k in contact and contact[k].updateable}
            targets[key] = {**values, "Id": contact_id}
        return {**out, **self._upsert("Contact", "Id", targets)}

    def _upsert_actions(self, kind: str, records: list[Record]) -> list[RowOutcome]:
        action = self.target.actions[kind]
        obj = action.object or DEFAULT_ACTION_OBJECT
        fields = self.fields(obj)
        ext = action_fields(self.target.kind, action)["event_id"]
        linked, refused = self._link_customers(records, fields)
        rows, bad = self._coerce(obj, linked, fields)
        return [*refused, *bad, *self._upsert(obj, ext, rows).values()]

    def _upsert_masters(self, kind: str, records: list[Record]) -> list[RowOutcome]:
        master = self.target.masters[kind]
        obj = master.object or DEFAULT_MASTER_OBJECT
        rows, bad = self._coerce(obj, records, self.fields(obj))
        return [*bad, *self._upsert(obj, master_fields(self.target.kind, master)["id"], rows).values()]

    def _link_customers(
        self, records: list[Record], fields: dict[str, FieldInfo]
    ) -> tuple[list[Record], list[RowOutcome]]:
        """The customer's External ID in an action record becomes the lookup to its Lead or Contact."""
        ref = self.fmap.key_target
        if ref in fields or not any(ref in r for _, r in records):
            return records, []
        lookup = _lookup_to(fields, self.object)
        to_contact = _lookup_to(fields, "Contact") if self.object == "Lead" else None
        columns = ["IsConverted", "ConvertedContactId"] if to_contact else []
        wanted = [str(r[ref]) for _, r in records if r.get(ref)]
        found = {str(r[ref]).lower(): r for r in self.client.find_by(self.object, ref, wanted, columns)}
        linked: list[Record] = []
        refused: list[RowOutcome] = []
        for key, record in records:
            values = {k: v for k, v in record.items() if k != ref}
            customer = found.get(str(record.get(ref) or "").lower())
            if customer is None:
                message = (
                    f"no {self.object} with {ref} = {record.get(ref)!r} in Salesforce (yet): "
                    "the action is kept for replay once the customer is loaded"
                )
                refused.append(RowOutcome.rejected(key, "customer_not_in_salesforce", message, ref))
                continue
            if to_contact and customer.get("IsConverted") and customer.get("ConvertedContactId"):
                values[to_contact] = customer["ConvertedContactId"]
            elif lookup:
                values[lookup] = customer["Id"]
            linked.append((key, values))
        return linked, refused

    def changed_records(self, since: datetime | None) -> Iterator[list[TargetRecord]]:
        """Records modified since ``since`` (the generic layer already took off its overlap), 2,000 a
        page, without those whose email Salesforce holds on several records. Shared addresses are asked
        for (one GROUP BY over the object) once a page holds a record the write-back has not taken in as
        it reads now: a run that only re-reads its overlap asks nothing.

        Inside the overlap (the minutes before the watermark, ``since`` onwards) only records another
        user modified last are read: a person's edit committed late is caught, while what renkei wrote
        itself before the watermark was read by the run after the write, so it is not read again."""
        names = self.fmap.target_fields()
        email = self.fmap.email_target
        shared: set[str] | None = None
        withheld: list[str] = []
        watermark = since + timedelta(minutes=self.target.overlap_minutes) if since else None
        rows = self.client.changed_since(self.object, names, since, timedelta(0), others_before=watermark)
        for chunk in chunked(rows, PAGE):
            page = [
                TargetRecord(
                    str(row["Id"]),
                    datetime.fromisoformat(str(row["SystemModstamp"])),
                    {n: row.get(n) for n in names},
                )
                for row in chunk
            ]
            seen = taken_in(self.state, self.name, page) if since is not None else set()
            fresh = [r for r in page if r.id not in seen]
            if email and fresh and shared is None:
                shared = self._shared_emails(email)
            if not (email and shared):  # normalising an address costs ~0.1 ms: only when some is shared
                yield page
                continue
            addresses = {r.id: email_key(r.values.get(email)) for r in fresh}
            withheld += [a for a in addresses.values() if a is not None and a in shared]
            yield [r for r in page if addresses.get(r.id) not in shared]
        if withheld and email:
            self._refused += self._report_shared(email, withheld)

    def _shared_emails(self, email: str | None) -> set[str]:
        """Addresses Salesforce holds on several records (GROUP BY … HAVING COUNT(Id) > 1)."""
        if email is None:
            return set()
        return {k for k in map(email_key, self.client.duplicate_values(self.object, email)) if k}

    def _report_shared(self, email: str, addresses: list[str]) -> list[RowOutcome]:
        """Every record of each shared address, read set or not: none of them is written to the MA."""
        names = self.fmap.target_fields()
        holders: dict[str, dict[str, dict[str, Any]]] = {}
        for row in self.client.find_by(self.object, email, sorted(set(addresses)), names):
            values = {n: row.get(n) for n in names}
            holders.setdefault(email_key(row[email]) or "", {})[str(row["Id"])] = values
        return [
            RowOutcome.rejected(
                record_id,
                "duplicate_email",
                f"{address} is held by {len(rows)} {self.object} records ({', '.join(sorted(rows))}): "
                "none is written to the MA until only one holds it",
                email,
            ).showing(rows[record_id])
            for address, rows in holders.items()
            for record_id in sorted(rows)
        ]

    def read_rejections(self) -> list[RowOutcome]:
        refused, self._refused = self._refused, []
        return refused

    def audit(self) -> AuditReport:
        """Every record's email (one SOQL, Bulk 2.0 when large) and the drift of every mapped field."""
        report = AuditReport(
            self.name, "salesforce", drift=salesforce_drift(self.fmap, self.object, self.fields(self.object))
        )
        email = self.fmap.email_target
        if email is not None and email in self.fields(self.object):
            rows = self.client.read(f"SELECT Id, {email} FROM {self.object} ORDER BY Id")
            report.scanned, report.duplicates, report.bad_emails = email_findings(
                (str(r["Id"]), r.get(email)) for r in rows
            )
        return report

    def close(self) -> None:
        self.client.close()
        self.state.close()


def _lookup_to(fields: dict[str, FieldInfo], obj: str) -> str | None:
    return next((f.name for f in fields.values() if f.type == "reference" and f.reference_to == (obj,)), None)


def _check_action_references(target: Target, key_ma: str, key_target: str) -> None:
    """An action links to its customer through the match field, so it must carry the match column."""
    for kind, action in target.actions.items():
        columns = [c for c, f in action_fields(target.kind, action).items() if f == key_target]
        if columns and columns != [key_ma]:
            raise ValueError(
                f"target {target.name}: actions.{kind} maps {', '.join(columns)} to {key_target}, but "
                f"customers match on {key_ma}: set actions.{kind}.fields.{key_ma}: {key_target}"
            )
