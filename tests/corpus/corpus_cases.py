"""The bad-input corpus: cases live in tests/corpus/cases/*.yaml, one pytest param per case.

A value written as ``{repeat: "あ", times: 256}`` expands to that text repeated, so overlong
and very large inputs stay readable in the case files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from _pytest.mark.structures import ParameterSet

CASES_DIR = Path(__file__).with_name("cases")


def expand(value: Any) -> Any:
    """``{repeat, times}`` → the repeated text, everywhere inside ``value``."""
    if isinstance(value, dict):
        if value.keys() == {"repeat", "times"}:
            return str(value["repeat"]) * int(value["times"])
        return {key: expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item) for item in value]
    return value


def load(name: str) -> list[dict[str, Any]]:
    """Every case of ``cases/<name>.yaml``, expanded; ids must be unique within the file."""
    raw = yaml.safe_load((CASES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    ids = [case["id"] for case in raw]
    assert len(ids) == len(set(ids)), f"{name}.yaml repeats a case id"
    return [expand(case) for case in raw]


def params(name: str) -> list[ParameterSet]:
    return [pytest.param(case, id=case["id"]) for case in load(name)]
