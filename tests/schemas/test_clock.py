"""The one clock: the wall clock by default, standing still at RENKEI_NOW, or running ahead by an offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import clock
from schemas.staging import JST

LEAP = datetime(2028, 2, 29, 1, 59, 59, tzinfo=JST)


def test_the_default_is_the_wall_clock_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clock.NOW_ENV, raising=False)
    monkeypatch.delenv(clock.OFFSET_ENV, raising=False)
    before = datetime.now(UTC)
    now = clock.now()
    assert before <= now <= datetime.now(UTC) and now.tzinfo is UTC
    assert not clock.moved()


def test_renkei_now_stands_still(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.NOW_ENV, LEAP.isoformat())
    assert clock.now() == clock.now() == LEAP and clock.now().tzinfo is UTC
    assert clock.moved()


def test_an_offset_runs_ahead_of_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clock.NOW_ENV, raising=False)
    monkeypatch.setenv(clock.OFFSET_ENV, str(30 * 86_400))
    before = datetime.now(UTC) + timedelta(days=30)
    assert before <= clock.now() <= datetime.now(UTC) + timedelta(days=30)


@pytest.mark.parametrize("running", [False, True])
def test_clock_at_moves_the_clock_and_restores_it(monkeypatch: pytest.MonkeyPatch, running: bool) -> None:
    monkeypatch.setenv(clock.OFFSET_ENV, "5")
    monkeypatch.delenv(clock.NOW_ENV, raising=False)
    with clock.clock_at(LEAP, running=running):
        inside = clock.now()
        assert LEAP <= inside < LEAP + timedelta(minutes=1)
        assert (clock.NOW_ENV in clock.os.environ) is not running
    assert clock.os.environ[clock.OFFSET_ENV] == "5" and clock.NOW_ENV not in clock.os.environ


@pytest.mark.parametrize(
    ("name", "value"),
    [(clock.NOW_ENV, "yesterday"), (clock.NOW_ENV, "2028-02-29T01:59:59"), (clock.OFFSET_ENV, "1 day")],
)
def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(clock.ClockSettingError, match=name):
        clock.now()


def test_the_cli_refuses_a_bad_clock_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from deployments import cli

    monkeypatch.setenv(clock.NOW_ENV, "yesterday")
    monkeypatch.setattr("sys.argv", ["renkei", "fields"])
    with cli.err_console.capture() as said, pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 2
    assert said.get().strip().splitlines() == [
        "RENKEI_NOW='yesterday': 日時はオフセット付きで指定してください / give an instant with its offset, "
        "e.g. 2027-01-01T01:59:59+09:00"
    ]
