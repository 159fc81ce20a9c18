"""The stand-in's state: apps, records, API tokens and daily request counts, in memory and in SQLite.

Every change runs inside ``transaction()``: it is written through to ``<data>/kintone.db`` and, if any
part of the request fails, undone in memory and rolled back on disk — kintone's all-or-nothing rule.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, Field

from sandbox.kintone.fields import FieldDef
from schemas import clock

RECORD_RIGHTS = ("view", "add", "edit", "delete")
SCHEMA = """
create table if not exists apps (id integer primary key, body text not null);
create table if not exists records (app integer, id integer, body text not null, primary key (app, id));
create table if not exists tokens (token text primary key, app integer not null, rights text not null);
create table if not exists usage (day text, app integer, count integer not null, primary key (day, app));
create table if not exists files (
    key text primary key, app integer, name text not null, content_type text not null, body blob not null
);
create table if not exists comments (
    app integer, record integer, id integer, body text, primary key (app, record, id)
);
"""
Record = dict[str, Any]


class App(BaseModel):
    """An app: its deployed settings, the preview ones being edited (form, layout, general settings,
    views), and its id counters."""

    id: int
    name: str
    space: int | None = None
    guest: bool = False
    fields: dict[str, FieldDef] = Field(default_factory=dict)
    preview: dict[str, FieldDef] = Field(default_factory=dict)
    revision: int = 1
    preview_revision: int = 1
    deployed: bool = False
    next_id: int = 1
    next_row: int = 1  # table rows are numbered per app, never reused
    created_at: str = ""
    layout: list[dict[str, Any]] | None = None  # None: never set, one row per field
    preview_layout: list[dict[str, Any]] | None = None
    settings: dict[str, Any] = Field(default_factory=dict)  # general settings as last set; {}: a new app's
    preview_settings: dict[str, Any] = Field(default_factory=dict)
    views: dict[str, dict[str, Any]] = Field(default_factory=dict)  # by name, as views.json returns them
    preview_views: dict[str, dict[str, Any]] = Field(default_factory=dict)
    next_view: int = 1


class TokenGrant(BaseModel):
    app: int
    rights: list[str] = Field(default_factory=lambda: list(RECORD_RIGHTS))


class Store:
    """In-memory indexes over a SQLite file; one lock serialises every request, as a single node would."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.executescript("pragma journal_mode=wal; pragma synchronous=normal;" + SCHEMA)
        self.apps: dict[int, App] = {}
        self.records: dict[int, dict[int, Record]] = {}
        self.unique: dict[int, dict[str, dict[str, int]]] = {}
        self.tokens: dict[str, TokenGrant] = {}
        self.usage: dict[str, dict[int, int]] = {}
        self._undo: list[Callable[[], None]] | None = None
        self._counters: set[int] = set()
        self._dirty: dict[tuple[int, int], Record | None] = {}
        self._depth = 0
        self._load()

    def _load(self) -> None:
        for (body,) in self.db.execute("select body from apps"):
            app = App.model_validate_json(body)
            self.apps[app.id] = app
            self.records[app.id] = {}
            self._reindex(app.id)
        for app_id, rid, body in self.db.execute("select app, id, body from records"):
            self._set_record(app_id, rid, json.loads(body), persist=False)
        for token, app_id, rights in self.db.execute("select token, app, rights from tokens"):
            self.tokens[token] = TokenGrant(app=app_id, rights=json.loads(rights))
        for day, app_id, count in self.db.execute("select day, app, count from usage"):
            self.usage.setdefault(day, {})[app_id] = count

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: nested uses join the outermost one (bulkRequest wraps record calls)."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._undo = []
                self._counters = set()
                self._dirty = {}
                self.db.execute("begin")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self.db.execute("rollback")
                    for undo in reversed(self._undo or []):
                        undo()
                    self._undo = None
                raise
            self._depth -= 1
            if outer:
                for app_id in self._counters:
                    app = self.apps[app_id]
                    self.db.execute("update apps set body = ? where id = ?", (app.model_dump_json(), app_id))
                self._write_records()
                self.db.execute("commit")
                self._undo = None

    def _remember(self, undo: Callable[[], None]) -> None:
        if self._undo is None:
            raise RuntimeError("store changes must run inside transaction()")
        self._undo.append(undo)

    def save_app(self, app: App) -> None:
        old = self.apps.get(app.id)
        snapshot = old.model_copy(deep=True) if old is not None else None
        self._remember(lambda: self._restore_app(app.id, snapshot))
        self.apps[app.id] = app
        self.records.setdefault(app.id, {})
        self._reindex(app.id)
        self.db.execute("insert or replace into apps values (?, ?)", (app.id, app.model_dump_json()))

    def _restore_app(self, app_id: int, snapshot: App | None) -> None:
        if snapshot is None:
            self.apps.pop(app_id, None)
            self.records.pop(app_id, None)
            self.unique.pop(app_id, None)
        else:
            self.apps[app_id] = snapshot
            self._reindex(app_id)

    def next_app_id(self) -> int:
        return max(self.apps, default=0) + 1

    def next_record_id(self, app: App) -> int:
        """Take the next record id (given back when the request fails as a whole)."""
        return self._take(app, "next_id")

    def next_row_id(self, app: App) -> int:
        """Take the next table-row id, numbered per app like record ids."""
        return self._take(app, "next_row")

    def _take(self, app: App, counter: str) -> int:
        taken: int = getattr(app, counter)
        setattr(app, counter, taken + 1)
        self._remember(lambda: setattr(app, counter, taken))
        self._counters.add(app.id)  # written once, when the transaction commits
        return taken

    def put_record(self, app_id: int, rid: int, record: Record | None) -> None:
        """Insert, replace or (``None``) delete one record, undoably."""
        old = self.records[app_id].get(rid)
        self._remember(lambda: self._set_record(app_id, rid, old, persist=False))
        self._set_record(app_id, rid, record, persist=True)

    def _set_record(self, app_id: int, rid: int, record: Record | None, *, persist: bool) -> None:
        index = self.unique.get(app_id, {})
        old = self.records[app_id].get(rid)
        for code, values in index.items():
            if old is not None and old.get(code) not in (None, ""):
                values.pop(str(old[code]), None)
            if record is not None and record.get(code) not in (None, ""):
                values[str(record[code])] = rid
        if record is None:
            self.records[app_id].pop(rid, None)
        else:
            self.records[app_id][rid] = record
        if persist:
            self._dirty[(app_id, rid)] = record

    def _write_records(self) -> None:
        """The transaction's record changes, last state of each record, in two statements."""
        changes = self._dirty.items()
        gone = [key for key, record in changes if record is None]
        kept = [(*key, orjson.dumps(record).decode()) for key, record in changes if record is not None]
        self.db.executemany("delete from records where app = ? and id = ?", gone)
        self.db.executemany("insert or replace into records values (?, ?, ?)", kept)
        self._dirty = {}

    def _reindex(self, app_id: int) -> None:
        app = self.apps[app_id]
        codes = [f.code for f in app.fields.values() if f.unique]
        index: dict[str, dict[str, int]] = {code: {} for code in codes}
        for rid, record in self.records.get(app_id, {}).items():
            for code in codes:
                if record.get(code) not in (None, ""):
                    index[code][str(record[code])] = rid
        self.unique[app_id] = index

    def issue_token(self, app_id: int, rights: list[str] | None = None, token: str | None = None) -> str:
        """A new API token bound to one app (kintone tokens are 40 alphanumerics)."""
        token = token or secrets.token_hex(20)
        grant = TokenGrant(app=app_id, rights=rights or list(RECORD_RIGHTS))
        with self.transaction():
            self.tokens[token] = grant
            self._remember(lambda: self._drop_token(token))
            self.db.execute(
                "insert or replace into tokens values (?, ?, ?)", (token, app_id, json.dumps(grant.rights))
            )
        return token

    def _drop_token(self, token: str) -> None:
        self.tokens.pop(token, None)

    def count_request(self, app_id: int) -> None:
        """One more request against ``app_id`` today; kintone's day runs 09:00–08:59 JST, the UTC day."""
        day = clock.now().date().isoformat()
        with self.lock:
            per_app = self.usage.setdefault(day, {})
            per_app[app_id] = per_app.get(app_id, 0) + 1
            if self._depth == 0:
                self.db.execute(
                    "insert or replace into usage values (?, ?, ?)", (day, app_id, per_app[app_id])
                )

    def save_upload(self, name: str, content_type: str, body: bytes) -> str:
        """A file in the temporary area (no app yet); its key attaches it to one FILE field value."""
        key = str(uuid.uuid4())
        with self.transaction():
            self.db.execute("insert into files values (?, null, ?, ?, ?)", (key, name, content_type, body))
        return key

    def attach_upload(self, key: str, app_id: int) -> dict[str, str] | None:
        """Move an uploaded file into ``app_id`` under a new download key (kintone's two kinds of
        key); None when no upload has that key. Runs inside the record write's transaction."""
        found = self.db.execute(
            "select name, content_type, length(body) from files where key = ? and app is null", (key,)
        ).fetchone()
        if found is None:
            return None
        name, content_type, size = found
        stored = clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(18).upper()
        self.db.execute("update files set key = ?, app = ? where key = ?", (stored, app_id, key))
        return {"contentType": content_type, "fileKey": stored, "name": name, "size": str(size)}

    def attached_file(self, key: str) -> tuple[int, str, str, bytes] | None:
        """(app, name, content type, bytes) of a file attached to a record, by its download key."""
        found = self.db.execute(
            "select app, name, content_type, body from files where key = ? and app is not null", (key,)
        ).fetchone()
        return None if found is None else (int(found[0]), str(found[1]), str(found[2]), bytes(found[3]))

    def comments(self, app_id: int, record_id: int) -> list[dict[str, Any]]:
        """A record's comments, oldest first, each with its ``id``."""
        rows = self.db.execute(
            "select id, body from comments where app = ? and record = ? and body is not null order by id",
            (app_id, record_id),
        )
        return [{"id": str(cid), **json.loads(body)} for cid, body in rows]

    def add_comment(self, app_id: int, record_id: int, comment: dict[str, Any]) -> int:
        """Store a comment under the record's next id (per record, never reused); inside a transaction."""
        (last,) = self.db.execute(
            "select coalesce(max(id), 0) from comments where app = ? and record = ?", (app_id, record_id)
        ).fetchone()
        self.db.execute(
            "insert into comments values (?, ?, ?, ?)", (app_id, record_id, last + 1, json.dumps(comment))
        )
        return int(last) + 1

    def delete_comment(self, app_id: int, record_id: int, comment_id: int) -> None:
        """Blank a comment out, keeping its row so its id is not handed out again; inside a transaction."""
        self.db.execute(
            "update comments set body = null where app = ? and record = ? and id = ?",
            (app_id, record_id, comment_id),
        )

    def close(self) -> None:
        with self.lock:
            self.db.close()
