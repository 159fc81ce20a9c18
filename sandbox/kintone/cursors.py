"""The cursor API's lifecycle: at most 10 live cursors per domain, each expiring 10 minutes after last use."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sandbox.kintone.errors import KintoneError

MAX_CURSORS = 10
LIFETIME = 600.0


@dataclass
class Cursor:
    id: str
    app: int
    ids: list[int]  # the record set is fixed when the cursor is created
    fields: list[str] | None
    size: int
    position: int = 0
    expires: float = 0.0


class Cursors:
    def __init__(self) -> None:
        self.live: dict[str, Cursor] = {}
        self.clock_offset = 0.0  # /_sandbox/clock moves time forward to test expiry

    def now(self) -> float:
        return time.monotonic() + self.clock_offset

    def _purge(self) -> None:
        now = self.now()
        for cid in [cid for cid, c in self.live.items() if c.expires <= now]:
            del self.live[cid]

    def live_ids(self) -> list[str]:
        self._purge()
        return list(self.live)

    def open(self, app: int, ids: list[int], fields: list[str] | None, size: int) -> Cursor:
        self._purge()
        if len(self.live) >= MAX_CURSORS:
            raise KintoneError("GAIA_TM12")
        cursor = Cursor(str(uuid.uuid4()), app, ids, fields, size, expires=self.now() + LIFETIME)
        self.live[cursor.id] = cursor
        return cursor

    def get(self, cursor_id: str) -> Cursor:
        self._purge()
        cursor = self.live.get(cursor_id)
        if cursor is None:
            raise KintoneError("GAIA_RE21")
        return cursor

    def take(self, cursor: Cursor) -> tuple[list[int], bool]:
        """The next page of ids and whether more remain; a drained cursor is freed."""
        page = cursor.ids[cursor.position : cursor.position + cursor.size]
        cursor.position += len(page)
        more = cursor.position < len(cursor.ids)
        if more:
            cursor.expires = self.now() + LIFETIME
        else:
            self.live.pop(cursor.id, None)
        return page, more

    def close(self, cursor_id: str) -> None:
        self.get(cursor_id)
        del self.live[cursor_id]
