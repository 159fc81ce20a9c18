"""Bounded specs: a nesting limit and a size limit (exit 2, a clear message), and one parse per run.

Before the fix a 5,000-level nested spec ended `renkei validate` with a RecursionError traceback
(exit 1), a 50 MB spec took 37 s and 400 MB, and every flow, subflow and hook read the spec again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import schemas.validate
from deployments.cli import app
from flows.sync import sync
from sandbox.demo_env import DemoEnvironment
from schemas.spec import MAX_SPEC_BYTES, MAX_SPEC_DEPTH
from tests.reliability.cli_run import DEMO, demo_spec


def demo_text(folder: Path) -> str:
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["storage"] = {"staging": str(folder / "staging"), "state": f"sqlite:///{folder / 'state.db'}"}
    return yaml.safe_dump(data, allow_unicode=True)


def validate(path: Path) -> Any:
    return CliRunner().invoke(app, ["validate", str(path)])


def test_a_5000_level_nested_spec_is_refused_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(demo_text(tmp_path) + "extra: " + "[" * 5_000 + "]" * 5_000 + "\n", encoding="utf-8")
    result = validate(path)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2
    assert "spec_too_deep" in result.output and f"at most {MAX_SPEC_DEPTH}" in result.output


def test_a_spec_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    padding = "# " + "x" * 1_000 + "\n"
    path.write_text(demo_text(tmp_path) + padding * (MAX_SPEC_BYTES // len(padding) + 2), encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 2
    assert "spec_too_large" in result.output and f"{MAX_SPEC_BYTES:,}" in result.output


def test_a_sync_run_parses_its_spec_once(
    prefect_harness: None, small_demo: DemoEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = demo_spec(small_demo, tmp_path)
    parsed: list[str] = []
    real = schemas.validate.read_yaml

    def counting(source: str | Path) -> Any:
        parsed.append(str(source))
        return real(source)

    monkeypatch.setattr(schemas.validate, "read_yaml", counting)
    report = sync(str(path))
    assert report.cuts and len(report.lines) > 3  # a real run: every target loaded
    assert parsed == [str(path)]
