"""The one HTTP policy every connector uses: timeouts, bounded retries with backoff and jitter.

What is retried is the error policy's (schemas/errors.py): transient failures (429, most 5xx,
connection errors, timeouts) are retried here, inside one step; the rest surface at once with the
service's own message. Services that say more than the status (kintone's error codes, Sansan's
``retry_after`` field) pass a ``classify`` function that turns a response into a decision.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import httpx

from schemas.errors import UNEXPECTED, Rule, causes, error_rule, rule_for, status_rule

log = logging.getLogger("renkei.http")

MASK = "********"
CREDENTIAL_HEADER = re.compile(r"auth|token|key|secret|cookie|session", re.IGNORECASE)


class Action(Enum):
    OK = "ok"
    RETRY = "retry"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    action: Action
    wait: float | None = None  # seconds the service asked us to wait, if it said
    rule: Rule | None = None  # the policy's row that decided (None for an answer that is fine)


def decide(rule: Rule | None, wait: float | None = None) -> Decision:
    """The policy's rule as the client's decision: no rule is fine, a retried rule retries."""
    if rule is None:
        return Decision(Action.OK)
    return Decision(Action.RETRY if rule.retried else Action.FAIL, wait, rule)


Classifier = Callable[[httpx.Response], Decision]


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts and retry bounds; the same numbers drive the requests-based Salesforce session."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_total_wait: float = 300.0
    verify: bool | str = True

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to base·2^attempt, capped."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))


class HttpError(Exception):
    """A request that failed for good: status, the service's code and message, never a secret.

    ``rule`` is the policy's row for it; ``attempts`` how many times it was sent."""

    def __init__(
        self,
        method: str,
        url: str,
        status: int | None,
        code: str | None,
        message: str,
        *,
        rule: Rule | None = None,
        attempts: int = 1,
    ):
        self.method = method
        self.url = url
        self.status = status
        self.code = code
        self.message = message
        self.rule = rule or rule_for(status, code)
        self.attempts = attempts
        where = f"{method} {url}"
        status_text = f"HTTP {status}" if status is not None else "no response"
        code_text = f" {code}" if code else ""
        super().__init__(f"{where}: {status_text}{code_text}: {message}")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header in seconds or as an HTTP date, as seconds to wait."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify_status(response: httpx.Response) -> Decision:
    """The policy's status rule: 2xx/3xx fine; retried statuses wait as Retry-After says, if it does."""
    return decide(status_rule(response.status_code), retry_after_seconds(response.headers.get("Retry-After")))


def service_message(response: httpx.Response) -> tuple[str | None, str]:
    """The service's own error code and message, from the usual JSON shapes or the text."""
    try:
        body: Any = response.json()
    except ValueError:
        return None, response.text[:500] or response.reason_phrase
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        code = body.get("code") or body.get("errorCode") or body.get("error")
        message = body.get("message") or body.get("error_description") or body.get("detail") or body
        return (str(code) if code is not None else None), str(message)[:1000]
    return None, str(body)[:500]


@dataclass
class RetryStats:
    attempts: int = 0
    retries: int = 0
    waited: float = 0.0
    by_reason: dict[str, int] = field(default_factory=dict)

    def note(self, reason: str, wait: float) -> None:
        self.retries += 1
        self.waited += wait
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1


class RetryingClient:
    """An httpx.Client whose ``request`` retries transient failures by the policy."""

    def __init__(
        self,
        base_url: str,
        policy: HttpPolicy | None = None,
        headers: dict[str, str] | None = None,
        classify: Classifier = classify_status,
        sleep: Callable[[float], None] = time.sleep,
        **client_kwargs: Any,
    ):
        self.policy = policy or HttpPolicy()
        self.classify = classify
        self.stats = RetryStats()
        self._sleep = sleep
        self.client = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=self.policy.timeout(),
            verify=self.policy.verify,
            trust_env=False,
            **client_kwargs,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        classify: Classifier | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries; return the first OK response or raise HttpError.

        With ``stream=True`` only the status is awaited: the caller reads the body (``iter_bytes``)
        and must close the response.
        """
        classify = classify or self.classify
        policy = self.policy
        waited = 0.0
        for attempt in range(policy.max_attempts):
            self.stats.attempts += 1
            try:
                response = self.client.send(self.client.build_request(method, url, **kwargs), stream=stream)
            except httpx.TransportError as exc:
                reason, response_or_none = type(exc).__name__, None
                decision = decide(error_rule(exc) or UNEXPECTED)
                if decision.action is Action.FAIL:
                    raise HttpError(method, url, None, reason, str(exc), rule=decision.rule) from None
            else:
                decision = classify(response)
                if decision.action is Action.OK:
                    return response
                reason, response_or_none = f"HTTP {response.status_code}", response
                if stream:
                    response.read()
                    response.close()
                if decision.action is Action.FAIL:
                    raise self._error(method, url, response, decision, attempt + 1)
            wait = decision.wait if decision.wait is not None else policy.backoff(attempt)
            last = attempt + 1 >= policy.max_attempts or waited + wait > policy.max_total_wait
            if last:
                if response_or_none is not None:
                    raise self._error(method, url, response_or_none, decision, attempt + 1)
                raise HttpError(
                    method,
                    url,
                    None,
                    reason,
                    f"gave up after {attempt + 1} attempts",
                    rule=decision.rule,
                    attempts=attempt + 1,
                )
            log.info(
                "retrying %s %s after %s (attempt %d, wait %.2fs)", method, url, reason, attempt + 1, wait
            )
            self.stats.note(reason, wait)
            self._sleep(wait)
            waited += wait
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(
        self, method: str, url: str, response: httpx.Response, decision: Decision, attempts: int
    ) -> HttpError:
        code, message = service_message(response)
        for credential in sent_credentials(response.request):
            message = message.replace(credential, MASK)  # a service that repeats what it was sent
        where = str(response.request.url.copy_with(query=None))
        return HttpError(
            method, where, response.status_code, code, message, rule=decision.rule, attempts=attempts
        )

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RetryingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def gave_up(error: BaseException, method: str, url: str, attempts: int) -> HttpError:
    """A library's connection error after its own retries (the Salesforce session's), as the HttpError
    this client raises: the policy's rule, the attempts, the innermost cause instead of the pool's text."""
    last = list(causes(error))[-1]
    message = f"gave up after {attempts} attempts: {type(last).__name__}: {last}"
    return HttpError(
        method,
        url.split("?")[0],
        None,
        type(error).__name__,
        message,
        rule=error_rule(error),
        attempts=attempts,
    )


def sent_credentials(request: httpx.Request) -> list[str]:
    """The credentials a request carried: each credential header whole, after its scheme, and each
    part of a joined list (kintone's API tokens), longest first."""
    found: set[str] = set()
    for name, value in request.headers.items():
        if CREDENTIAL_HEADER.search(name):
            found.update([value, value.partition(" ")[2], *value.split(",")])
    return sorted((v.strip() for v in found if len(v.strip()) >= 8), key=len, reverse=True)


def chunked(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    """Consecutive lists of at most ``size`` items."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
