"""`renkei validate` as a user runs it: exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deployments.cli import app

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
runner = CliRunner()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates(example: Path) -> None:
    result = runner.invoke(app, ["validate", str(example)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_invalid_spec_exits_2_listing_every_problem(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    text = (Path(__file__).parents[2] / "examples" / "kintone.yaml").read_text(encoding="utf-8")
    text = text.replace("  score: readable ", "  score: writable ").replace(
        '["02:00", "11:00"]', '["02:00", "26:00"]'
    )
    spec.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "fields.score: score: never_writable" in result.output
    assert "cuts[1]: 26:00: invalid_cut_time" in result.output


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("version: 1\ncompany: acme\nfields: {email: readable\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "invalid_yaml" in result.output and "line" in result.output


@pytest.mark.slow  # runs the installed console script in its own process
def test_console_script_is_installed() -> None:
    renkei = Path(sys.executable).with_name("renkei")
    completed = subprocess.run(
        [str(renkei), "validate", str(EXAMPLES[0])], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
