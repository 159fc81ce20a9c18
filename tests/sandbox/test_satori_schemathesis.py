"""A bounded schemathesis run against the live SATORI stand-in: no 5xx, every answer as documented."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from sandbox.common import BackgroundServer
from sandbox.satori.app import create_app

TOKEN = "tok-fuzz"
MAX_EXAMPLES = int(os.environ.get("RENKEI_FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(Path(tmp_path_factory.mktemp("fuzz")), {TOKEN: "acme"})) as running:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        httpx.post(
            running.url + "/_sandbox/custom-fields",
            json=[{"identifier": "customer_code", "type": "text", "unique": True}],
            headers=auth,
        ).raise_for_status()
        httpx.put(
            running.url + "/api/integration/v1/customers/by-email/fuzz@example.jp",
            json={"last_name": "検査", "tags": ["展示会"], "custom": {"customer_code": "F-1"}},
            headers=auth,
        ).raise_for_status()
        yield running


def test_no_5xx_and_every_response_conforms(live: BackgroundServer) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), [r for r in results if not isinstance(r, Ok)]
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) >= 17

    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=live.url, headers=headers, checks=CHECKS)

        fuzz()
    assert len(live.request_log.entries) >= 6 * len(operations)
