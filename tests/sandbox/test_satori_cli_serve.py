"""`renkei sandbox satori` runs the stand-in in the foreground and publishes its OpenAPI (contract)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from sandbox.common import free_port


def test_renkei_sandbox_satori_serves_openapi_and_the_token(tmp_path: Path) -> None:
    port = free_port()
    renkei = Path(sys.executable).parent / "renkei"
    command = [
        str(renkei),
        "sandbox",
        "satori",
        "--port",
        str(port),
        "--data",
        str(tmp_path),
        "--token",
        "cli-token",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                schema = httpx.get(base + "/openapi.json").json()
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else b""
                assert time.monotonic() < deadline, "the stand-in did not start"
                time.sleep(0.1)
        paths = set(schema["paths"])
        assert "/api/integration/v1/customers/search" in paths
        assert "/api/integration/v1/cuts/{cut}/actions/{kind}.csv" in paths
        assert "/api/v4/public/bulk_customers/status.json" in paths
        assert not any(p.startswith("/_sandbox") for p in paths)
        fields = httpx.get(base + "/api/integration/v1/fields", headers={"Authorization": "Bearer cli-token"})
        assert fields.status_code == 200
        assert httpx.get(base + "/api/integration/v1/fields").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (tmp_path / "satori.db").exists()
