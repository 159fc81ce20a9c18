"""The shared HTTP policy against a real loopback server: retries, Retry-After, fatal 4xx, streaming."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse

from connectors.http import HttpError, HttpPolicy, RetryingClient, retry_after_seconds
from sandbox.common import BackgroundServer

calls: dict[str, int] = {}
HANG_SECONDS = 2.0


def flaky_app() -> FastAPI:
    app = FastAPI()

    @app.get("/flaky/{name}/{failures}/{status}")
    def flaky(name: str, failures: int, status: int) -> JSONResponse:
        calls[name] = calls.get(name, 0) + 1
        if calls[name] <= failures:
            return JSONResponse(
                {"code": "BUSY", "message": "try later"}, status, headers={"Retry-After": "0"}
            )
        return JSONResponse({"ok": calls[name]})

    @app.get("/hang/{name}/{times}")
    async def hang(name: str, times: int) -> JSONResponse:
        calls[name] = calls.get(name, 0) + 1
        if calls[name] <= times:
            await asyncio.sleep(HANG_SECONDS)  # longer than the client waits for an answer
        return JSONResponse({"ok": calls[name]})

    @app.get("/bad")
    def bad() -> JSONResponse:
        return JSONResponse({"code": "CB_VA01", "message": "入力内容が正しくありません。"}, 400)

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"a,b\n", b"1,2\n"]), media_type="text/csv")

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(flaky_app()) as running:
        yield running


def client(server: BackgroundServer, attempts: int = 4) -> RetryingClient:
    return RetryingClient(
        server.url, HttpPolicy(max_attempts=attempts, backoff_base=0.01), sleep=lambda s: None
    )


def test_retries_transient_statuses_then_succeeds(server: BackgroundServer) -> None:
    http = client(server)
    assert http.get("/flaky/a/2/503").json() == {"ok": 3}
    assert http.stats.retries == 2 and http.stats.by_reason == {"HTTP 503": 2}


def test_honours_retry_after_and_gives_up_with_the_service_message(server: BackgroundServer) -> None:
    http = client(server, attempts=3)
    with pytest.raises(HttpError) as caught:
        http.get("/flaky/b/10/429")
    assert caught.value.status == 429 and caught.value.code == "BUSY" and "try later" in str(caught.value)
    assert calls["b"] == 3 and http.stats.waited == 0.0


def test_4xx_is_fatal_at_once(server: BackgroundServer) -> None:
    http = client(server)
    with pytest.raises(HttpError) as caught:
        http.get("/bad")
    assert caught.value.code == "CB_VA01" and "入力内容" in caught.value.message
    assert http.stats.attempts == 1


def test_connection_refused_is_retried_then_reported() -> None:
    from sandbox.common import free_port

    http = RetryingClient(f"http://127.0.0.1:{free_port()}", HttpPolicy(max_attempts=2), sleep=lambda s: None)
    with pytest.raises(HttpError) as caught:
        http.get("/nothing")
    assert caught.value.status is None and "ConnectError" in str(caught.value)
    assert http.stats.attempts == 2


def test_a_read_timeout_mid_request_is_retried_then_reported(server: BackgroundServer) -> None:
    """The server took the request and went quiet: the client stops waiting, and tries again."""
    policy = HttpPolicy(read_timeout=0.3, max_attempts=3, backoff_base=0.01)
    http = RetryingClient(server.url, policy, sleep=lambda s: None)
    assert http.get("/hang/slow-once/1").json() == {"ok": 2}
    assert http.stats.by_reason == {"ReadTimeout": 1}
    with pytest.raises(HttpError) as caught:
        http.get("/hang/never/99")
    assert caught.value.status is None and "ReadTimeout" in str(caught.value)
    assert calls["never"] == 3


def test_stream_leaves_the_body_to_the_caller(server: BackgroundServer) -> None:
    response = client(server).request("GET", "/stream", stream=True)
    try:
        assert b"".join(response.iter_bytes()) == b"a,b\n1,2\n"
    finally:
        response.close()


def test_retry_after_in_seconds_and_as_a_date() -> None:
    now = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
