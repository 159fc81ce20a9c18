"""kintone's official JS client (@kintone/rest-api-client, pinned in tests/kintone_official) vs the stand-in.

Skipped only when node/npm are absent; the packages are installed once into var/kintone_official.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app
from sandbox.kintone.demo_apps import build_demo_apps

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "kintone_official"
CACHE = ROOT / "var" / "kintone_official"


def official_clients() -> Path:
    """node_modules with the pinned official clients, reinstalled when package.json changes."""
    manifest = (SOURCE / "package.json").read_text()
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / "package.json"
    if not (CACHE / "node_modules").exists() or not cached.exists() or cached.read_text() != manifest:
        cached.write_text(manifest)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CACHE,
            check=True,
            timeout=600,
            capture_output=True,
        )
    for script in SOURCE.glob("*.mjs"):
        shutil.copy(script, CACHE / script.name)
    return CACHE


@pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node/npm not installed"
)
def test_official_rest_api_client_round_trip(tmp_path: Path) -> None:
    cache = official_clients()
    app = create_app(tmp_path, "admin", "pw")
    demo = build_demo_apps(app.state.kintone.store)
    with BackgroundServer(app) as srv:
        done = subprocess.run(
            # the official client accepts plain http only for the host name "localhost" (→ 127.0.0.1 here)
            [
                "node",
                "roundtrip.mjs",
                f"http://localhost:{srv.port}",
                demo.customers.token,
                str(demo.customers.id),
            ],
            cwd=cache,
            capture_output=True,
            text=True,
            timeout=120,
        )
        bulk_calls = [e for e in srv.request_log.entries if e.path == "/k/v1/bulkRequest.json"]
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary == {
        "added": 250,
        "seek": 250,
        "scoreType": "string",
        "cursor": 150,
        "firstScore": "100",
        "operations": ["UPDATE", "INSERT"],
        "emailUnique": True,
        "errorCode": "GAIA_QU01",
        "errorStatus": 400,
    }
    assert bulk_calls  # addAllRecords goes through bulkRequest.json
