"""The console script turns a refused run into a message and exit code 3, not a traceback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from prefect.client.schemas.objects import State

import flows.deployed
from deployments.cli import main
from flows.lock import RunLocked
from flows.states import refused_state

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"


def test_a_run_refused_by_the_lock_exits_3_with_the_holder(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def locked(*_: object, **__: object) -> State[Any]:  # what the sync flow returns when refused
        return refused_state(RunLocked("demo", "sync", "run-123", "backfill"))

    monkeypatch.setattr(flows.deployed, "run_deployed", locked)
    monkeypatch.setattr(sys, "argv", ["renkei", "run", str(DEMO)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert "a backfill run (run run-123) is writing" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err  # one line, nothing else


def test_a_long_message_is_one_line_on_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from deployments import cli

    monkeypatch.setenv("COLUMNS", "40")  # a narrow terminal: the terminal wraps, renkei never breaks a line
    console = cli._console(stderr=True)
    message = "sync of demo not started: a backfill run (run run-123) is writing; it changed nothing"
    with console.capture() as said:
        console.print(message, highlight=False, markup=False)
    assert console.width == 40 and said.get().splitlines() == [message]
