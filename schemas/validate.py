"""`renkei validate`: every rule of the integration spec, each problem with its path, field and rule."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from schemas.access import access_problems
from schemas.catalog import (
    CUSTOM_FIELD_TYPES,
    CUSTOM_IDENTIFIER,
    CUSTOM_PREFIX,
    DEFAULT_FIELD_NAMES,
    custom_identifier,
    is_custom_name,
    lookup_field,
)
from schemas.email import normalise_email
from schemas.policy import ConflictRule, Direction, check_direction
from schemas.spec import (
    ACTION_KINDS,
    MASTER_KINDS,
    Problem,
    Spec,
    SpecError,
    interpolate,
    is_loopback_host,
    is_loopback_url,
    is_secret_reference,
    read_yaml,
)
from schemas.spec_keys import stand_in_settings, strip_unknown_keys, suggest, without_echoes
from schemas.staging import COMPANY
from schemas.targets import (
    TARGET_KINDS,
    ActionTarget,
    KintoneSettings,
    KnownTarget,
    SalesforceSettings,
    Target,
    secret_fields,
    target_model,
)

CUT_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DIRECTIONS = ", ".join(d.value for d in Direction)
_CONFLICTS = ", ".join(c.value for c in ConflictRule)


_LOADED: dict[tuple[str, int, int, frozenset[tuple[str, str]]], Spec] = {}
_LOADED_KEPT = 8


def load_spec(source: str | Path, env: Mapping[str, str] | None = None) -> Spec:
    """Read, interpolate and validate a spec; raise SpecError listing every error.

    A run's flow, subflows and state hooks all ask for the spec: it is parsed once per process and
    handed out as copies until the file (its size or modification time) or the environment changes.
    """
    env = os.environ if env is None else env
    try:
        stat = Path(source).stat()
        key = (str(Path(source).resolve()), stat.st_mtime_ns, stat.st_size, frozenset(env.items()))
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key].model_copy(deep=True)
    spec, problems = validate_spec_file(source, env)
    errors = [p for p in problems if p.severity == "error"]
    if spec is None or errors:
        raise SpecError(str(source), errors)
    if key is not None:
        if len(_LOADED) >= _LOADED_KEPT:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = spec.model_copy(deep=True)
    return spec


def validate_spec_file(source: str | Path, env: Mapping[str, str]) -> tuple[Spec | None, list[Problem]]:
    data, problems = read_yaml(source)
    if data is None:
        return None, problems
    return validate_spec_data(data, env)


def validate_spec_data(raw: dict[str, Any], env: Mapping[str, str]) -> tuple[Spec | None, list[Problem]]:
    """Check a parsed spec; the Spec is returned when its shape is usable, with all problems found."""
    data, problems = interpolate(raw, env)
    data, unknown = strip_unknown_keys(Spec, data)  # reported once, then set aside: the checks go on
    problems += unknown
    listed = raw.get("targets")
    raw_targets: list[Any] = listed if isinstance(listed, list) else []
    usable = True
    try:
        spec = Spec.model_validate({**data, "targets": []})
    except ValidationError as exc:
        problems += _shape_problems(exc)
        usable = False
        try:  # a missing or broken setting still lets the fields and targets be checked
            spec = Spec.model_validate(stand_in_settings(Spec, {**data, "targets": []}, exc))
        except ValidationError:
            return None, problems
    checked: list[tuple[int, Target]] = []
    for index, target_data in enumerate(data.get("targets") or []):
        try:
            checked.append((index, target_model(target_data).model_validate(target_data)))
        except ValidationError as exc:
            problems += _shape_problems(exc, f"targets[{index}]")
    usable = usable and len(checked) == len(raw_targets)  # a target we could not read is not usable
    spec.targets = [target for _, target in checked if isinstance(target, KnownTarget)]
    problems += _check_settings(spec, raw)
    problems += _check_fields(spec)
    problems += access_problems(spec, checked)
    seen_names: set[str] = set()
    for index, target in checked:
        path = f"targets[{index}]"
        if target.name in seen_names:
            problems.append(
                Problem(
                    f"{path}.name", target.name, "duplicate_target_name", "give every target its own name"
                )
            )
        seen_names.add(target.name)
        problems += _check_target(spec, target, path, raw_targets[index])
    return (spec if usable else None), without_echoes(problems)


def _shape_problems(exc: ValidationError, prefix: str = "") -> Iterator[Problem]:
    for error in exc.errors():
        parts = [str(p) for p in error["loc"]]
        path = prefix
        for part in parts:
            path = f"{path}[{part}]" if part.isdigit() else (f"{path}.{part}" if path else part)
        field = parts[-1] if parts else "spec"
        kind = error["type"]
        if kind == "extra_forbidden":
            yield Problem(
                path, field, "unknown_key", "this key is not part of the spec format: remove or rename it"
            )
        elif kind == "missing":
            yield Problem(path, field, "missing_key", "this key is required: add it")
        else:  # a settings model is a mapping in the file: its class name means nothing to the reader
            message = "Input should be a valid dictionary" if kind == "model_type" else error["msg"]
            yield Problem(path, field, "invalid_value", f"{message}: correct the value")


def _check_settings(spec: Spec, raw: Mapping[str, Any]) -> Iterator[Problem]:
    if not COMPANY.match(spec.company) or ".." in spec.company:
        yield Problem(
            "company",
            spec.company,
            "invalid_company",
            "the company names the staging folder: use letters, digits, - and _ (no / or ..)",
        )
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield Problem(
            "timezone", spec.timezone, "invalid_timezone", "use an IANA zone name such as Asia/Tokyo"
        )
    if not spec.cuts:
        yield Problem(
            "cuts", "cuts", "invalid_cut_time", 'list at least one cut time, e.g. ["02:00", "11:00"]'
        )
    for index, cut in enumerate(spec.cuts):
        if not CUT_TIME.match(cut):
            yield Problem(
                f"cuts[{index}]", cut, "invalid_cut_time", "write cut times as HH:MM, 00:00 to 23:59"
            )
    if len(set(spec.cuts)) != len(spec.cuts):
        yield Problem("cuts", "cuts", "invalid_cut_time", "each cut time may appear only once")
    if not spec.notify.error_email:
        yield Problem(
            "notify.error_email",
            "error_email",
            "error_email_required",
            "name at least one address that receives failure reports",
        )
    for index, address in enumerate(spec.notify.error_email):
        yield from _check_address(f"notify.error_email[{index}]", address)
    yield from _check_address("notify.sender", spec.notify.sender)
    smtp = spec.notify.smtp
    if smtp.ssl and smtp.starttls:
        yield Problem(
            "notify.smtp", "starttls", "invalid_value", "choose either ssl (port 465) or starttls (port 587)"
        )
    raw_smtp = _dig(raw, "notify", "smtp")
    yield from _check_secret("notify.smtp.password", _dig(raw_smtp, "password"), is_loopback_host(smtp.host))
    yield from _check_url("ma.url", spec.ma.url)
    for path, name in (("ma", "token"), *(("ma.v4", name) for name in secret_fields(spec.ma.v4))):
        raw_value = _dig(raw, *path.split("."), name)  # as written: ${VAR} is a reference, not a secret
        yield from _check_secret(f"{path}.{name}", raw_value, is_loopback_url(spec.ma.url))
    try:
        make_url(spec.storage.state)
    except ArgumentError:
        yield Problem(
            "storage.state",
            "state",
            "invalid_url",
            "give a SQLAlchemy URL such as sqlite:///./var/state.db or postgresql+psycopg://…",
        )


def _check_address(path: str, address: str) -> Iterator[Problem]:
    problem = normalise_email(address).problem
    if problem is not None:
        yield Problem(path, address, "invalid_email", f"{problem.message}: give a valid address")


def _check_url(path: str, url: str) -> Iterator[Problem]:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port outside 0-65535
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        yield Problem(path, url, "invalid_url", "give an http(s) URL such as https://example.cybozu.com")


def _check_secret(path: str, raw_value: object, loopback: bool) -> Iterator[Problem]:
    if isinstance(raw_value, str) and raw_value and not is_secret_reference(raw_value) and not loopback:
        yield Problem(
            path,
            path.rsplit(".", 1)[-1],
            "inline_secret",
            "never write a secret into the spec: use ${ENV_VAR} or prefect-block:<name>",
        )


def _check_fields(spec: Spec) -> Iterator[Problem]:
    custom = spec.custom_specs()
    for ident, declared in spec.custom_fields.items():
        path = f"custom_fields.{ident}"
        if not CUSTOM_IDENTIFIER.match(ident):
            yield Problem(path, ident, "invalid_identifier", "use half-width letters, digits and _ (識別名)")
        if declared.type not in {t.value for t in CUSTOM_FIELD_TYPES}:
            allowed = sorted(t.value for t in CUSTOM_FIELD_TYPES)
            guess = suggest(declared.type, allowed)
            yield Problem(
                f"{path}.type", ident, "unknown_type", f"use one of: {', '.join(allowed)}", suggestion=guess
            )
    for name, value in spec.fields.items():
        path = f"fields.{name}"
        field = lookup_field(name, custom)
        if field is None:
            yield _unknown_field(path, name, custom)
            continue
        if value not in Direction._value2member_map_:
            guess = suggest(str(value), Direction._value2member_map_)
            yield Problem(
                path,
                name,
                "unknown_type",
                f"the integration type must be one of: {_DIRECTIONS}",
                suggestion=guess,
            )
            continue
        direction = Direction(value)
        violation = check_direction(field, direction)
        if violation is not None:
            yield Problem(path, name, violation.rule, f"{violation.message}: {violation.hint}")
            continue
        if direction is Direction.READABLE_WRITABLE:
            yield Problem(
                path,
                name,
                "readable_writable",
                "two writers for one value: give every mapping of it a conflict rule",
                "warning",
            )
        if name == "tags" and direction.writes:
            yield Problem(
                path,
                name,
                "tags_written",
                "tags written from outside can fight the MA's own tag rules: keep this only on purpose",
                "warning",
            )


def _unknown_field(path: str, name: str, custom: Mapping[str, object]) -> Problem:
    known = [*DEFAULT_FIELD_NAMES, *(f"{CUSTOM_PREFIX}{ident}" for ident in custom)]
    guess = suggest(name, known)
    if is_custom_name(name) and guess is None:
        hint = f"declare {custom_identifier(name)} under custom_fields first"
    else:
        hint = "use a default MA field name (see `renkei fields`) or custom:<識別名>"
    return Problem(path, name, "unknown_field", hint, suggestion=guess)


def _check_target(spec: Spec, target: Target, path: str, raw: object) -> Iterator[Problem]:
    if target.kind not in TARGET_KINDS:
        yield Problem(
            f"{path}.kind",
            target.kind,
            "unknown_target_kind",
            f"use one of: {', '.join(TARGET_KINDS)}",
            suggestion=suggest(target.kind, TARGET_KINDS),
        )
        return
    yield from _check_url(f"{path}.url", target.url)
    loopback = is_loopback_url(target.url)
    raw_auth = _dig(raw, "auth")
    for key in secret_fields(target.auth):
        yield from _check_secret(f"{path}.auth.{key}", _dig(raw_auth, key), loopback)
    yield from _check_kind_settings(target, path)
    yield from _check_match(target, path)
    yield from _check_map(spec, target, path)
    yield from _check_actions(target, path)
    yield from _check_masters(target, path)


def _check_kind_settings(target: Target, path: str) -> Iterator[Problem]:
    if isinstance(target, KintoneSettings) and target.app is None:
        yield Problem(f"{path}.app", "app", "missing_key", "give the kintone customer app's id")
    if isinstance(target, SalesforceSettings) and target.object not in ("Lead", "Contact"):
        yield Problem(
            f"{path}.object", str(target.object), "invalid_value", "customers go to Lead or Contact"
        )
    missing = target.auth.missing()
    if missing is not None:
        yield Problem(f"{path}.auth", "auth", "missing_credentials", missing)


def _check_match(target: Target, path: str) -> Iterator[Problem]:
    match = target.match
    if match is None or match.ma not in ("email", "hashcode"):
        yield Problem(
            f"{path}.match",
            match.ma if match else "match",
            "match_required",
            "match customers on email (or hashcode): match: {ma: email, target: <field>}",
            suggestion=suggest(match.ma, ("email", "hashcode")) if match else None,
        )
    elif target.kind == "sansan" and match.ma != "email":
        yield Problem(
            f"{path}.match", match.ma, "match_required", "Sansan cards can only be matched on email"
        )


def _check_map(spec: Spec, target: Target, path: str) -> Iterator[Problem]:
    custom = spec.custom_specs()
    used: dict[str, str] = {}
    if target.match is not None:
        used[target.match.target] = target.match.ma
    for name, entry in target.mappings().items():
        where = f"{path}.map.{name}"
        previous = used.setdefault(entry.target, name)
        if previous != name:
            yield Problem(
                where,
                name,
                "duplicate_target_field",
                f"{entry.target} is already mapped from {previous}: map each target field once",
            )
        field = lookup_field(name, custom)
        if field is None:
            yield _unknown_field(where, name, custom)
            continue
        direction = spec.direction(name)
        violation = check_direction(field, direction if direction is not Direction.NG else Direction.READABLE)
        if violation is not None and violation.rule == "never_integrated":
            yield Problem(where, name, violation.rule, f"{violation.message}: {violation.hint}")
            continue
        is_key = target.match is not None and (name, entry.target) == (target.match.ma, target.match.target)
        if direction is Direction.NG and not is_key:
            yield Problem(
                where,
                name,
                "mapped_ng_field",
                f"{name} is ng (not integrated): set fields.{name} to readable or writable, or unmap it",
            )
            continue
        if target.kind == "sansan" and not direction.writes and not is_key:
            yield Problem(
                where,
                name,
                "sansan_source_only",
                f"Sansan only feeds the MA: set fields.{name} to writable, or unmap it",
            )
        yield from _check_conflict(entry.conflict, direction, where, name)


def _check_conflict(conflict: str | None, direction: Direction, where: str, name: str) -> Iterator[Problem]:
    if conflict is not None and conflict not in ConflictRule._value2member_map_:
        guess = suggest(conflict, ConflictRule._value2member_map_)
        yield Problem(where, name, "unknown_conflict_rule", f"use one of: {_CONFLICTS}", suggestion=guess)
    elif direction is Direction.READABLE_WRITABLE and conflict is None:
        yield Problem(
            where,
            name,
            "conflict_rule_required",
            f"{name} is readable_writable: add conflict: ma_wins | target_wins | newest_wins",
        )
    elif conflict is not None and direction is not Direction.READABLE_WRITABLE:
        yield Problem(
            where,
            name,
            "conflict_rule_ignored",
            "only readable_writable fields use a conflict rule",
            "warning",
        )


def _check_actions(target: Target, path: str) -> Iterator[Problem]:
    yield from _check_streams(target, path, "actions", target.actions, ACTION_KINDS)


def _check_masters(target: Target, path: str) -> Iterator[Problem]:
    yield from _check_streams(target, path, "masters", target.masters, MASTER_KINDS)


def _check_streams(
    target: Target, path: str, what: str, streams: Mapping[str, ActionTarget], kinds: tuple[str, ...]
) -> Iterator[Problem]:
    """Action histories or masters: known kinds, each with its kintone app or Salesforce object."""
    noun = what.removesuffix("s")
    if target.kind == "sansan" and streams:
        yield Problem(f"{path}.{what}", what, f"sansan_no_{what}", f"Sansan only feeds the MA: remove {what}")
        return
    for kind, stream in streams.items():
        where = f"{path}.{what}.{kind}"
        if kind not in kinds:
            guess = suggest(kind, kinds)
            yield Problem(
                where, kind, f"unknown_{noun}_kind", f"use one of: {', '.join(kinds)}", suggestion=guess
            )
        elif target.kind == "kintone" and stream.app is None:
            yield Problem(where, kind, "missing_key", f"give the kintone app id that receives this {noun}")
        elif target.kind == "salesforce" and what == "masters" and stream.object is None:
            yield Problem(where, kind, "missing_key", f"give the Salesforce object that receives this {noun}")


def _dig(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data
