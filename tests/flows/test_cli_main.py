"""The console script turns a refused run into a message and exit code 3, not a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import flows.sync
from flows.cli import main
from flows.lock import RunLocked

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"


def test_a_run_refused_by_the_lock_exits_3_with_the_holder(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def locked(*_: object) -> None:
        raise RunLocked("demo", "sync", "run-123", "backfill")

    monkeypatch.setattr(flows.sync, "sync", locked)
    monkeypatch.setattr(sys, "argv", ["renkei", "run", str(DEMO)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert "a backfill run (run run-123) is writing" in err and "Traceback" not in err
