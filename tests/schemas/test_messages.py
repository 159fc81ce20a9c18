"""The message catalogue covers every code the code base can emit, each in Japanese and English with a fix."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

import pytest

from schemas.messages import CATALOGUE, TARGET_CODES, TARGET_REFUSED, cli_language, lookup
from schemas.outcomes import Status
from schemas.report import Outcome

ROOT = Path(__file__).resolve().parents[2]
# a call that names a rule or code: callee name → position of the code argument
EMITTERS = {
    "rejected": 1,  # RowOutcome.rejected(key, code, message, field)
    "Problem": 2,  # Problem(path, field, rule, hint)
    "KintoneValueError": 1,
    "CoercionError": 1,
    "_fail": 1,
    "_problem": 1,
    "CardRejection": 1,
    "PolicyViolation": 0,
    "SchemaDrift": 2,
}
# the stand-ins refuse a row with Rejection(code, …) (MA) and RecordError(code, …) (Salesforce): those
# codes reach the quarantine as the real services' would; any other target code shows as TARGET_REFUSED
SANDBOX_EMITTERS = {"Rejection": 0, "RecordError": 0}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _constants(trees: list[ast.Module]) -> dict[str, str]:
    """Module-level ``NAME = "literal"`` across the code base (EMAIL_SHARED, CONVERTED …)."""
    found: dict[str, str] = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        found[target.id] = node.value.value
    return found


def _emitted(folders: tuple[str, ...], emitters: dict[str, int]) -> set[str]:
    trees = [ast.parse(p.read_text()) for f in folders for p in (ROOT / f).rglob("*.py")]
    constants = _constants(trees)
    codes: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            position = emitters.get(callee)
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                codes.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in constants:
                codes.add(constants[arg.id])
    return codes


def emitted_codes() -> set[str]:
    codes = _emitted(("schemas", "tasks", "connectors", "flows"), EMITTERS)
    codes |= _emitted(("sandbox/satori", "sandbox/salesforce"), SANDBOX_EMITTERS)
    codes |= set(get_args(Outcome)) | {Status.DEFERRED.value}
    readme = (ROOT / "README.md").read_text()
    listed = readme.split("Rules checked by `renkei validate`", 1)[1].split("\n\n", 1)[0]
    return codes | set(re.findall(r"`([a-z_]+)`", listed)) - {"renkei"}


def test_the_scan_finds_the_codes_it_must_find() -> None:
    codes = emitted_codes()
    expected = {
        "email_missing",
        "not_an_option",
        "duplicate_email",
        "too_long",
        "unknown_key",
        "invalid_yaml",
    }
    assert expected <= codes
    assert "CANNOT_UPDATE_CONVERTED_LEAD" in codes  # a module constant, resolved
    assert {"REQUIRED_FIELD_MISSING", "STRING_TOO_LONG"} <= codes  # the Salesforce stand-in's row errors
    assert len(codes) > 60


@pytest.mark.parametrize("code", sorted(emitted_codes()))
def test_every_emitted_code_has_both_texts_and_a_fix(code: str) -> None:
    assert code in CATALOGUE, f"{code} has no entry in schemas/messages.py"
    entry = CATALOGUE[code]
    assert JAPANESE.search(entry.ja) and JAPANESE.search(entry.fix_ja), code
    assert entry.en and entry.fix_en and not JAPANESE.search(entry.en + entry.fix_en), code


def test_every_entry_is_complete() -> None:
    for code, entry in CATALOGUE.items():
        assert JAPANESE.search(entry.ja) and JAPANESE.search(entry.fix_ja), code
        assert entry.en.isascii() or not JAPANESE.search(entry.en), code


def test_languages_render_as_asked() -> None:
    entry = CATALOGUE["not_an_option"]
    assert entry.reason("ja") == "選択肢にない値です"
    assert entry.reason("en") == "the value is not one of the field's options"
    assert entry.reason("both") == "選択肢にない値です / the value is not one of the field's options"
    assert entry.fix("ja").startswith("MA の選択肢")


def test_an_unknown_target_code_is_the_targets_refusal() -> None:
    assert lookup("GAIA_XX99") is TARGET_REFUSED and TARGET_REFUSED.theirs
    assert lookup(None) is CATALOGUE["rejected"]
    assert all(entry.theirs for entry in TARGET_CODES.values())
    assert not CATALOGUE["email_missing"].theirs


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("ja_JP.UTF-8", "ja"),
        ("ja", "ja"),
        ("en_US.UTF-8", "en"),
        ("C.UTF-8", "both"),
        ("", "both"),
        (None, "both"),
    ],
)
def test_cli_language_follows_lang(lang: str | None, expected: str) -> None:
    assert cli_language(lang) == expected
