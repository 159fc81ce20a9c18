"""`renkei sandbox all`: every stand-in in its own process, each on its port, all stopped together."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sandbox.cli import STAND_INS
from sandbox.common import LOOPBACK, free_port


def free_run(length: int) -> int:
    """A first port with ``length`` free ports from it (the command takes PORT, PORT+1, …)."""
    while True:
        base = free_port()
        if all(bindable(base + i) for i in range(length)):
            return base


def bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2, verify=False)  # the Salesforce stand-in's own CA: any answer will do
    except httpx.TransportError:
        return False
    return True


def test_all_serves_every_stand_in_and_stops_them_together(tmp_path: Path) -> None:
    port = free_run(len(STAND_INS))
    renkei = Path(sys.executable).parent / "renkei"
    command = [str(renkei), "sandbox", "all", "--port", str(port), "--data", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    urls = [
        f"http://{LOOPBACK}:{port}/api/integration/v1/fields",
        f"http://{LOOPBACK}:{port + 1}/k/v1/apps.json",
        f"https://{LOOPBACK}:{port + 2}/services/data",
        f"http://{LOOPBACK}:{port + 3}/_sandbox/requests",
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(answers(url) for url in urls):
            assert process.poll() is None, process.stdout.read() if process.stdout else b""
            assert time.monotonic() < deadline, "the stand-ins did not all start"
            time.sleep(0.3)
        login = base64.b64encode(b"Administrator:renkei-demo").decode()  # the kintone command's defaults
        kintone = httpx.get(urls[1], headers={"X-Cybozu-Authorization": login})
        assert kintone.status_code == 200 and kintone.json() == {"apps": []}
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert not any(answers(url) for url in urls)  # terminating `all` stopped every stand-in
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(STAND_INS)
