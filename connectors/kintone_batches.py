"""Writing rows 100 at a time without losing a batch to one bad row (kintone is all-or-nothing).

A rejected batch is narrowed down: rows kintone names in ``errors`` (``records[i]…``) are rejected
with kintone's own message and the rest is resent; when kintone names no row (GAIA_RE20, 409 …) the
batch is bisected until the offending rows stand alone. Transient failures that outlast the retries,
and a spent daily budget, defer the unsent rows to the next run instead of failing them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from connectors.http import HttpError
from connectors.kintone_model import BudgetExhausted, KintoneApiError
from schemas.outcomes import RowOutcome

MAX_WRITE = 100
# sends the rows at these positions as one request; returns one outcome each, in order
SendBatch = Callable[[list[int]], list[RowOutcome]]


class BatchWriter:
    """Runs the batches of one write call, up to ``concurrency`` at a time."""

    def __init__(self, keys: Sequence[str], send: SendBatch, concurrency: int):
        self.keys = keys
        self.send = send
        self.concurrency = max(1, concurrency)
        self._stop: str | None = None  # why the remaining batches are deferred
        self._lock = threading.Lock()

    def run(self, *, ordered: bool = False) -> list[RowOutcome]:
        """Every row's outcome, in input order; ``ordered`` sends the batches one after another."""
        batches = [
            list(range(i, min(i + MAX_WRITE, len(self.keys)))) for i in range(0, len(self.keys), MAX_WRITE)
        ]
        results: dict[int, RowOutcome] = {}
        if ordered or self.concurrency == 1 or len(batches) == 1:
            for batch in batches:
                results.update(self._batch(batch))
        else:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="kintone-write") as pool:
                for done in pool.map(self._batch, batches):
                    results.update(done)
        return [results[i] for i in range(len(self.keys))]

    def _defer_all(self, positions: list[int], reason: str) -> dict[int, RowOutcome]:
        return {i: RowOutcome.deferred(self.keys[i], reason) for i in positions}

    def _batch(self, positions: list[int]) -> dict[int, RowOutcome]:
        if self._stop:
            return self._defer_all(positions, self._stop)
        try:
            return dict(zip(positions, self.send(positions), strict=True))
        except BudgetExhausted as exc:
            return self._halt(positions, str(exc))
        except KintoneApiError as exc:
            if not exc.blames_rows:
                if exc.status is None or exc.status in (429, 500, 502, 503, 504, 520):
                    return self._halt(positions, f"kintone unavailable: {exc}")
                raise
            return self._isolate(positions, exc)
        except HttpError as exc:  # no response at all after every retry
            return self._halt(positions, f"kintone unreachable: {exc}")

    def _halt(self, positions: list[int], reason: str) -> dict[int, RowOutcome]:
        with self._lock:
            self._stop = self._stop or reason
        return self._defer_all(positions, reason)

    def _isolate(self, positions: list[int], exc: KintoneApiError) -> dict[int, RowOutcome]:
        """Reject the rows kintone blamed and resend the others; bisect when it blamed none."""
        if len(positions) == 1:
            named = exc.row_errors().get(0)
            field, message = named if named else (None, exc.message)
            return {
                positions[0]: RowOutcome.rejected(self.keys[positions[0]], exc.code or "", message, field)
            }
        named_rows = {i: v for i, v in exc.row_errors().items() if i < len(positions)}
        if named_rows:
            out = {
                positions[i]: RowOutcome.rejected(self.keys[positions[i]], exc.code or "", message, field)
                for i, (field, message) in named_rows.items()
            }
            rest = [p for i, p in enumerate(positions) if i not in named_rows]
            if rest:
                out.update(self._batch(rest))
            return out
        middle = len(positions) // 2
        return {**self._batch(positions[:middle]), **self._batch(positions[middle:])}
