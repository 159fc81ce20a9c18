"""The MA as a user without the Data Integration Option reaches it (``ma.access: public``).

Writes go through the public customer API v4: one row through its single upsert, more through its
bulk CSV upsert (at most 10,000 rows a job, its status polled, one outcome per row from its
failed_rows); a blank value never overwrites; identity by email or hashcode. v4 cannot read, so
the customers a write-back compares with are those the admin screen's exports showed (the staged
customers.parquet of every export cut, the newest value winning) and what renkei wrote since: a
target record whose email no export showed is not an MA customer to update.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Literal

from connectors.http import chunked
from connectors.satori import V4_BULK_LIMIT, V4Credentials, V4Writer
from connectors.staging import StagingArea
from schemas.catalog import CUSTOM_PREFIX
from schemas.clock import now
from schemas.outcomes import RowOutcome
from schemas.spec import Spec
from schemas.staging import CUSTOMERS_FILE, cut_path
from tasks.clients import ma_client, resolve_secret, staging_area
from tasks.sync_target import staged_cuts
from tasks.writeback import MaCustomers

Key = Literal["email", "hashcode"]
WRITTEN_FILE = "_public/written.json"  # beside the cut folders (staged_cuts lists cut ids only)


def v4_cell(value: Any) -> str:
    """A value as the v4 CSV takes it: lists comma-joined, true/false, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def v4_row(row: dict[str, Any]) -> dict[str, str]:
    """An integration-API row (custom fields under ``custom``) as a v4 CSV row (``custom:<識別名>``)."""
    out = {name: v4_cell(value) for name, value in row.items() if name != "custom"}
    out |= {f"{CUSTOM_PREFIX}{ident}": v4_cell(v) for ident, v in (row.get("custom") or {}).items()}
    return out


def as_customer(row: dict[str, Any]) -> dict[str, Any]:
    """A staged customers.parquet row in the integration API's shape (custom fields under ``custom``)."""
    plain = {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in row.items()}
    customer = {k: v for k, v in plain.items() if not k.startswith(CUSTOM_PREFIX)}
    customer["custom"] = {
        k.removeprefix(CUSTOM_PREFIX): v for k, v in plain.items() if k.startswith(CUSTOM_PREFIX)
    }
    return customer


class PublicMa:
    """MaCustomers over the public API v4 (writes) and the staged admin-screen exports (what is known)."""

    def __init__(self, writer: V4Writer, staging: StagingArea, company: str):
        self.writer, self.staging, self.company = writer, staging, company
        self._known: dict[str, dict[str, dict[str, Any]]] | None = None

    def known(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Customers by email and by hashcode, from every staged export (oldest first, newest wins),
        then what renkei wrote after the customer's last exported update."""
        if self._known is None:
            self._known = {"email": {}, "hashcode": {}}
            for cut in staged_cuts(self.staging, self.company):
                relative = f"{cut_path(self.company, cut)}/{CUSTOMERS_FILE}"
                if not self.staging.exists(relative):
                    continue
                for row in self.staging.parquet(relative).read().to_pylist():
                    self._remember(as_customer(row))
            for key, rows in self._written().items():
                for value, row in rows.items():
                    exported = self._known[key].get(value, {}).get("updated_at") or ""
                    if row["updated_at"] > exported:
                        self._remember(row)
        return self._known

    def _remember(self, customer: dict[str, Any]) -> None:
        assert self._known is not None
        for key in ("email", "hashcode"):
            if customer.get(key):
                merged = {**self._known[key].get(customer[key], {}), **customer}
                self._known[key][customer[key]] = merged

    def _written(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self.staging.read_json(self._written_file) or {}

    @property
    def _written_file(self) -> str:
        return f"{self.company}/{WRITTEN_FILE}"

    def bulk_get(self, *, emails: Iterable[str] = (), hashcodes: Iterable[str] = ()) -> list[dict[str, Any]]:
        key, wanted = ("email", list(emails)) if emails else ("hashcode", list(hashcodes))
        known = self.known()[key]
        return [known[k] for k in wanted if k in known]

    def bulk_upsert(self, rows: Iterable[dict[str, Any]], key: Key = "email") -> list[RowOutcome]:
        """One outcome per row in input order. A single row goes through the single upsert (no job
        to poll); more go as bulk CSV jobs of at most 10,000 rows. What was written is remembered (in
        the staging area) until an export newer than the write shows the customer: a rerun compares
        with it and writes nothing twice."""
        outcomes: list[RowOutcome] = []
        remembered = self._written().get(key, {})
        for batch in chunked(rows, V4_BULK_LIMIT):
            if len(batch) == 1:
                written = [self.writer.upsert(v4_row(batch[0]), identity_type=key)]
            else:
                written = self.writer.bulk([v4_row(r) for r in batch], identity_type=key)
            stamp = now().isoformat()
            for row, outcome in zip(batch, written, strict=True):
                if outcome.status.loaded:
                    before = self.known()[key].get(row[key], {})
                    custom = {**(before.get("custom") or {}), **(row.get("custom") or {})}
                    merged = {**before, **row, "custom": custom, "updated_at": stamp}
                    self._remember(merged)
                    remembered[row[key]] = merged
            outcomes += written
        if remembered:
            self.staging.write_json(self._written_file, {**self._written(), key: remembered})
        return outcomes


def v4_writer(spec: Spec) -> V4Writer:
    keys = spec.ma.v4
    if keys is None:
        raise ValueError("ma.access: public needs ma.v4 (the public API v4's four keys): run renkei validate")
    credentials = V4Credentials(
        keys.user_key,
        resolve_secret(keys.user_secret) or "",
        keys.company_key,
        resolve_secret(keys.company_secret) or "",
    )
    return V4Writer(spec.ma.url, credentials)


@contextmanager
def ma_customers(spec: Spec) -> Iterator[MaCustomers]:
    """The MA a write-back writes into, by ``ma.access``: the integration API, or v4 and the exports."""
    if spec.ma.access != "public":
        with ma_client(spec) as client:
            yield client
        return
    writer = v4_writer(spec)
    try:
        yield PublicMa(writer, staging_area(spec), spec.company)
    finally:
        writer.close()
