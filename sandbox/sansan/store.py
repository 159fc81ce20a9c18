"""The stand-in's SQLite store (`<data>/sansan.db`): users and their keys, cards, tags.

Times are kept as epoch seconds so window filters and keyset paging compare integers; the wire
form (ISO 8601 in JST) is made in ``sandbox.sansan.wire``. ``isLatest`` is kept up to date on every
write: the head card of a person is its newest completed card by exchange date, then registration.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.sansan.wire import CARD_TEXT_FIELDS

DB_NAME = "sansan.db"
TEXT_FIELDS = ("personId", "companyId", "ownerId", "exchangeDate", *CARD_TEXT_FIELDS, "entryStatus")
TIME_FIELDS = ("registered_s", "updated_s", "completed_s")
CARD_COLUMNS = ("id", *TEXT_FIELDS, *TIME_FIELDS)
ORDER_COLUMNS = {"registeredAt": "registered_s", "updatedAt": "updated_s", "completedAt": "completed_s"}


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str
    can_read_all: bool


ADMIN_ID = "A0000000000000000000000000000001"
USERS = (
    User(ADMIN_ID, "管理者 花子", "admin@renkei-demo.example.co.jp", True),
    User("A0000000000000000000000000000002", "営業 一郎", "ichiro@renkei-demo.example.co.jp", True),
    User("A0000000000000000000000000000003", "営業 二郎", "jiro@renkei-demo.example.co.jp", True),
    User("A0000000000000000000000000000004", "営業 三郎", "saburo@renkei-demo.example.co.jp", False),
)
USER_KEYS = {user.id: f"renkeiuser{user.id[-1]}".ljust(32, "0") for user in USERS}

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, can_read_all INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (key TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id));
CREATE TABLE IF NOT EXISTS cards (
    id TEXT PRIMARY KEY, {", ".join(f"{name} TEXT" for name in TEXT_FIELDS)},
    registered_s INTEGER NOT NULL, updated_s INTEGER NOT NULL, completed_s INTEGER NOT NULL DEFAULT 0,
    isLatest INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS cards_updated ON cards (updated_s, id);
CREATE INDEX IF NOT EXISTS cards_registered ON cards (registered_s, id);
CREATE INDEX IF NOT EXISTS cards_completed ON cards (completed_s, id);
CREATE INDEX IF NOT EXISTS cards_person ON cards (personId);
CREATE TABLE IF NOT EXISTS tags (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, ownerId TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS card_tags (
    card_id TEXT NOT NULL, tag_id TEXT NOT NULL, PRIMARY KEY (card_id, tag_id));
"""
HEAD_ORDER = "(entryStatus = 'completed') DESC, exchangeDate DESC, registered_s DESC, id DESC"


@dataclass(frozen=True)
class CardQuery:
    """Filters of `GET /bizCards` and `/bizCards/search`; ``after`` is the keyset cursor."""

    limit: int
    order_by: str = "updatedAt"
    descending: bool = False
    updated_from: int | None = None
    updated_to: int | None = None
    owner_id: str | None = None
    statuses: tuple[str, ...] | None = ("completed",)
    latest_only: bool = True
    company_name: str | None = None
    name: str | None = None
    email: str | None = None
    tel: str | None = None
    mobile: str | None = None
    tag_ids: tuple[str, ...] = ()
    after: tuple[int, str] | None = None


@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def add(self, clause: str, *args: Any) -> None:
        self.clauses.append(clause)
        self.args.extend(args)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SansanStore:
    """One SQLite file; a connection per call, writes serialised by a lock."""

    def __init__(self, data_dir: Path):
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_NAME
        self._write_lock = threading.Lock()
        with self.connect() as db:
            db.executescript(SCHEMA)
            db.executemany(
                "INSERT OR IGNORE INTO users VALUES (?, ?, ?, ?)",
                [(u.id, u.name, u.email, int(u.can_read_all)) for u in USERS],
            )
            db.executemany(
                "INSERT OR IGNORE INTO api_keys VALUES (?, ?)", [(k, u) for u, k in USER_KEYS.items()]
            )
            db.execute("INSERT OR IGNORE INTO meta VALUES ('secret', ?)", (secrets.token_hex(16),))

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        try:
            with db:
                yield db
        finally:
            db.close()

    def secret(self) -> str:
        with self.connect() as db:
            return str(db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0])

    def add_key(self, key: str, user_id: str) -> None:
        with self._write_lock, self.connect() as db:
            db.execute("INSERT OR REPLACE INTO api_keys VALUES (?, ?)", (key, user_id))

    def user_for_key(self, key: str) -> User | None:
        with self.connect() as db:
            row = db.execute(
                "SELECT u.* FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key = ?", (key,)
            ).fetchone()
        return None if row is None else User(row["id"], row["name"], row["email"], bool(row["can_read_all"]))

    def users(self) -> dict[str, sqlite3.Row]:
        with self.connect() as db:
            return {row["id"]: row for row in db.execute("SELECT * FROM users")}

    def card_count(self) -> int:
        with self.connect() as db:
            return int(db.execute("SELECT count(*) FROM cards").fetchone()[0])

    def put_cards(
        self,
        cards: Sequence[Mapping[str, Any]],
        tags: Mapping[str, Iterable[str]],
        former_persons: Iterable[str] = (),
    ) -> None:
        """Insert or replace whole cards and their tag links, then refresh the persons' head cards.

        ``former_persons`` are persons a card was moved away from: their head card changes too.
        """
        columns = ", ".join(CARD_COLUMNS)
        marks = ", ".join("?" for _ in CARD_COLUMNS)
        with self._write_lock, self.connect() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO cards ({columns}) VALUES ({marks})",
                [tuple(card.get(name) for name in CARD_COLUMNS) for card in cards],
            )
            for card_id, tag_ids in tags.items():
                db.execute("DELETE FROM card_tags WHERE card_id = ?", (card_id,))
                db.executemany("INSERT INTO card_tags VALUES (?, ?)", [(card_id, t) for t in tag_ids])
            persons = {str(card["personId"]) for card in cards if card.get("personId")}
            self._refresh_heads(db, sorted(persons.union(former_persons)))

    def _refresh_heads(self, db: sqlite3.Connection, persons: list[str]) -> None:
        db.executemany(
            "UPDATE cards SET isLatest = (id = (SELECT id FROM cards c WHERE c.personId = cards.personId"
            f" ORDER BY {HEAD_ORDER} LIMIT 1)) WHERE personId = ?",
            [(p,) for p in persons],
        )

    def put_tags(self, tags: Iterable[tuple[str, str, str, str]]) -> None:
        with self._write_lock, self.connect() as db:
            db.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?)", list(tags))

    def card(self, card_id: str) -> sqlite3.Row | None:
        with self.connect() as db:
            row: sqlite3.Row | None = db.execute("SELECT * FROM cards WHERE id = ?", (card_id,)).fetchone()
            return row

    def head_card(self, person_id: str) -> sqlite3.Row | None:
        with self.connect() as db:
            row: sqlite3.Row | None = db.execute(
                f"SELECT * FROM cards WHERE personId = ? ORDER BY {HEAD_ORDER} LIMIT 1", (person_id,)
            ).fetchone()
            return row

    def find_cards(self, query: CardQuery) -> list[sqlite3.Row]:
        """At most ``query.limit + 1`` cards in keyset order (the extra row says there is more)."""
        column = ORDER_COLUMNS[query.order_by]
        # when ordering by another column, walk that column's index rather than sort the window
        updated = "updated_s" if column == "updated_s" else "+updated_s"
        where = _Where()
        if query.updated_from is not None:
            where.add(f"{updated} >= ?", query.updated_from)
        if query.updated_to is not None:
            where.add(f"{updated} <= ?", query.updated_to)
        if query.owner_id is not None:
            where.add("ownerId = ?", query.owner_id)
        if query.statuses is not None:
            where.add(f"entryStatus IN ({', '.join('?' for _ in query.statuses)})", *query.statuses)
        if query.latest_only:
            where.add("isLatest = 1")
        if query.company_name:
            where.add("companyName LIKE ? ESCAPE '\\'", f"%{_like(query.company_name)}%")
        if query.name:
            where.add(
                "(coalesce(lastName, '') || coalesce(firstName, '')) LIKE ? ESCAPE '\\'",
                f"{_like(query.name)}%",
            )
        if query.email:
            where.add("lower(email) = lower(?)", query.email)
        if query.tel:
            where.add("tel LIKE ? ESCAPE '\\'", f"%{_like(query.tel)}%")
        if query.mobile:
            where.add("mobile LIKE ? ESCAPE '\\'", f"%{_like(query.mobile)}%")
        if query.tag_ids:
            marks = ", ".join("?" for _ in query.tag_ids)
            where.add(
                f"EXISTS (SELECT 1 FROM card_tags t WHERE t.card_id = cards.id AND t.tag_id IN ({marks}))",
                *query.tag_ids,
            )
        if query.after is not None:
            where.add(f"({column}, id) {'<' if query.descending else '>'} (?, ?)", *query.after)
        direction = "DESC" if query.descending else "ASC"
        sql = f"SELECT * FROM cards{where.sql()} ORDER BY {column} {direction}, id {direction} LIMIT ?"
        with self.connect() as db:
            return list(db.execute(sql, [*where.args, query.limit + 1]))

    def tags_of(self, card_ids: Sequence[str]) -> dict[str, list[sqlite3.Row]]:
        found: dict[str, list[sqlite3.Row]] = {card_id: [] for card_id in card_ids}
        if not card_ids:
            return found
        marks = ", ".join("?" for _ in card_ids)
        with self.connect() as db:
            for row in db.execute(
                "SELECT ct.card_id, t.* FROM card_tags ct JOIN tags t ON t.id = ct.tag_id"
                f" WHERE ct.card_id IN ({marks}) ORDER BY ct.card_id, t.id",
                list(card_ids),
            ):
                found[row["card_id"]].append(row)
        return found

    def find_tags(
        self,
        *,
        owner_id: str | None,
        viewer_id: str,
        types: tuple[str, ...],
        name: str | None,
        after: str | None,
        limit: int,
    ) -> list[sqlite3.Row]:
        """Tags the viewer may see: their own, and public or shared ones; keyset on id."""
        where = _Where()
        where.add("(ownerId = ? OR type != 'private')", viewer_id)
        if owner_id is not None:
            where.add("ownerId = ?", owner_id)
        if types:
            where.add(f"type IN ({', '.join('?' for _ in types)})", *types)
        if name:
            where.add("name LIKE ? ESCAPE '\\'", f"%{_like(name)}%")
        if after is not None:
            where.add("id > ?", after)
        with self.connect() as db:
            return list(
                db.execute(f"SELECT * FROM tags{where.sql()} ORDER BY id LIMIT ?", [*where.args, limit + 1])
            )
