"""The small demo world's spec, and `renkei run` as its own process on the test's Prefect server,
stopped by a signal at a named pause."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from prefect.settings import get_current_settings

from sandbox.demo_env import DemoEnvironment
from tasks.pause import PAUSE_ENV

RENKEI = Path(sys.executable).with_name("renkei")
DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"


def demo_spec(env: DemoEnvironment, folder: Path) -> Path:
    """The demo spec pointed at ``env``, with its staging and state DB in ``folder``."""
    data = env.spec_document(DEMO)
    data["storage"] = {"staging": str(folder / "staging"), "state": f"sqlite:///{folder / 'state.db'}"}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class Stopped:
    reached: bool  # the run reached the pause (False: it ended first)
    code: int | None  # its exit code
    seconds: float  # from the signal to the end of the process (0 when no signal was sent)
    stderr: str


def run_until(
    spec: Path, pause: str, sig: signal.Signals, folder: Path, marker: str | None = None, wait: float = 120.0
) -> Stopped:
    """Start `renkei run SPEC`, send ``sig`` when its stderr shows ``marker`` (default: it paused at
    ``pause``), then wait for its end."""
    marker = marker or f"paused at {pause}"
    env = {
        **os.environ,
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "PREFECT_LOGGING_LEVEL": "INFO",
        PAUSE_ENV: pause,
    }
    err = folder / f"run-{time.monotonic_ns()}.err"
    with err.open("w") as stderr:
        process = subprocess.Popen(
            [str(RENKEI), "run", str(spec)], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
        deadline = time.monotonic() + wait
        while process.poll() is None and time.monotonic() < deadline:
            if marker in err.read_text(errors="replace"):
                sent = time.monotonic()
                process.send_signal(sig)
                try:
                    code = process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    code = process.wait()
                return Stopped(True, code, time.monotonic() - sent, err.read_text(errors="replace"))
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        return Stopped(False, process.wait(), 0.0, err.read_text(errors="replace"))
