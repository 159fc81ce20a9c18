"""Writing rows in the fewest round trips without losing a batch to one bad row (kintone is all-or-nothing).

Rows go 100 to a request and up to 20 requests to a bulkRequest, in the fewest calls, several at once. kintone
runs a bulkRequest as one transaction: when it refuses one request, it rolls all of them back and names
the refused one. That request is narrowed down alone; the requests before and after it are resent.
A request narrowed down alone: rows kintone names in ``errors`` (``records[i]…``) are rejected with
kintone's own message and the rest is resent; when kintone names no row (GAIA_RE20, 409 …) the batch
is bisected until the offending rows stand alone. Transient failures that outlast the retries, and a
spent daily budget, defer the unsent rows to the next run instead of failing them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from connectors.http import HttpError
from connectors.kintone_model import BudgetExhausted, KintoneApiError
from schemas.outcomes import RowOutcome

MAX_WRITE = 100  # records a request
MAX_BULK = 20  # requests a bulkRequest
# sends each list of positions as one request, all in one call (a bulkRequest when there are several);
# returns one outcome per row, in order, per request
SendBatches = Callable[[list[list[int]]], list[list[RowOutcome]]]
Outcomes = dict[int, RowOutcome]


class BatchWriter:
    """Runs the batches of one write: ``per_call`` requests a call, up to ``concurrency`` calls at once."""

    def __init__(self, keys: Sequence[str], send: SendBatches, concurrency: int, per_call: int = MAX_BULK):
        self.keys = keys
        self.send = send
        self.concurrency = max(1, concurrency)
        self.per_call = max(1, min(per_call, MAX_BULK))
        self._stop: str | None = None  # why the remaining batches are deferred
        self._lock = threading.Lock()

    def run(self, *, ordered: bool = False) -> list[RowOutcome]:
        """Every row's outcome, in input order; ``ordered`` sends the calls one after another."""
        batches = [
            list(range(i, min(i + MAX_WRITE, len(self.keys)))) for i in range(0, len(self.keys), MAX_WRITE)
        ]
        # the fewest calls, of even size when there are several (23 requests: 12 and 11 at once, not
        # 20 then 3); a stream's last requests are not spread over more calls for wall time, since every
        # call is a round trip kintone answers (bench/RESULTS.md, "requests issued ÷ minimum")
        fewest = max(1, -(-len(batches) // self.per_call))
        size = self.per_call if ordered else max(1, -(-len(batches) // fewest))
        calls = [batches[i : i + size] for i in range(0, len(batches), size)]
        results: Outcomes = {}
        if ordered or self.concurrency == 1 or len(calls) == 1:
            for call in calls:
                results.update(self._call(call))
        else:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="kintone-write") as pool:
                for done in pool.map(self._call, calls):
                    results.update(done)
        return [results[i] for i in range(len(self.keys))]

    def _defer_all(self, positions: list[int], reason: str) -> Outcomes:
        return {i: RowOutcome.deferred(self.keys[i], reason) for i in positions}

    def _call(self, batches: list[list[int]]) -> Outcomes:
        """One call of these batches; a refused one is narrowed down, the others resent in order."""
        if not batches:
            return {}
        every = [p for batch in batches for p in batch]
        if self._stop:
            return self._defer_all(every, self._stop)
        try:
            done = self.send(batches)
            pairs = zip(batches, done, strict=True)
            return {p: o for batch, outs in pairs for p, o in zip(batch, outs, strict=True)}
        except BudgetExhausted as exc:
            if len(batches) > 1:  # what is left of the budget may still pay for fewer requests
                return {**self._call(batches[:1]), **self._call(batches[1:])}
            return self._halt(every, str(exc))
        except KintoneApiError as exc:
            if not exc.blames_rows:
                if exc.status is None or (exc.rule is not None and exc.rule.retried):  # the error policy's
                    return self._halt(every, f"kintone unavailable: {exc}")
                raise
            if len(batches) == 1:
                return self._isolate(batches[0], exc)
            at = exc.bulk_index
            if at is None or at >= len(batches):  # kintone named no request: each goes alone
                return {p: o for batch in batches for p, o in self._call([batch]).items()}
            before = self._call(batches[:at])  # in order: kintone may see the same key in two requests
            refused = self._isolate(batches[at], exc)
            return {**before, **refused, **self._call(batches[at + 1 :])}
        except HttpError as exc:  # no response at all after every retry
            return self._halt(every, f"kintone unreachable: {exc}")

    def _halt(self, positions: list[int], reason: str) -> Outcomes:
        with self._lock:
            self._stop = self._stop or reason
        return self._defer_all(positions, reason)

    def _isolate(self, positions: list[int], exc: KintoneApiError) -> Outcomes:
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
                out.update(self._call([rest]))
            return out
        middle = len(positions) // 2
        return {**self._call([positions[:middle]]), **self._call([positions[middle:]])}
