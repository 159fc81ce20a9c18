"""Sansan Open API client (business cards, 名刺): read cards updated in a window, page by page.

Sansan allows 10 requests per second per API key and answers 429 with ``retry_after`` (seconds) in
the JSON body beyond that. Every request, retries included, first takes a token from a client-side
bucket kept below that limit (8/s by default); a 429's ``retry_after`` pauses the bucket, so the
next attempt (and any other request on this key) waits exactly as long as the service asked.

Answers are the service's JSON (dicts), as the kintone and Salesforce connectors return theirs;
schemas.sansan_card reads a card into its typed shape.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx

from connectors.http import Decision, HttpError, HttpPolicy, RetryingClient, classify_status
from schemas.errors import Action

MAX_PAGE_SIZE = 300


class TokenBucket:
    """At most ``rate`` requests a second on average, bursts of ``burst``; shared by threads."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least one")
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self._clock = clock
        self._sleep = sleep
        self._next = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a token; return the seconds waited."""
        with self._lock:
            now = self._clock()
            due = max(self._next, now)
            wait = max(0.0, due - self.tolerance - now)
            self._next = due + self.interval
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """Hand out no token for ``seconds`` from now (the service said to wait)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds + self.tolerance)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds a 429 asks for: the body's ``retry_after``, else a Retry-After header."""
    try:
        body: Any = response.json()
        return max(0.0, float(body["retry_after"]))
    except (ValueError, KeyError, TypeError):
        pass
    header = response.headers.get("Retry-After")
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def _card_filters(
    range: str,
    entry_status: str | Sequence[str],
    include_past: bool,
    include_tags: bool,
    page_size: int,
    order_by: str,
) -> dict[str, Any]:
    """The query parameters `/bizCards` and `/bizCards/search` share."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size is 1 to {MAX_PAGE_SIZE}")
    return {
        "range": range,
        "entryStatus": [entry_status] if isinstance(entry_status, str) else list(entry_status),
        "includePastBizCards": str(include_past).lower(),
        "includeTags": str(include_tags).lower(),
        "orderBy": order_by,
        "orderDirection": "asc",
        "limit": page_size,
    }


def _item(body: Any) -> Any:
    """The object in a single-item answer (``item``; defensive about ``data``)."""
    if isinstance(body, dict):
        return body.get("item") or body.get("data") or body
    return body


class SansanClient:
    """The Open API under ``<base_url>/<version>`` with one user's key; read only."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        version: str = "v3.2",
        rate_per_second: float = 8.0,
        policy: HttpPolicy | None = None,
    ):
        self.bucket = TokenBucket(rate_per_second)
        self.requests_made = 0
        self.rate_limited = 0
        self.rate_limit_wait_seconds = 0.0
        self.http = RetryingClient(
            f"{base_url.rstrip('/')}/{version.strip('/')}",
            policy,
            headers={"X-Sansan-Api-Key": api_key, "Accept": "application/json"},
            classify=self._classify,
            event_hooks={"request": [self._throttle]},
        )

    def _throttle(self, request: httpx.Request) -> None:
        self.rate_limit_wait_seconds += self.bucket.acquire()
        self.requests_made += 1

    def _classify(self, response: httpx.Response) -> Decision:
        """The policy's status rule; told to wait (429), pause the bucket for ``retry_after`` and retry
        at once (the bucket does the waiting)."""
        decision = classify_status(response)
        if decision.rule is None or decision.rule.action is not Action.WAIT_AND_RETRY:
            return decision
        self.rate_limited += 1
        wait = retry_after(response)
        if wait is None:
            return replace(decision, wait=None)
        self.bucket.pause(wait)
        return replace(decision, wait=0.0)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.http.get(path, params=params).json()

    def _maybe(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        try:
            return _item(self._get(path, params))
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def me(self) -> dict[str, Any]:
        """The key's own user: the cheapest check that the key works."""
        return _item(self._get("/me"))

    def iter_cards(
        self,
        updated_from: datetime,
        updated_to: datetime,
        *,
        range: str = "all",
        entry_status: str | Sequence[str] = "completed",
        include_past: bool = True,
        include_tags: bool = True,
        page_size: int = MAX_PAGE_SIZE,
        order_by: str = "registeredAt",
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of cards updated in the inclusive window [updated_from, updated_to], as the API sends
        them (schemas.sansan_card types them).

        Ordered by registration time (which never changes) so a card updated while we page is
        neither skipped nor read twice by the service's keyset cursor.
        """
        if updated_from.tzinfo is None or updated_to.tzinfo is None:
            raise ValueError("updated_from and updated_to must carry a time zone (Asia/Tokyo, UTC …)")
        params = {
            "updatedFrom": updated_from.isoformat(),
            "updatedTo": updated_to.isoformat(),
            **_card_filters(range, entry_status, include_past, include_tags, page_size, order_by),
        }
        yield from self._card_pages("/bizCards", params)

    def search_cards(
        self,
        *,
        email: str | None = None,
        company_name: str | None = None,
        name: str | None = None,
        range: str = "all",
        entry_status: str | Sequence[str] = "completed",
        include_past: bool = False,
        include_tags: bool = False,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of cards matching every criterion given (email exact, company partial, name prefix)."""
        criteria = {"email": email, "companyName": company_name, "name": name}
        params = {
            **{k: v for k, v in criteria.items() if v},
            **_card_filters(range, entry_status, include_past, include_tags, page_size, "registeredAt"),
        }
        yield from self._card_pages("/bizCards/search", params)

    def _card_pages(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        while True:
            body = self._get(path, params)
            yield list(body.get("data") or [])
            if not body.get("hasMore") or not body.get("nextPageToken"):
                return
            params["nextPageToken"] = body["nextPageToken"]

    def get_card(self, card_id: str, *, include_tags: bool = True) -> dict[str, Any] | None:
        """One card, or None when the id is unknown (or not visible to this key)."""
        return self._maybe(f"/bizCards/{card_id}", {"includeTags": str(include_tags).lower()})

    def get_person(self, person_id: str) -> dict[str, Any] | None:
        """A person (cards of one individual merged) with its head card (``headBizCard``), or None."""
        return self._maybe(f"/persons/{person_id}")

    def tags(self, *, range: str = "all", types: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every tag the key may see, all pages."""
        params: dict[str, Any] = {"range": range, "type": list(types), "limit": 100}
        found: list[dict[str, Any]] = []
        while True:
            body = self._get("/tags", params)
            found.extend(body.get("data") or [])
            if not body.get("hasMore") or not body.get("nextPageToken"):
                return found
            params["nextPageToken"] = body["nextPageToken"]

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SansanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
