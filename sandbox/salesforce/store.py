"""The org's data: records in memory for speed, written through to SQLite so they survive restarts.

Every write goes through ``batch()``: one SQLite transaction per request, and an undo log so an
``allOrNone`` request can be rolled back as a whole.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.salesforce.errors import RecordError, SalesforceError
from sandbox.salesforce.ids import IdSequence, case_safe, make_id
from sandbox.salesforce.objects import FieldSpec, NewField, ObjectSpec, standard_objects
from sandbox.salesforce.records import missing_required, prepare
from sandbox.salesforce.soql_exec import format_datetime
from schemas import clock

Row = dict[str, Any]
USER_ID = make_id("005", 1)  # the integration user every API session logs in as
PERSON_ID = make_id("005", 2)  # a sales rep editing in the UI (``Org.write_as_person``)
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, obj TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS custom_fields (obj TEXT, name TEXT, body TEXT, PRIMARY KEY (obj, name));
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class RecordFailure(Exception):
    """A record the org refused, with all of its errors."""

    def __init__(self, errors: list[RecordError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


class SeveralMatches(Exception):
    def __init__(self, ids: list[str]):
        super().__init__(f"{len(ids)} records match")
        self.ids = ids


@dataclass
class LockFault:
    """The 'partial failure' fault: a seeded share of row writes fail with UNABLE_TO_LOCK_ROW."""

    rate: float = 0.0
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def hits(self) -> bool:
        return self.rate > 0 and self.rng.random() < self.rate


class Org:
    """Objects, records, unique indexes and settings of one stand-in org."""

    def __init__(self, db_path: Path):
        self.lock = threading.RLock()
        self.db = sqlite3.connect(db_path, check_same_thread=False)
        self.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + SCHEMA)
        self.objects = standard_objects()
        self.lock_fault = LockFault()
        for obj, body in self.db.execute("SELECT obj, body FROM custom_fields"):
            self.objects[obj].add(NewField.model_validate_json(body).spec())
        self.records: dict[str, dict[str, Row]] = {name: {} for name in self.objects}
        self.index: dict[tuple[str, str], dict[Any, set[str]]] = {}
        for obj, data in self.db.execute("SELECT obj, data FROM records ORDER BY rowid"):
            row = json.loads(data)
            self.records[obj][row["Id"]] = row
            self._index(obj, row, add=True)
        self.seq = IdSequence(int(self.setting("seq") or 0) + 1)
        self._undo: dict[str, tuple[str, Row | None]] | None = None

    def setting(self, key: str) -> str | None:
        found = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def set_setting(self, key: str, value: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))
            self.db.commit()

    def spec(self, name: str) -> ObjectSpec:
        for spec in self.objects.values():
            if spec.name.lower() == name.lower():
                return spec
        raise SalesforceError("NOT_FOUND", f"The requested resource does not exist ({name})", 404)

    def add_field(self, new: NewField) -> FieldSpec:
        spec = new.spec()
        with self.lock:
            obj = self.spec(new.object)
            obj.add(spec)
            self.db.execute(
                "INSERT OR REPLACE INTO custom_fields VALUES (?, ?, ?)",
                (obj.name, spec.name, new.model_dump_json(by_alias=True)),
            )
            self.db.commit()
        return spec

    def rows(self, obj: str, *, include_deleted: bool = False) -> list[Row]:
        rows = self.records[self.spec(obj).name].values()
        return [r for r in rows if include_deleted or not r.get("IsDeleted")]

    def get(self, obj: str, record_id: str) -> Row:
        row = self.records[self.spec(obj).name].get(_id18(record_id))
        if row is None:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", 404)
        if row.get("IsDeleted"):
            raise SalesforceError("ENTITY_IS_DELETED", "entity is deleted", 404)
        return row

    def match(self, obj: str, field_name: str, value: Any) -> list[str]:
        """Live records whose external-id (or Id) field holds this value, case-insensitively."""
        spec = self.spec(obj)
        target = spec.field(field_name)
        if target is None or not (target.external_id or target.name == "Id"):
            raise SalesforceError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
                404,
            )
        if target.name == "Id":
            found = self.records[spec.name].get(_id18(str(value)))
            return [found["Id"]] if found and not found.get("IsDeleted") else []
        ids = self.index.get((spec.name, target.name), {}).get(_fold(value), set())
        return sorted(ids)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One request's writes: persisted together at the end, undoable with ``rollback``."""
        with self.lock:
            self._undo = {}
            try:
                yield
            finally:
                touched, self._undo = self._undo, None
                rows = [(rid, obj, json.dumps(self.records[obj][rid])) for rid, (obj, _) in touched.items()]
                self.db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", rows)
                self.db.execute("INSERT OR REPLACE INTO settings VALUES ('seq', ?)", (str(self.seq.last),))
                self.db.commit()

    def rollback(self) -> None:
        assert self._undo is not None, "rollback outside a batch"
        for rid, (obj, before) in self._undo.items():
            self._index(obj, self.records[obj][rid], add=False)
            if before is None:
                del self.records[obj][rid]
            else:
                self.records[obj][rid] = before
                self._index(obj, before, add=True)
        self._undo.clear()

    def create(self, obj: str, values: Row, *, from_csv: bool = False) -> str:
        spec = self.spec(obj)
        record_id = make_id(spec.key_prefix, self.seq.next())
        self._write(spec, record_id, None, values, from_csv)
        return record_id

    def update(self, obj: str, record_id: str, values: Row, *, from_csv: bool = False) -> None:
        spec = self.spec(obj)
        existing = self.get(spec.name, record_id)
        self._write(spec, existing["Id"], existing, values, from_csv)

    def upsert(
        self, obj: str, ext_field: str, value: Any, values: Row, *, from_csv: bool = False
    ) -> tuple[str, bool]:
        """(id, created); SeveralMatches when the external id is ambiguous."""
        ids = self.match(obj, ext_field, value)
        if len(ids) > 1:
            raise SeveralMatches(ids)
        if ids:
            self.update(obj, ids[0], values, from_csv=from_csv)
            return ids[0], False
        spec = self.spec(obj)
        target = spec.field(ext_field)
        assert target is not None
        data = {k: v for k, v in values.items() if k.lower() != target.name.lower()}
        if target.name != "Id":
            data[target.name] = value
        return self.create(obj, data, from_csv=from_csv), True

    def write_as_person(self, obj: str, record_id: str | None, values: Row, stamp: str | None) -> str:
        """A person's new record (no ``record_id``) or edit in the UI, stamped now or with ``stamp`` (say
        a minute ago: it committed late); the record's id."""
        if record_id is None:
            record_id = self.create(obj, values)
        else:
            self.update(obj, record_id, values)
        row = self.get(obj, record_id)
        when = stamp or row["SystemModstamp"]
        edited = {**row, "LastModifiedById": PERSON_ID, "LastModifiedDate": when, "SystemModstamp": when}
        self._save(self.spec(obj).name, edited, row)
        return record_id

    def delete(self, obj: str, record_id: str) -> None:
        row = self.get(obj, record_id)
        self._save(self.spec(obj).name, {**row, "IsDeleted": True, "SystemModstamp": _now()}, row)

    def convert_lead(self, lead_id: str) -> str:
        """Convert a Lead as Salesforce's Convert button does: a new Contact (and Account)."""
        lead = self.get("Lead", lead_id)
        if lead.get("IsConverted"):
            raise SalesforceError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        account_id = self.create("Account", {"Name": lead.get("Company") or lead["LastName"]})
        person = ("FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title", "LeadSource")
        contact_id = self.create(
            "Contact",
            {"AccountId": account_id, **{k: lead.get(k) for k in person if lead.get(k) is not None}},
        )
        now = _now()
        converted = {
            "IsConverted": True,
            "ConvertedContactId": contact_id,
            "ConvertedAccountId": account_id,
            "ConvertedDate": now[:10],
            "Status": "Closed - Converted",
            "LastModifiedDate": now,
            "SystemModstamp": now,
        }
        self._save("Lead", {**lead, **converted}, lead)
        return contact_id

    def _write(
        self, spec: ObjectSpec, record_id: str, existing: Row | None, values: Row, from_csv: bool
    ) -> None:
        clean, errors = prepare(spec, values, creating=existing is None, from_csv=from_csv)
        if existing is not None and existing.get("IsConverted"):
            errors.insert(0, RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"))
        if errors:
            raise RecordFailure(errors)
        now = _now()
        merged = {**(existing or self._defaults(spec, record_id, now)), **clean}
        missing = missing_required(spec, merged)
        if missing:
            raise RecordFailure([missing])
        for f in spec.fields.values():
            if f.unique and f.name in clean and clean[f.name] is not None:
                clash = self.index.get((spec.name, f.name), {}).get(_fold(clean[f.name]), set()) - {record_id}
                if clash:
                    raise RecordFailure(
                        [
                            RecordError(
                                "DUPLICATE_VALUE",
                                f"duplicate value found: {f.name} duplicates value on record with id: "
                                f"{min(clash)}",
                            )
                        ]
                    )
        if self.lock_fault.hits():
            raise RecordFailure(
                [
                    RecordError(
                        "UNABLE_TO_LOCK_ROW",
                        f"unable to obtain exclusive access to this record or 1 records: {record_id}",
                    )
                ]
            )
        if spec.name in ("Lead", "Contact"):
            merged["Name"] = " ".join(p for p in (merged.get("FirstName"), merged.get("LastName")) if p)
        merged.update(LastModifiedDate=now, SystemModstamp=now, LastModifiedById=USER_ID)
        self._save(spec.name, merged, existing)

    def _defaults(self, spec: ObjectSpec, record_id: str, now: str) -> Row:
        row: Row = {"Id": record_id, "IsDeleted": False, "CreatedDate": now, "CreatedById": USER_ID}
        for f in spec.fields.values():
            if f.type == "boolean" and f.name not in row:
                row[f.name] = False
        if spec.field("OwnerId"):
            row["OwnerId"] = USER_ID
        if spec.name == "Lead":
            row["Status"] = "Open - Not Contacted"
        if spec.custom:
            row["Name"] = f"A-{self.seq.last:07d}"
        return row

    def _save(self, obj: str, row: Row, before: Row | None) -> None:
        if self._undo is None:
            raise RuntimeError("writes must happen inside Org.batch()")
        self._undo.setdefault(row["Id"], (obj, before))
        if before is not None:
            self._index(obj, before, add=False)
        self.records[obj][row["Id"]] = row
        self._index(obj, row, add=True)

    def _index(self, obj: str, row: Row, *, add: bool) -> None:
        if row.get("IsDeleted"):
            return
        for f in self.objects[obj].fields.values():
            value = row.get(f.name)
            if not f.indexed or value is None:
                continue
            ids = self.index.setdefault((obj, f.name), {}).setdefault(_fold(value), set())
            if add:
                ids.add(row["Id"])
            else:
                ids.discard(row["Id"])


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _id18(record_id: str) -> str:
    return case_safe(record_id) if len(record_id) == 15 else record_id


def _now() -> str:
    return format_datetime(clock.now())
