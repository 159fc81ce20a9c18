"""Keys of a spec the format does not know: each reported with its close match, then set aside.

A typo such as ``macth`` used to stop validation at the model, hiding every other problem in the
file. Here every unknown key, at any depth, becomes one ``unknown_key`` problem ("did you mean
match?") and is dropped, so the checks that follow still run on the rest.
"""

from __future__ import annotations

import copy
import difflib
import types
from collections.abc import Iterable
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from schemas.spec import Problem, Spec
from schemas.targets import KIND_MODELS, AnyTarget, kinds_with_setting, target_model

UNKNOWN_KEY_HINT = "this key is not part of the spec format: remove or rename it"


def suggest(name: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to a mistyped ``name`` (difflib), or None when nothing is close."""
    found = difflib.get_close_matches(name, list(dict.fromkeys(choices)), n=1, cutoff=0.6)
    return found[0] if found else None


def strip_unknown_keys(model: type[BaseModel], data: Any, path: str = "") -> tuple[Any, list[Problem]]:
    """``data`` without the keys ``model`` does not know (nested models too), and a problem for each."""
    if not isinstance(data, dict) or model.model_config.get("extra") != "forbid":
        return data, []  # a model that takes any key (an unknown target kind's auth) has none unknown
    known = {name: info.annotation for name, info in model.model_fields.items()}
    known |= {info.alias: info.annotation for info in model.model_fields.values() if info.alias}
    problems: list[Problem] = []
    kept: dict[Any, Any] = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in known:
            problems.append(_unknown(model, str(key), where, known))
            continue
        kept[key], inner = _strip(known[key], value, where)
        problems += inner
    return kept, problems


def _unknown(model: type[BaseModel], key: str, where: str, known: Iterable[str]) -> Problem:
    """An unknown key, with its close match; a setting of another kind of target says whose it is."""
    kind = next((k for k, m in KIND_MODELS.items() if m is model), None)
    others = kinds_with_setting(key) if kind else []
    if others:
        hint = f"{key} is a {' / '.join(others)} setting; a {kind} target has none: remove it, or check kind"
        return Problem(where, key, "other_kinds_key", hint)
    return Problem(where, key, "unknown_key", UNKNOWN_KEY_HINT, suggestion=suggest(key, known))


def _strip(annotation: Any, value: Any, path: str) -> tuple[Any, list[Problem]]:
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation == AnyTarget:  # a target: its kind's keys (an unknown kind: the shared ones)
        return strip_unknown_keys(target_model(value), value, path)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return strip_unknown_keys(annotation, value, path)
    if origin in (Union, types.UnionType):
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
        return strip_unknown_keys(model, value, path) if model and isinstance(value, dict) else (value, [])
    if origin is list and isinstance(value, list):
        pairs = [_strip(args[0], item, f"{path}[{i}]") for i, item in enumerate(value)]
        return [item for item, _ in pairs], [p for _, found in pairs for p in found]
    if origin is dict and isinstance(value, dict):
        out: dict[Any, Any] = {}
        problems: list[Problem] = []
        for key, item in value.items():
            out[key], found = _strip(args[1], item, f"{path}.{key}")
            problems += found
        return out, problems
    return value, []


# what a required setting stands in as while the rest of the file is checked (the spec stays invalid)
STAND_INS: dict[str, Any] = {"company": "spec", "ma": {"url": "http://127.0.0.1", "token": "unchecked"}}


def stand_in_settings(model: type[BaseModel], data: dict[str, Any], exc: ValidationError) -> dict[str, Any]:
    """``data`` with each value that failed left out, so its default applies; a required setting that
    failed (or is missing) stands in whole. Only for checking the rest: the spec stays invalid."""
    for _ in range(3):  # a value left out may have been required: the next round stands in for it
        data = _without_failures(data, exc)
        try:
            model.model_validate(data)
        except ValidationError as again:
            exc = again
        else:
            break
    return data


def _without_failures(data: dict[str, Any], exc: ValidationError) -> dict[str, Any]:
    kept: Any = copy.deepcopy(data)
    broken: set[str] = set()
    for error in exc.errors():
        loc = list(error["loc"])
        if not loc:
            continue
        parent: Any = kept
        for part in loc[:-1]:
            if isinstance(parent, dict):
                parent = parent.get(part)
            elif isinstance(parent, list) and isinstance(part, int) and part < len(parent):
                parent = parent[part]
            else:
                parent = None
        if error["type"] == "missing" or not isinstance(parent, dict) or loc[-1] not in parent:
            broken.add(str(loc[0]))
        else:
            del parent[loc[-1]]
    kept = {key: value for key, value in kept.items() if key not in broken}
    return {**kept, **{key: value for key, value in STAND_INS.items() if key in broken}}


def without_echoes(problems: list[Problem]) -> list[Problem]:
    """Drop a "missing" problem at the very key a typo's suggestion names, and missing credentials
    where a typo under ``auth`` has a suggestion: fixing the typo fixes both."""
    typos = [p for p in problems if p.rule == "unknown_key" and p.suggestion]
    meant = {f"{p.path.rsplit('.', 1)[0]}.{p.suggestion}" if "." in p.path else p.suggestion for p in typos}
    within = {p.path.rsplit(".", 1)[0] for p in typos if "." in p.path}
    return [
        p
        for p in problems
        if not (p.rule in ("missing_key", "match_required") and p.path in meant)
        and not (p.rule == "missing_credentials" and p.path in within)
    ]


def unknown_targets(spec: Spec, names: Iterable[str]) -> list[Problem]:
    """A ``--target`` name the spec does not have, with its close match: never a run that does nothing."""
    known = [target.name for target in spec.targets]
    return [
        Problem(
            "--target",
            name,
            "unknown_target",
            f"use one of: {', '.join(known)}",
            suggestion=suggest(name, known),
        )
        for name in names
        if name not in known
    ]
