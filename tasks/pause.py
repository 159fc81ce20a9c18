"""Named pause points for the crash test: ``RENKEI_PAUSE_AT=<point>[:<nth>]`` stops a run there.

At the nth time the run reaches the point it says so on stderr and sleeps, so a test can kill it
with SIGKILL at a known place (tests/reliability/test_crash_resume.py). Unset, a point does nothing.
Points: ``stage-file`` (a cut half staged), ``load-batch`` (a batch in the target, its outcomes not
yet recorded), ``cut-loaded`` (a cut loaded, its watermark not yet committed), ``write-back``
(changes written into the MA, not yet recorded), ``send-email`` (a failure report recorded in the
outbox, not yet handed to the SMTP server).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

PAUSE_ENV = "RENKEI_PAUSE_AT"
_reached: Counter[str] = Counter()
_lock = threading.Lock()


def pause_point(name: str) -> None:
    """Sleep for good here when RENKEI_PAUSE_AT names this point (and this is its nth time).

    ``<point>:fail`` instead fails the step there once with a transient error, so the run waits for
    Prefect's retry of that step (how the SIGTERM test catches a run in a retry wait).
    """
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted or wanted.partition(":")[0] != name:
        return
    nth = wanted.partition(":")[2] or "1"
    with _lock:
        _reached[name] += 1
        hit = _reached[name] == (1 if nth == "fail" else int(nth))
    if hit and nth == "fail":
        os.write(2, f"renkei: failing at {wanted}\n".encode())
        raise ConnectionError(f"RENKEI_PAUSE_AT={wanted}: a transient failure for the test")
    if hit:
        os.write(2, f"renkei: paused at {wanted}\n".encode())  # past Prefect's log_prints capture
        time.sleep(3600)
