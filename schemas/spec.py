"""The integration spec (連携要件連絡書) as a file: its model and loader.

The model is deliberately lenient about values (directions, kinds, times are plain strings here) so
that ``schemas.validate`` can report every broken rule at once, each with its path in the file.
Secrets are ``SecretStr`` (shown as ``**********``) until a client is built; targets are in
``schemas.targets``.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import Field, SecretStr, field_validator

from schemas.catalog import CustomFieldSpec, FieldType
from schemas.email import normalise_email
from schemas.policy import ConflictRule, Direction
from schemas.targets import DESTINATION_KINDS as DESTINATION_KINDS
from schemas.targets import TARGET_KINDS as TARGET_KINDS
from schemas.targets import AnyTarget, SpecModel, Target, secret_fields

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
BLOCK_PREFIX = "prefect-block:"
ACTION_KINDS = ("form", "campaign", "tag", "segment_added", "segment_removed", "email")
MASTER_KINDS = ("form", "campaign", "tag", "segment", "email")
LOOPBACK_HOSTS = frozenset({"localhost", "::1", "ip6-localhost"})
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_SPEC_NODES = 100_000  # a real spec has hundreds; more means an alias bomb
MAX_SPEC_BYTES = 1 << 20  # a real spec is a few kB; a bigger file is refused before it is parsed
MAX_SPEC_DEPTH = 32  # a real spec nests about six levels; deeper would exhaust the parser's recursion


class SmtpSettings(SpecModel):
    host: str = "127.0.0.1"
    port: int = 587
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = 30.0
    cafile: str | None = None


class Notify(SpecModel):
    error_email: list[str] = Field(default_factory=list)
    sender: str = "renkei@localhost.localdomain"
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    language: Literal["ja", "en", "both"] = "both"  # the failure email and its attachments

    @field_validator("error_email", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("error_email")
    @classmethod
    def _canonical_recipients(cls, value: list[str]) -> list[str]:
        """Full-width or padded addresses go to the mail server in their ASCII form (an invalid one
        stays as written, for validation to report)."""
        return [normalise_email(address).value or address for address in value]

    @field_validator("sender")
    @classmethod
    def _canonical_sender(cls, value: str) -> str:
        return normalise_email(value).value or value


class Storage(SpecModel):
    staging: str = "./var/staging"
    state: str = "sqlite:///./var/state.db"


class V4Keys(SpecModel):
    """The public API v4's four key fields, from the MA's admin screen (secrets as ${VAR} or a block)."""

    user_key: str
    user_secret: SecretStr
    company_key: str
    company_secret: SecretStr


class MaSettings(SpecModel):
    """How renkei reaches the MA: ``integration`` is the Data Integration Option's API (its operator
    only); ``public`` is what every MA user has: v4 for writes, the admin screen's exports for reads."""

    url: str
    token: SecretStr = SecretStr("")  # the integration API's token (access: integration)
    access: Literal["integration", "public"] = "integration"
    v4: V4Keys | None = None  # access: public
    exports: str | None = None  # access: public — fsspec glob of the customer exports
    exports_archive: str | None = None  # where picked-up exports go (default: archive/ beside them)


class CustomField(SpecModel):
    type: str
    unique: bool = False
    label: str = ""
    options: list[str] = Field(default_factory=list)
    max_length: int | None = None


class Spec(SpecModel):
    version: Literal[1] = 1
    company: str
    timezone: str = "Asia/Tokyo"
    cuts: list[str] = Field(default_factory=lambda: ["02:00", "11:00"])
    notify: Notify = Field(default_factory=Notify)
    storage: Storage = Field(default_factory=Storage)
    ma: MaSettings
    custom_fields: dict[str, CustomField] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict)
    targets: list[AnyTarget] = Field(default_factory=list)

    def custom_specs(self) -> dict[str, CustomFieldSpec]:
        """Declared custom fields whose type is known, keyed by identifier."""
        known = {t.value for t in FieldType}
        return {
            ident: CustomFieldSpec(
                ident,
                FieldType(cf.type),
                cf.unique,
                cf.label,
                tuple(cf.options),
                cf.max_length,
            )
            for ident, cf in self.custom_fields.items()
            if cf.type in known
        }

    def direction(self, field: str) -> Direction:
        """The configured 連携種別 of ``field``; a field not listed is ng."""
        value = self.fields.get(field, Direction.NG.value)
        return Direction(value) if value in Direction._value2member_map_ else Direction.NG

    def conflict_rule(self, target: Target, field: str) -> ConflictRule | None:
        entry = target.mappings().get(field)
        if entry is None or entry.conflict is None or entry.conflict not in ConflictRule._value2member_map_:
            return None
        return ConflictRule(entry.conflict)

    def secrets(self) -> list[SecretStr]:
        """Every secret the spec holds (env applied; a block reference as written), to be masked."""
        models = [self.ma, self.ma.v4, self.notify.smtp, *(target.auth for target in self.targets)]
        return [secret for model in models for secret in secret_fields(model).values()]

    def target(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(f"no target named {name!r} in the spec for {self.company}")


@dataclass(frozen=True)
class Problem:
    """One broken rule, located by its path in the spec file."""

    path: str
    field: str
    rule: str
    hint: str
    severity: Literal["error", "warning"] = "error"
    suggestion: str | None = None  # the close match of a mistyped name ("did you mean …")

    def __str__(self) -> str:
        guess = f" (did you mean {self.suggestion}?)" if self.suggestion else ""
        return f"{self.path}: {self.field}: {self.rule}: {self.hint}{guess}"


class SpecError(Exception):
    """The spec cannot be used; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: the integration spec is not valid:\n{lines}")


def is_loopback_url(url: str) -> bool:
    """True for http(s)://localhost, 127.0.0.0/8 and [::1]: the trial environment's endpoints."""
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    return is_loopback_host(host)


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def is_secret_reference(value: str) -> bool:
    return value.startswith(BLOCK_PREFIX) or bool(ENV_REF.fullmatch(value.strip()))


def interpolate(data: Any, env: Mapping[str, str], path: str = "") -> tuple[Any, list[Problem]]:
    """Replace ``${VAR}`` in every string by the environment's value; report missing names only."""
    problems: list[Problem] = []
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        for key, value in data.items():
            out[key], sub = interpolate(value, env, _join(path, str(key)))
            problems += sub
        return out, problems
    if isinstance(data, list):
        items = []
        for index, value in enumerate(data):
            item, sub = interpolate(value, env, f"{path}[{index}]")
            items.append(item)
            problems += sub
        return items, problems
    if isinstance(data, str):
        for name in ENV_REF.findall(data):
            if name not in env:
                problems.append(
                    Problem(
                        path,
                        name,
                        "unresolved_env",
                        f"the environment variable {name} is not set: export it before running",
                    )
                )
        return ENV_REF.sub(lambda m: env.get(m.group(1), ""), data), problems
    return data, problems


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _SpecLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (the later one would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:  # `<<: *base` then a key of its own is an override, not a twin
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key!r} appears twice (the first would be ignored)",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _too_large(data: Any, limit: int = MAX_SPEC_NODES) -> str | None:
    """Why aliases make ``data`` unusable (a cycle, or more than ``limit`` values once expanded)."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(value: Any) -> int:
        if not isinstance(value, dict | list):
            return 1
        if id(value) in open_:
            raise RecursionError
        if id(value) not in sizes:
            open_.add(id(value))
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            sizes[id(value)] = 1 + sum(size(item) for item in items)
            open_.discard(id(value))
        return sizes[id(value)]

    try:
        total = size(data)
    except RecursionError:
        return "an alias refers to the node that contains it"
    return f"its aliases expand to {total:,} values (at most {limit:,})" if total > limit else None


def _too_deep(text: str) -> str | None:
    """Where the YAML nests deeper than MAX_SPEC_DEPTH, found from the parser's events (no recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_SPEC_DEPTH:
                mark = event.start_mark
                return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the file"
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def read_yaml(source: str | Path) -> tuple[Any, list[Problem]]:
    """Parse a spec file; a YAML error becomes a problem naming the line."""
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            hint = f"the file has {size:,} bytes, at most {MAX_SPEC_BYTES:,}: is it the right file?"
            return None, [Problem(str(path), "file", "spec_too_large", hint)]
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), "file", "unreadable", f"cannot read the spec: {exc}")]
    try:
        where = _too_deep(text)
        if where is not None:
            hint = f"values nest deeper than {MAX_SPEC_DEPTH} levels (at most {MAX_SPEC_DEPTH}): flatten them"
            return None, [Problem(str(path), where, "spec_too_deep", hint)]
        data = yaml.load(text, Loader=_SpecLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the file"
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(str(path), where, "invalid_yaml", f"{reason}: fix the YAML syntax there")]
    if not isinstance(data, dict):
        return None, [Problem(str(path), "file", "not_a_mapping", "the spec must be a YAML mapping of keys")]
    reason = _too_large(data)
    if reason is not None:
        return None, [Problem(str(path), "file", "spec_too_large", f"{reason}: write the values out")]
    return data, []
