"""The one error policy, row by row, through the layers that read it: the HTTP client, kintone's
classifier, the Salesforce session's urllib3 retry and the steps' Prefect retry condition."""

from __future__ import annotations

import ssl
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import requests
import urllib3
from prefect.states import Failed

from connectors.http import Action, HttpError, HttpPolicy, classify_status
from connectors.kintone_model import KintoneApiError, classify_kintone
from connectors.salesforce_auth import PolicyRetry, build_session
from schemas.errors import CODE_RULES, EXCEPTION_RULES, STATUS_RULES, TLS_REFUSED, UNREACHABLE, error_rule
from schemas.errors import Action as PolicyAction
from schemas.messages import CATALOGUE
from tasks.extract import stage_cut
from tasks.retry import retry_when_transient, still_down
from tasks.steps import load_target, write_back_target

KINTONE = ("GAIA_", "CB_")


def _code(key: str) -> str:
    """A code the row stands for: a prefix row's family with a number no exact row takes."""
    return f"{key[:-1]}97" if key.endswith("*") else key


@pytest.mark.parametrize("status", sorted(STATUS_RULES))
def test_every_status_row_decides_the_http_client_and_the_step(status: int) -> None:
    rule = STATUS_RULES[status]
    decision = classify_status(httpx.Response(status, headers={"Retry-After": "2"}))
    assert decision.rule is rule and (decision.action is Action.RETRY) is rule.retried
    assert still_down(HttpError("GET", "/x", status, None, "m")) is rule.retried
    assert rule.message in CATALOGUE


@pytest.mark.parametrize("key", sorted(CODE_RULES))
def test_every_service_code_row_decides_its_connector_and_the_step(key: str) -> None:
    rule, code = CODE_RULES[key], _code(key)
    if key.startswith(KINTONE):  # kintone sends most of its codes as 400 or 520: the code decides
        for status in (400, 520):
            decision = classify_kintone(httpx.Response(status, json={"code": code, "message": "m"}))
            assert decision.rule is rule and (decision.action is Action.RETRY) is rule.retried
        base = HttpError("GET", "/k/v1/records.json", 400, code, "m")
        refused = KintoneApiError(base, {"records[0].メールアドレス.value": ["bad"]})
        assert refused.blames_rows is (rule.action is PolicyAction.REJECT_ROW)
    error = HttpError("POST", "/services/data", 400, code, "m")
    assert error_rule(error) is rule and still_down(error) is rule.retried
    assert rule.message in CATALOGUE


@pytest.mark.parametrize("name", sorted(EXCEPTION_RULES))
def test_every_exception_row_decides_the_step(name: str) -> None:
    rule = EXCEPTION_RULES[name]
    error = type(name, (Exception,), {})("boom")
    assert error_rule(error) is rule and still_down(error) is rule.retried
    assert rule.message in CATALOGUE


def test_the_step_the_http_client_and_the_salesforce_session_agree_on_every_status() -> None:
    session = build_session(HttpPolicy(), True)
    retry = session.adapters["https://"].max_retries
    forcelist = set(retry.status_forcelist or ())
    for status in range(100, 600):
        http = classify_status(httpx.Response(status)).action is Action.RETRY
        kintone = classify_kintone(httpx.Response(status, json={})).action is Action.RETRY
        step = still_down(HttpError("GET", "/x", status, None, "m"))
        assert http is kintone is step is (status in forcelist), status
    retried = {s for s in range(100, 600) if s in forcelist}
    assert {408, 425, 429, 500, 502, 503, 504} <= retried
    assert not {400, 401, 403, 404, 501, 505} & retried


def test_a_refused_connection_through_every_library_is_transient_and_a_refused_certificate_is_not() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    pool = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    pool.__cause__ = refused
    gave_up = requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/token", pool))  # type: ignore[arg-type]
    assert error_rule(gave_up) is UNREACHABLE and still_down(gave_up)
    assert error_rule(httpx.ConnectError("refused")) is UNREACHABLE
    certificate = urllib3.exceptions.SSLError(ssl.SSLCertVerificationError(1, "certificate verify failed"))
    wrapped = requests.exceptions.SSLError(urllib3.exceptions.MaxRetryError(None, "/", certificate))  # type: ignore[arg-type]
    assert error_rule(wrapped) is TLS_REFUSED and not still_down(wrapped)
    assert PolicyRetry(total=2)._is_connection_error(certificate) is False
    assert PolicyRetry(total=2)._is_connection_error(pool) is True


def _failed(error: BaseException) -> Any:
    return Failed(data=error)


def test_every_step_retries_by_the_policy_and_stage_cut_no_longer_retries_a_refused_token() -> None:
    steps = (load_target, write_back_target, stage_cut)
    assert all(step.retry_condition_fn is retry_when_transient for step in steps)
    run: Any = SimpleNamespace(name="stage cut 20261128T0200+0900", run_count=1)
    refused = HttpError("GET", "/api/integration/v1/cuts", 401, None, "invalid token")
    down = HttpError("GET", "/api/integration/v1/cuts", None, "ConnectError", "gave up after 6 attempts")
    assert retry_when_transient(stage_cut, run, _failed(refused)) is False
    assert retry_when_transient(stage_cut, run, _failed(down)) is True
    assert retry_when_transient(stage_cut, run, _failed(ValueError("a bug"))) is False
