"""The MA stand-in with a hostile or broken side: rewritten cut ids, renamed columns, bad rows.

``HostileMa`` wraps the real stand-in (``sandbox/satori``) in a middleware on 127.0.0.1: the cut
listing can name a cut by any id (requests for that id are served the real cut's files), and a
cut's action CSV can be rewritten byte for byte before it reaches renkei.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request, Response

from connectors.satori import SatoriClient
from sandbox.common import BackgroundServer
from sandbox.satori.app import create_app
from tests.flows.conftest import sandbox_call, write_spec

TOKEN = "tok-hostile-ma"
API = "/api/integration/v1"
FILE = re.compile(r"^(?P<cut>.*?)/?(?P<file>(masters|actions)/\w+\.csv)$")
REAL_CUT = re.compile(rf"^{API}/cuts/\d{{8}}T\d{{4}}\+0900$")
CUT_02 = "20261128T0200+0900"
CUT_11 = "20261128T1100+0900"


@dataclass
class HostileMa:
    server: BackgroundServer | None = None
    renamed: dict[str, str] = field(default_factory=dict)  # listed id → the real cut it stands for
    # (cut id, "actions/form") → how that file is changed on its way out
    rewrite: dict[tuple[str, str], Callable[[bytes], bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def call(self, method: str, path: str, body: object = None) -> object:
        return sandbox_call(self.url, TOKEN, method, path, body)

    def spec(self, folder: Path) -> Path:
        return write_spec(folder / "spec.yaml", self.url, TOKEN, folder)

    def add_actions(self, kind: str, rows: list[dict[str, object]]) -> None:
        self.call("POST", "/_sandbox/actions", [{"kind": kind, **row} for row in rows])


def _install(ma: HostileMa, app: FastAPI) -> None:
    @app.middleware("http")
    async def hostile(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.scope["path"]
        file = FILE.match(path)
        if ma.renamed and file is not None and not REAL_CUT.match(file["cut"]):
            # the client's URL for a cut id such as ../x (dot segments resolved): serve the real cut
            (real,) = set(ma.renamed.values())
            path = request.scope["path"] = f"{API}/cuts/{real}/{file['file']}"
        response = await call_next(request)
        served = FILE.match(path)
        cut = served["cut"].rsplit("/", 1)[-1] if served is not None else ""
        change = ma.rewrite.get((cut, served["file"].removesuffix(".csv"))) if served is not None else None
        if path.endswith("/cuts") or change is not None:
            body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
            if change is not None:
                body = change(body)
            else:
                listing = json.loads(body)
                real_to_listed = {real: listed for listed, real in ma.renamed.items()}
                for cut_info in listing["cuts"]:
                    cut_info["cut"] = real_to_listed.get(cut_info["cut"], cut_info["cut"])
                body = json.dumps(listing).encode()
            headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
            return Response(body, status_code=response.status_code, headers=headers)
        return response


@contextmanager
def hostile_ma(folder: Path) -> Iterator[HostileMa]:
    """The stand-in at 2026-11-28 12:00 JST, with one form action in each of the 02:00 and 11:00 cuts."""
    ma = HostileMa()
    app = create_app(folder, {TOKEN: "acme"})
    _install(ma, app)
    with BackgroundServer(app) as server:
        ma.server = server
        ma.call("PUT", "/_sandbox/clock", {"now": "2026-11-28T00:00:00+09:00"})
        ma.call(
            "POST",
            "/_sandbox/masters",
            [{"kind": "form", "id": "fm-1", "name": "資料請求", "created_at": "2026-11-01T09:00+09:00"}],
        )
        with SatoriClient(ma.url, TOKEN) as client:
            client.bulk_upsert([{"email": "a@example.co.jp"}, {"email": "b@example.co.jp"}])
        ma.add_actions(
            "form",
            [
                {
                    "email": "a@example.co.jp",
                    "master_id": "fm-1",
                    "event_type": "submitted",
                    "occurred_at": "2026-11-28T01:00:00+09:00",
                    "recorded_at": "2026-11-28T01:10:00+09:00",
                },
                {
                    "email": "b@example.co.jp",
                    "master_id": "fm-1",
                    "event_type": "submitted",
                    "occurred_at": "2026-11-28T09:00:00+09:00",
                    "recorded_at": "2026-11-28T09:10:00+09:00",
                },
            ],
        )
        ma.call("PUT", "/_sandbox/clock", {"now": "2026-11-28T12:00:00+09:00"})
        yield ma
