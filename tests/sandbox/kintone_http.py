"""An httpx client for the kintone stand-in, authenticated as a token holder or a password user."""

from __future__ import annotations

import base64

import httpx

from sandbox.common import BackgroundServer


def client(srv: BackgroundServer, *tokens: str, login: tuple[str, str] | None = None) -> httpx.Client:
    """``tokens`` go in X-Cybozu-API-Token (comma-joined), ``login`` in X-Cybozu-Authorization."""
    headers: dict[str, str] = {}
    if tokens:
        headers["X-Cybozu-API-Token"] = ",".join(tokens)
    if login:
        headers["X-Cybozu-Authorization"] = base64.b64encode(":".join(login).encode()).decode()
    return httpx.Client(base_url=srv.url, headers=headers, trust_env=False)
