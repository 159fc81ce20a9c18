"""The corpus's broken specs, through `renkei validate` as a user runs it: exit 2, the rule named.

Every case also goes through schemas.validate directly, so a problem is asserted by its path,
field and rule, not only by the text printed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from deployments.cli import app
from schemas.validate import validate_spec_file
from tests.corpus.corpus_cases import params

EXAMPLE = Path(__file__).parents[2] / "examples" / "all.yaml"
STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
runner = CliRunner()


def _set(data: Any, path: str, value: Any) -> None:
    """``targets[0].map.email`` = value in the parsed spec (keys may hold ':' but not '.')."""
    steps: list[str | int] = [int(i) if i else key for key, i in STEP.findall(path)]
    for step in steps[:-1]:
        data = data[step]
    data[steps[-1]] = value


def spec_file(case: dict[str, Any], folder: Path) -> Path:
    path = folder / "spec.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    if "text" in case:
        text = case["text"]
    if "replace" in case:
        old, new = case["replace"]
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    if "set" in case:
        data = yaml.safe_load(text)
        for where, value in case["set"].items():
            _set(data, where, value)
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_bytes(text.encode("cp932" if case.get("cp932") else "utf-8"))
    return path


@pytest.mark.parametrize("case", params("spec"))
def test_broken_spec(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RENKEI_CORPUS_UNSET_TOKEN", raising=False)
    path = spec_file(case, tmp_path)
    _, problems = validate_spec_file(path, {})
    errors = [str(p) for p in problems if p.severity == "error"]
    for expected in case["expect"]:
        assert any(expected in line for line in errors), (expected, errors)

    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for expected in case["expect"]:
        assert expected in result.output, result.output
    assert "not valid" in result.output


def test_the_unchanged_example_is_valid(tmp_path: Path) -> None:
    """The base every case changes: valid as it is, so each case's error is its own."""
    result = runner.invoke(app, ["validate", str(spec_file({"set": {}}, tmp_path))])
    assert result.exit_code == 0, result.output
