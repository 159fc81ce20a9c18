"""Who holds each email in a kintone customer app: the uniqueness guard sees the whole app.

Holders are found by the cheaper of two reads: a query on the email field per 50 addresses (each in
its own form and full width, kintone's ``like`` ignoring case; near misses are dropped after
normalising), or the whole app read once per run (up to 500 records this is the first request, which
also gives the app's size; a bigger app is read whole once the run's queries would have cost as many
requests, its id ranges in parallel). Out, a record holding the address in another case or width is updated,
never duplicated; in, a changed record whose address another record holds is withheld, and every
record of that address is reported.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from connectors.http import chunked
from connectors.kintone import MAX_GET, KintoneClient
from connectors.kintone_model import KintoneRecord, escape_query_value
from schemas.email import email_key, holders_by_email, resolve_keys, search_forms
from schemas.mapping import FieldMap, TargetRecord
from schemas.outcomes import RowOutcome

HOLDER_QUERY = 50  # addresses per email-holder query: two forms each, about 5 KB of query
Record = tuple[str, dict[str, Any]]


class EmailHolders:
    """The holders of one customer app's emails, for one adapter (one run's step)."""

    def __init__(self, client: KintoneClient, app: int, fmap: FieldMap):
        self.client, self.app, self.fmap = client, app, fmap
        self._size: int | None = None  # records in the app when first asked
        self._whole: list[TargetRecord] | None = None  # the app read whole, when that was cheaper
        self._asked = 0  # holder queries sent so far this run
        self._reported: set[str] = set()  # addresses already reported as shared

    def find(self, keys: list[str], stamp: str, mapped: list[str]) -> dict[str, list[TargetRecord]]:
        """Every record holding one of the normalised ``keys``, in any case or width."""
        email = self.fmap.email_target
        if email is None or email not in mapped or not keys:
            return {}
        fields = ["$id", stamp, *mapped]
        if self._size is None:
            first = self.client.get_records(self.app, f"order by $id asc limit {MAX_GET}", fields, True)
            self._size = first.total_count or 0
            if self._size <= MAX_GET:
                self._whole = [target_record(r, stamp, mapped) for r in first.records]
        queries = -(-len(set(keys)) // HOLDER_QUERY)
        # the whole app once as soon as the queries of this run would have cost as much: never more
        # than twice the cheaper of the two, however many pages the run brings
        if self._whole is None and -(-self._size // MAX_GET) <= self._asked + queries:
            whole = self.client.iter_records_spread(self.app, "", fields)
            self._whole = [target_record(r, stamp, mapped) for r in whole]
        found = self._whole
        if found is None:
            found, self._asked = [], self._asked + queries
            for chunk in chunked(sorted(set(keys)), HOLDER_QUERY):
                forms = sorted({text for key in chunk for text in search_forms(key)})
                condition = " or ".join(f"{email} like {escape_query_value(text)}" for text in forms)
                rows = self.client.iter_records_seek(self.app, condition, fields)
                found += [target_record(r, stamp, mapped) for r in rows]
        return holders_by_email(keys, found, lambda r: r.values.get(email))

    def resolve(
        self, records: list[Record], stamp: str, mapped: list[str]
    ) -> tuple[list[RowOutcome], list[Record]]:
        """Outbound, matched on email: (refused rows of shared addresses, rows to send, each keyed by
        the address as the one record holding it has it)."""
        key_field = self.fmap.key_target
        normalised = {key: email_key(key) or key for key, _ in records}
        holders = self.find(list(normalised.values()), stamp, mapped)
        found = resolve_keys(
            {k: [(r.id, str(r.values.get(key_field) or "")) for r in rows] for k, rows in holders.items()}
        )
        refused = [
            self.shared(key, normalised[key], found.shared[normalised[key]]).showing(record)
            for key, record in records
            if normalised[key] in found.shared
        ]
        sending = [
            (key, {**record, key_field: found.stored.get(normalised[key], record[key_field])})
            for key, record in records
            if normalised[key] not in found.shared
        ]
        return refused, sending

    def withhold(
        self, page: list[TargetRecord], stamp: str, mapped: list[str]
    ) -> tuple[list[TargetRecord], list[RowOutcome]]:
        """Inbound: the page without records whose address another record holds, and a rejection for
        every record of such an address (each address reported once a run)."""
        email = self.fmap.email_target
        if email is None:
            return page, []
        holders = self.find(sorted({k for r in page if (k := email_key(r.values.get(email)))}), stamp, mapped)
        shared = {key: rows for key, rows in holders.items() if len(rows) > 1}
        refused: list[RowOutcome] = []
        for key, rows in shared.items():
            if key not in self._reported:
                self._reported.add(key)
                ids = tuple(sorted({r.id for r in rows}, key=int))
                refused += [
                    replace(self.shared(r.id, key, ids), key=r.id).showing(r.values)
                    for r in {r.id: r for r in rows}.values()
                ]
        return [r for r in page if email_key(r.values.get(email)) not in shared], refused

    def shared(self, key: str, address: str, ids: tuple[str, ...]) -> RowOutcome:
        return RowOutcome.rejected(
            key,
            "duplicate_email",
            f"{address} is held by {len(ids)} kintone records ({', '.join(ids)}): none is matched or "
            "written until only one holds it",
            self.fmap.email_target,
        )


def target_record(record: KintoneRecord, stamp: str, mapped: list[str]) -> TargetRecord:
    """A customer record as the generic steps read it: id, 更新日時, the mapped fields' values."""
    modified = record[stamp]["value"]
    return TargetRecord(
        str(record["$id"]["value"]),
        datetime.fromisoformat(modified.replace("Z", "+00:00")) if modified else None,
        {code: record[code]["value"] for code in mapped if code in record},
    )
