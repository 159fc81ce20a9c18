"""What every stand-in shares: fault injection, the request log, and running on loopback.

A stand-in is a FastAPI app. ``install_sandbox_tools`` adds the request log, the fault
middleware and the latency of a real network and service; ``BackgroundServer`` runs it in a
thread for tests and the demo; ``serve_foreground`` runs it for `renkei sandbox <name>`.
Only 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import asyncio
import gc
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

LOOPBACK = "127.0.0.1"
FAULT_KINDS = ("429", "5xx", "slow", "timeout", "reset")
ErrorRenderer = Callable[[int, str], Response]


@dataclass
class FaultConfig:
    """Seeded fault injection: each request draws once; ``rate`` of them get one of ``kinds``."""

    rate: float = 0.0
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 0.3
    timeout_seconds: float = 3.0
    exempt_prefixes: tuple[str, ...] = ("/_sandbox", "/openapi.json", "/docs")

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}: use {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("the fault rate is a share between 0 and 1")

    @classmethod
    def model(cls, body: dict[str, Any]) -> FaultConfig:
        """From a JSON body (the `/_sandbox/faults` control endpoint)."""
        kinds = body.get("kinds")
        return cls(
            rate=float(body.get("rate", 0.0)),
            seed=int(body.get("seed", 0)),
            kinds=tuple(kinds) if kinds else FAULT_KINDS,
            slow_seconds=float(body.get("slow_seconds", 0.3)),
            timeout_seconds=float(body.get("timeout_seconds", 3.0)),
        )

    @classmethod
    def from_options(cls, rate: float, seed: int, kinds: str | None) -> FaultConfig:
        chosen = tuple(k.strip() for k in kinds.split(",") if k.strip()) if kinds else FAULT_KINDS
        return cls(rate=rate, seed=seed, kinds=chosen)


@dataclass
class FaultInjector:
    """Draws faults in a reproducible order and counts what it injected."""

    config: FaultConfig = field(default_factory=FaultConfig)
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)
        self._lock = threading.Lock()

    def reconfigure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def draw(self, path: str, *, transport_level: bool) -> str | None:
        """The fault for this request, if any; reset faults are drawn by the transport only."""
        config = self.config
        if config.rate <= 0 or path.startswith(config.exempt_prefixes):
            return None
        kinds = [k for k in config.kinds if (k == "reset") == transport_level]
        if not kinds:
            return None
        with self._lock:
            if self._rng.random() >= config.rate * len(kinds) / len(config.kinds):
                return None
            kind = self._rng.choice(kinds)
            self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind


@dataclass
class Latency:
    """What the internet and the real service add to each API request, in milliseconds of wall time.

    ``round_trip_ms`` (± up to ``jitter_ms``, seeded) is added to every API response; ``per_record_ms``
    for each record the request wrote, where the real service has such a cost (the stand-in says how
    many through ``charge_records``). Sleeps are asynchronous, so requests in flight overlap as on a
    real network; set through the CLI (``--latency``), the app factory or ``PUT /_sandbox/latency``.
    """

    round_trip_ms: float = 0.0
    jitter_ms: float = 0.0
    per_record_ms: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.round_trip_ms, self.jitter_ms, self.per_record_ms) < 0:
            raise ValueError("latency, jitter and per-record cost are milliseconds ≥ 0")
        self._rng = random.Random(self.seed)  # the jitter sequence is reproducible

    def as_json(self) -> dict[str, float]:
        return {
            "round_trip_ms": self.round_trip_ms,
            "jitter_ms": self.jitter_ms,
            "per_record_ms": self.per_record_ms,
            "seed": self.seed,
        }

    @classmethod
    def model(cls, body: dict[str, Any]) -> Latency:
        """From a JSON body (the `/_sandbox/latency` control endpoint)."""
        return cls(
            round_trip_ms=float(body.get("round_trip_ms", 0.0)),
            jitter_ms=float(body.get("jitter_ms", 0.0)),
            per_record_ms=float(body.get("per_record_ms", 0.0)),
            seed=int(body.get("seed", 0)),
        )

    def seconds(self, records: int) -> float:
        """The wait for one response that wrote ``records`` records."""
        jitter = self._rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return max(0.0, self.round_trip_ms + jitter + self.per_record_ms * records) / 1000


RECORDS_KEY = "sandbox.records"  # scope key: records the current request wrote (see charge_records)


def charge_records(scope: Scope, records: int) -> None:
    """Note that this request wrote ``records`` records: the per-record latency charges them."""
    scope[RECORDS_KEY] = scope.get(RECORDS_KEY, 0) + records


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int
    at: float


@dataclass
class RequestLog:
    """Every request a stand-in answered: tests prove calls happened (or did not) from it."""

    entries: list[LoggedRequest] = field(default_factory=list)

    def writes(self) -> list[LoggedRequest]:
        return [e for e in self.entries if e.method in ("POST", "PUT", "PATCH", "DELETE")]


class FaultsAndLog:
    """ASGI middleware: draw a fault for each API request, then log the request with its status.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs every
    request through an extra task group and stream, a cost a benchmark would charge to the client.
    """

    def __init__(
        self,
        app: ASGIApp,
        injector: FaultInjector,
        log: RequestLog,
        render_error: ErrorRenderer,
        owner: FastAPI,
    ):
        self.app = app
        self.injector = injector
        self.log = log
        self.render_error = render_error
        self.owner = owner  # whose ``state.latency`` the control endpoint may replace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        kind = self.injector.draw(path, transport_level=False)
        if kind == "slow":
            await asyncio.sleep(self.injector.config.slow_seconds)
        elif kind == "timeout":
            await asyncio.sleep(self.injector.config.timeout_seconds)
        logged = not path.startswith("/_sandbox")
        latency: Latency = self.owner.state.latency
        delayed = logged and not path.startswith(self.injector.config.exempt_prefixes)

        async def send_logged(message: Message) -> None:
            if logged and message["type"] == "http.response.start":  # logged before the client hears back
                self.log.entries.append(LoggedRequest(scope["method"], path, message["status"], time.time()))
                if delayed and (latency.round_trip_ms or latency.jitter_ms or latency.per_record_ms):
                    await asyncio.sleep(latency.seconds(scope.get(RECORDS_KEY, 0)))
            await send(message)

        if kind == "429":
            await self.render_error(429, "fault injected: too many requests")(scope, receive, send_logged)
        elif kind == "5xx":
            await self.render_error(503, "fault injected: service unavailable")(scope, receive, send_logged)
        else:
            await self.app(scope, receive, send_logged)


def install_sandbox_tools(
    app: FastAPI,
    render_error: ErrorRenderer,
    faults: FaultConfig | None = None,
    latency: Latency | None = None,
) -> None:
    """Add the request log, fault injection, latency and the `/_sandbox` control endpoints to a stand-in."""
    injector = FaultInjector(faults or FaultConfig())
    log = RequestLog()
    app.state.faults = injector
    app.state.request_log = log
    app.state.latency = latency or Latency()

    app.add_middleware(FaultsAndLog, injector=injector, log=log, render_error=render_error, owner=app)

    @app.get("/_sandbox/requests", include_in_schema=False)
    async def _requests() -> JSONResponse:
        return JSONResponse([{"method": e.method, "path": e.path, "status": e.status} for e in log.entries])

    @app.delete("/_sandbox/requests", include_in_schema=False)
    async def _clear_requests() -> JSONResponse:
        log.entries.clear()
        return JSONResponse({})

    @app.put("/_sandbox/faults", include_in_schema=False)
    async def _set_faults(body: dict[str, Any]) -> JSONResponse:
        try:
            injector.reconfigure(FaultConfig.model(body))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"message": str(exc)}, status_code=400)
        return JSONResponse({"injected": injector.injected})

    @app.put("/_sandbox/latency", include_in_schema=False)
    async def _set_latency(body: dict[str, Any]) -> JSONResponse:
        try:
            app.state.latency = Latency.model(body)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"message": str(exc)}, status_code=400)
        return JSONResponse(app.state.latency.as_json())

    @app.get("/_sandbox/latency", include_in_schema=False)
    async def _get_latency() -> JSONResponse:
        return JSONResponse(app.state.latency.as_json())

    @app.get("/_sandbox/faults", include_in_schema=False)
    async def _get_faults() -> JSONResponse:
        return JSONResponse({"rate": injector.config.rate, "injected": injector.injected})


def _protocol_for(app: FastAPI) -> type[H11Protocol]:
    """An HTTP protocol that aborts the TCP connection when the injector draws a reset."""
    injector: FaultInjector | None = getattr(app.state, "faults", None)

    class ResettingProtocol(H11Protocol):
        def data_received(self, data: bytes) -> None:
            if injector is not None and b" HTTP/1." in data[:2048]:
                path = data.split(b" ", 2)[1].decode("latin-1", "replace") if b" " in data else ""
                if injector.draw(path, transport_level=True) == "reset":
                    self.transport.abort()
                    return
            super().data_received(data)

    return ResettingProtocol


def busy_ports(ports: Iterable[int]) -> list[int]:
    """The ports on loopback something already listens on (checked as uvicorn binds: SO_REUSEADDR)."""
    busy = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                busy.append(port)
    return busy


def free_port() -> int:
    """A port on loopback that is free now (uvicorn and aiosmtpd need one chosen up front)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _config(app: FastAPI, port: int, **kwargs: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=LOOPBACK,
        port=port,
        http=_protocol_for(app),
        log_level="warning",
        access_log=False,
        lifespan="on",
        **kwargs,
    )


# A stand-in holds every record it serves as Python objects, so the collector's default pace (a pass
# every 700 allocations) made a 2,000-row bulkRequest cost ~40% more CPU a record than 100-row PUTs
# (profiled: 20k upserts, 2.3 s against 1.6 s); kintone has no such cost, and a benchmark of clients
# should not measure it. Set for the stand-in's own process only.
STANDIN_GC_THRESHOLD = (50_000, 20, 20)


def serve_foreground(app: FastAPI, port: int, **kwargs: Any) -> None:
    """Run a stand-in until interrupted (`renkei sandbox <name>`)."""
    gc.freeze()  # what start-up loaded is never garbage
    gc.set_threshold(*STANDIN_GC_THRESHOLD)
    uvicorn.Server(_config(app, port, **kwargs)).run()


class BackgroundServer:
    """A stand-in on a free loopback port in a daemon thread; use as a context manager."""

    def __init__(self, app: FastAPI, port: int | None = None, **kwargs: Any):
        self.app = app
        self.port = port or free_port()
        kwargs.setdefault("timeout_graceful_shutdown", 2)  # a client's idle keep-alive never holds a stop
        self._server = uvicorn.Server(_config(app, self.port, **kwargs))
        self._thread = threading.Thread(target=self._server.run, name=f"sandbox:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self._server.config.ssl_certfile else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}"

    @property
    def request_log(self) -> RequestLog:
        log: RequestLog = self.app.state.request_log
        return log

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"stand-in on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
