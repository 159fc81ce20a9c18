"""The one error policy (エラー方針): HTTP status, service error code or exception → action and kind.

Every layer reads this table: the HTTP client's retries (connectors/http.py), each connector's
classifier (kintone's codes, Sansan's 429, the MA's v4 body status), the Salesforce session's
urllib3 retry, and Prefect's ``retry_condition_fn`` on every step (tasks/steps.py). So a status the
HTTP layer retries is one the step retries too, and a refused credential is retried by neither.
Each rule names its message in ``schemas.messages`` (Japanese and English, with the fix).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    RETRY = "retry"  # try again after a backoff
    WAIT_AND_RETRY = "wait_and_retry"  # the service said to slow down: wait as long as it asks (Retry-After)
    FAIL_STEP = "fail_step"  # asking again gives the same answer: stop the step, the others go on
    REJECT_ROW = "reject_row"  # this row is refused: quarantine it, the rest of the batch goes on

    @property
    def retried(self) -> bool:
        return self in (Action.RETRY, Action.WAIT_AND_RETRY)


class Kind(StrEnum):
    TRANSIENT = "transient"  # it passes by itself: the next attempt or the next cut succeeds
    CONFIGURATION = "configuration"  # the spec (credentials, URL, app, field) must be fixed
    DATA = "data"  # a value in a record must be fixed
    SYSTEM = "system"  # the service or renkei misbehaved: read the log


@dataclass(frozen=True)
class Rule:
    action: Action
    kind: Kind
    message: str  # its code in schemas.messages
    spec_key: str | None = None  # the key of the spec entry to fix (auth, url …), when it is one

    @property
    def retried(self) -> bool:
        return self.action.retried


R, A, K = Rule, Action, Kind
UNREACHABLE = R(A.RETRY, K.TRANSIENT, "target_unreachable", "url")
TIMED_OUT = R(A.RETRY, K.TRANSIENT, "target_timeout", "url")
UNAVAILABLE = R(A.RETRY, K.TRANSIENT, "target_unavailable")
RATE_LIMITED = R(A.WAIT_AND_RETRY, K.TRANSIENT, "rate_limited")
LOCKED = R(A.RETRY, K.TRANSIENT, "record_locked")
CREDENTIALS = R(A.FAIL_STEP, K.CONFIGURATION, "credentials_refused", "auth")
PERMISSION = R(A.FAIL_STEP, K.CONFIGURATION, "permission_refused", "auth")
NOT_FOUND = R(A.FAIL_STEP, K.CONFIGURATION, "target_not_found")
REFUSED = R(A.FAIL_STEP, K.CONFIGURATION, "request_refused")
QUERY = R(A.FAIL_STEP, K.CONFIGURATION, "query_refused")
UNSUPPORTED = R(A.FAIL_STEP, K.SYSTEM, "target_unsupported", "url")
TLS_REFUSED = R(A.FAIL_STEP, K.CONFIGURATION, "certificate_refused", "ca_bundle")
SCHEMA_DRIFT = R(A.FAIL_STEP, K.CONFIGURATION, "schema_drift", "map")
FILE_CONTRACT = R(A.FAIL_STEP, K.DATA, "file_contract")
BUDGET = R(A.FAIL_STEP, K.TRANSIENT, "budget_exhausted")
EMAIL_REFUSED = R(A.FAIL_STEP, K.CONFIGURATION, "email_refused", "smtp")
ROW = R(A.REJECT_ROW, K.DATA, "rejected")
UNEXPECTED = R(A.FAIL_STEP, K.SYSTEM, "unexpected")

# fmt: off
STATUS_RULES: dict[int, Rule] = {
    400: REFUSED, 401: CREDENTIALS, 403: PERMISSION, 404: NOT_FOUND,
    408: TIMED_OUT, 425: UNAVAILABLE, 429: RATE_LIMITED,
    500: UNAVAILABLE, 501: UNSUPPORTED, 502: UNAVAILABLE, 503: UNAVAILABLE, 504: TIMED_OUT,
    505: UNSUPPORTED, 511: PERMISSION, 520: UNAVAILABLE,  # 520: kintone's "unknown error" (its code decides)
}
CLIENT_ERROR, SERVER_ERROR = REFUSED, UNAVAILABLE  # any other 4xx, any other 5xx

# service codes; a key ending in * is a prefix (kintone's families), an exact code is checked first
CODE_RULES: dict[str, Rule] = {
    # kintone (GAIA_*, CB_*): locks and limits retried, per-record refusals reject the row
    "GAIA_TM12": RATE_LIMITED, "GAIA_TO04": RATE_LIMITED, "GAIA_RE18": LOCKED, "GAIA_DA02": LOCKED,
    "CB_TO01": TIMED_OUT, "CB_UN01": UNAVAILABLE,
    "CB_VA01": ROW, "GAIA_RE01": ROW, "GAIA_RE20": ROW, "GAIA_CO02": ROW, "GAIA_LO04": ROW,
    "CB_AU*": CREDENTIALS, "CB_WA*": CREDENTIALS, "GAIA_IA*": CREDENTIALS, "CB_NO*": PERMISSION,
    "GAIA_AP*": NOT_FOUND, "GAIA_IQ*": QUERY, "GAIA_QU*": QUERY,
    "CB_VA*": REFUSED, "CB_IJ*": REFUSED, "GAIA_RE*": REFUSED, "GAIA_IL*": REFUSED,
    "GAIA_CO*": REFUSED, "GAIA_LO*": REFUSED,
    # Salesforce (errorCode / statusCode) and its OAuth token endpoint (error)
    "INVALID_SESSION_ID": CREDENTIALS, "invalid_grant": CREDENTIALS, "invalid_client": CREDENTIALS,
    "invalid_client_id": CREDENTIALS, "unsupported_grant_type": CREDENTIALS,
    "INSUFFICIENT_ACCESS": PERMISSION, "API_DISABLED_FOR_ORG": PERMISSION,
    "REQUEST_LIMIT_EXCEEDED": RATE_LIMITED, "UNABLE_TO_LOCK_ROW": LOCKED,
    "MALFORMED_QUERY": QUERY, "INVALID_FIELD": SCHEMA_DRIFT, "INVALID_TYPE": SCHEMA_DRIFT,
    "NOT_FOUND": NOT_FOUND, "JSON_PARSER_ERROR": REFUSED,
    "REQUIRED_FIELD_MISSING": ROW, "STRING_TOO_LONG": ROW, "INVALID_EMAIL_ADDRESS": ROW,
    "DUPLICATE_VALUE": ROW, "DUPLICATES_DETECTED": ROW, "FIELD_CUSTOM_VALIDATION_EXCEPTION": ROW,
    "CANNOT_UPDATE_CONVERTED_LEAD": ROW, "ENTITY_IS_DELETED": ROW,
    "INVALID_TYPE_ON_FIELD_IN_RECORD": ROW, "INVALID_FIELD_FOR_INSERT_UPDATE": ROW,
}

# exception classes by name (any class in the exception's MRO, at any depth of its chain; the
# deepest match decides, so a refused certificate inside a connection error is not retried)
EXCEPTION_RULES: dict[str, Rule] = {
    "SSLCertVerificationError": TLS_REFUSED,  # ssl: the server's certificate is not trusted
    "SSLError": UNREACHABLE, "SSLEOFError": UNREACHABLE,  # a TLS stream cut mid-handshake
    "ConnectionError": UNREACHABLE,  # builtins (refused, reset), requests
    "NewConnectionError": UNREACHABLE, "ProtocolError": UNREACHABLE,  # urllib3
    "ConnectError": UNREACHABLE, "NetworkError": UNREACHABLE,  # httpx
    "RemoteProtocolError": UNREACHABLE,
    "TimeoutError": TIMED_OUT, "Timeout": TIMED_OUT, "TimeoutException": TIMED_OUT,
    "ConnectTimeoutError": TIMED_OUT, "ReadTimeoutError": TIMED_OUT,
    "SalesforceExpiredSession": CREDENTIALS, "SalesforceRefusedRequest": PERMISSION,
    "SalesforceResourceNotFound": NOT_FOUND, "SalesforceMalformedRequest": REFUSED,
    "ContractError": FILE_CONTRACT, "KintoneSchemaError": SCHEMA_DRIFT,
    "BudgetExhausted": BUDGET, "ApiLimitReached": BUDGET, "SmtpError": EMAIL_REFUSED,
}
# a refused certificate that only its text names (a library that flattened the ssl error to a string)
TEXT_RULES: dict[str, Rule] = {"CERTIFICATE_VERIFY_FAILED": TLS_REFUSED}
# fmt: on


def status_rule(status: int | None) -> Rule | None:
    """The rule of an HTTP status; None for an answer that is not an error (below 400) or no status."""
    if status is None or status < 400:
        return None
    return STATUS_RULES.get(status, CLIENT_ERROR if status < 500 else SERVER_ERROR)


def code_rule(code: str | None) -> Rule | None:
    """The rule of a service's error code (exact first, then the longest prefix), or of an exception name."""
    if not code:
        return None
    if code in CODE_RULES:
        return CODE_RULES[code]
    prefixes = sorted((k for k in CODE_RULES if k.endswith("*") and code.startswith(k[:-1])), key=len)
    return CODE_RULES[prefixes[-1]] if prefixes else EXCEPTION_RULES.get(code)


def rule_for(status: int | None, code: str | None = None) -> Rule | None:
    """A refused answer: the service's code decides before its status (kintone sends CB_VA01 as 520)."""
    return code_rule(code) or status_rule(status)


def error_rule(error: BaseException) -> Rule | None:
    """The rule of an exception: the deepest exception of its chain that the table knows decides.

    An exception that carries its own ``rule`` (connectors.http.HttpError) or a service ``code`` /
    ``status`` is classified by those; others by their class names.
    """
    found: Rule | None = None
    for seen in causes(error):
        own = getattr(seen, "rule", None)
        if isinstance(own, Rule):
            found = own
            continue
        names = (cls.__name__ for cls in type(seen).__mro__)
        by_name = next((EXCEPTION_RULES[n] for n in names if n in EXCEPTION_RULES), None)
        status = getattr(seen, "status", None)
        code = getattr(seen, "code", None)
        by_text = next((r for text, r in TEXT_RULES.items() if text in str(seen)), None)
        found = (
            by_text
            or by_name
            or rule_for(status if isinstance(status, int) else None, code if isinstance(code, str) else None)
            or found
        )
    return found


def retried_statuses() -> frozenset[int]:
    """Every status 100–599 the policy retries (urllib3's ``status_forcelist``)."""
    return frozenset(s for s in range(100, 600) if (rule := status_rule(s)) is not None and rule.retried)


def causes(error: BaseException) -> Iterator[BaseException]:
    """The exception, then its causes: ``__cause__``, an unsuppressed ``__context__``, a ``reason``
    attribute (urllib3's MaxRetryError) or an exception among its arguments; each once."""
    seen: BaseException | None = error
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        yield seen
        context = None if seen.__suppress_context__ else seen.__context__
        reason = getattr(seen, "reason", None)
        seen = (
            seen.__cause__
            or context
            or (reason if isinstance(reason, BaseException) else None)
            or next((a for a in seen.args if isinstance(a, BaseException)), None)
        )
