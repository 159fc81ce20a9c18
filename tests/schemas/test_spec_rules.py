"""Every spec rule, table-driven: a mutation of examples/all.yaml that breaks it, and one that keeps it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.spec import Problem
from schemas.validate import validate_spec_data

EXAMPLE = Path(__file__).parents[2] / "examples" / "all.yaml"
BASE: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
ENV = {"KINTONE_TOKEN": "t0ken"}

Mutation = Callable[[dict[str, Any]], None]


def step(node: Any, key: Any) -> Any:
    """Walk one key; in the targets list a string picks the target of that kind."""
    if isinstance(node, list) and isinstance(key, str):
        return next(t for t in node if t["kind"] == key)
    return node[key]


def setter(*path: Any, value: Any) -> Mutation:
    def mutate(spec: dict[str, Any]) -> None:
        node: Any = spec
        for key in path[:-1]:
            node = step(node, key)
        node[path[-1]] = value

    return mutate


def deleter(*path: Any) -> Mutation:
    def mutate(spec: dict[str, Any]) -> None:
        node: Any = spec
        for key in path[:-1]:
            node = step(node, key)
        del node[path[-1]]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(spec: dict[str, Any]) -> None:
        for m in mutations:
            m(spec)

    return mutate


def run(mutation: Mutation, env: dict[str, str] | None = None) -> list[Problem]:
    spec = copy.deepcopy(BASE)
    mutation(spec)
    _, problems = validate_spec_data(spec, ENV if env is None else env)
    return problems


# rule, field the message must name, a breaking mutation, a keeping mutation (same area, still valid)
CASES: list[tuple[str, str, Mutation, Mutation]] = [
    (
        "unknown_field",
        "fax_number",
        setter("fields", "fax_number", value="readable"),
        setter("fields", "fax", value="readable"),
    ),
    (
        "unknown_field",
        "custom:undeclared",
        setter("fields", "custom:undeclared", value="writable"),
        setter("fields", "custom:industry", value="readable_writable"),
    ),
    (
        "unknown_field",
        "nickname",
        setter("targets", "kintone", "map", "nickname", value="ニックネーム"),
        setter("targets", "kintone", "map", "score", value="スコア"),
    ),
    (
        "unknown_type",
        "email",
        setter("fields", "email", value="read"),
        setter("fields", "email", value="readable"),
    ),
    (
        "unknown_type",
        "rating",
        setter("custom_fields", "rating", value={"type": "stars"}),
        setter("custom_fields", "rating", value={"type": "integer"}),
    ),
    (
        "never_writable",
        "score",
        setter("fields", "score", value="writable"),
        setter("fields", "score", value="readable"),
    ),
    (
        "never_writable",
        "status",
        setter("fields", "status", value="readable_writable"),
        setter("fields", "status", value="readable"),
    ),
    (
        "never_writable",
        "hashcode",
        setter("fields", "hashcode", value="writable"),
        setter("fields", "hashcode", value="readable"),
    ),
    (
        "never_writable",
        "customer_id",
        setter("fields", "customer_id", value="writable"),
        setter("fields", "customer_id", value="readable"),
    ),
    (
        "never_integrated",
        "delivery_status",
        setter("fields", "delivery_status", value="readable"),
        setter("fields", "delivery_status", value="ng"),
    ),
    (
        "never_integrated",
        "mail_status",
        setter("fields", "mail_status", value="writable"),
        setter("fields", "mail_status", value="ng"),
    ),
    (
        "never_integrated",
        "custom:customer_code",
        setter("fields", "custom:customer_code", value="readable"),
        setter("fields", "custom:customer_code", value="ng"),
    ),
    (
        "never_integrated",
        "delivery_status",
        setter("targets", "kintone", "map", "delivery_status", value="配信ステータス"),
        setter("fields", "memo", value="ng"),
    ),
    (
        "never_integrated",
        "custom:customer_code",
        setter("targets", "kintone", "map", "custom:customer_code", value="顧客コード"),
        setter("fields", "custom:customer_code", value="ng"),
    ),
    (
        "mapped_ng_field",
        "memo",
        setter("targets", "kintone", "map", "memo", value="メモ"),
        both(
            setter("fields", "memo", value="readable"),
            setter("targets", "kintone", "map", "memo", value="メモ"),
        ),
    ),
    (
        "sansan_source_only",
        "score",
        setter("targets", "sansan", "map", "score", value="score"),
        setter("targets", "sansan", "map", "mobile_phone_number", value="mobile"),
    ),
    (
        "sansan_no_actions",
        "actions",
        setter("targets", "sansan", "actions", value={"form": {"app": 1}}),
        setter("targets", "sansan", "actions", value={}),
    ),
    (
        "conflict_rule_required",
        "custom:industry",
        setter("targets", "kintone", "map", "custom:industry", value="業種"),
        setter(
            "targets", "kintone", "map", "custom:industry", value={"target": "業種", "conflict": "ma_wins"}
        ),
    ),
    (
        "unknown_conflict_rule",
        "custom:industry",
        setter(
            "targets", "kintone", "map", "custom:industry", value={"target": "業種", "conflict": "latest"}
        ),
        setter(
            "targets",
            "kintone",
            "map",
            "custom:industry",
            value={"target": "業種", "conflict": "newest_wins"},
        ),
    ),
    (
        "match_required",
        "match",
        deleter("targets", "kintone", "match"),
        setter("targets", "kintone", "match", value={"ma": "email", "target": "メールアドレス"}),
    ),
    (
        "match_required",
        "last_name",
        setter("targets", "kintone", "match", value={"ma": "last_name", "target": "姓"}),
        setter("targets", "kintone", "match", value={"ma": "hashcode", "target": "顧客ハッシュ"}),
    ),
    (
        "match_required",
        "hashcode",
        setter("targets", "sansan", "match", value={"ma": "hashcode", "target": "id"}),
        setter("targets", "sansan", "match", value={"ma": "email", "target": "email"}),
    ),
    (
        "duplicate_target_field",
        "first_name",
        setter("targets", "kintone", "map", "first_name", value={"target": "姓", "conflict": "ma_wins"}),
        setter("targets", "kintone", "map", "first_name", value={"target": "名", "conflict": "ma_wins"}),
    ),
    (
        "duplicate_target_field",
        "phone_number",
        setter(
            "targets",
            "kintone",
            "map",
            "phone_number",
            value={"target": "メールアドレス", "conflict": "ma_wins"},
        ),
        setter("targets", "kintone", "map", "email", value="メールアドレス"),
    ),
    (
        "duplicate_target_name",
        "kintone-customers",
        setter("targets", "sansan", "name", value="kintone-customers"),
        setter("targets", "sansan", "name", value="sansan-tokyo"),
    ),
    (
        "unknown_action_kind",
        "pageview",
        setter("targets", "kintone", "actions", "pageview", value={"app": 15}),
        setter("targets", "kintone", "actions", "segment_added", value={"app": 15}),
    ),
    (
        "unknown_target_kind",
        "hubspot",
        setter("targets", "kintone", "kind", value="hubspot"),
        setter("targets", "kintone", "kind", value="kintone"),
    ),
    (
        "invalid_timezone",
        "Tokyo/Japan",
        setter("timezone", value="Tokyo/Japan"),
        setter("timezone", value="UTC"),
    ),
    (
        "invalid_cut_time",
        "25:00",
        setter("cuts", value=["02:00", "25:00"]),
        setter("cuts", value=["02:00", "23:59"]),
    ),
    ("invalid_cut_time", "2am", setter("cuts", value=["2am"]), setter("cuts", value=["02:00"])),
    ("invalid_cut_time", "cuts", setter("cuts", value=["02:00", "02:00"]), setter("cuts", value=["11:00"])),
    (
        "invalid_email",
        "ops@@example.co.jp",
        setter("notify", "error_email", value=["ops@@example.co.jp"]),
        setter("notify", "error_email", value=["ｏｐｓ＠example.co.jp"]),
    ),
    (
        "invalid_email",
        "renkei",
        setter("notify", "sender", value="renkei"),
        setter("notify", "sender", value="renkei@example.co.jp"),
    ),
    (
        "error_email_required",
        "error_email",
        setter("notify", "error_email", value=[]),
        setter("notify", "error_email", value="one@example.co.jp"),
    ),
    (
        "error_email_required",
        "error_email",
        deleter("notify", "error_email"),
        setter("notify", "error_email", value=["a@example.co.jp", "b@example.co.jp"]),
    ),
    (
        "unresolved_env",
        "KINTONE_API_TOKEN",
        setter("targets", "kintone", "auth", value={"api_token": "${KINTONE_API_TOKEN}"}),
        setter("targets", "kintone", "auth", value={"api_token": "${KINTONE_TOKEN}"}),
    ),
    (
        "inline_secret",
        "api_token",
        setter("targets", "kintone", "auth", value={"api_token": "abcdef123"}),
        both(
            setter("targets", "kintone", "url", value="http://127.0.0.1:8702"),
            setter("targets", "kintone", "auth", value={"api_token": "abcdef123"}),
        ),
    ),
    (
        "inline_secret",
        "token",
        setter("ma", "token", value="plain-token"),
        both(setter("ma", "url", value="http://localhost:8701"), setter("ma", "token", value="plain-token")),
    ),
    (
        "inline_secret",
        "password",
        setter("notify", "smtp", "password", value="hunter2"),
        setter("notify", "smtp", "password", value="prefect-block:smtp"),
    ),
    (
        "missing_credentials",
        "auth",
        setter("targets", "kintone", "auth", value={}),
        setter("targets", "kintone", "auth", value={"username": "u", "password": "prefect-block:p"}),
    ),
    (
        "unknown_key",
        "tokn",
        setter("ma", "tokn", value="x"),
        setter("ma", "url", value="https://ma2.example.jp"),
    ),
    (  # another kind's setting is a mistake, never silently ignored
        "other_kinds_key",
        "object",
        setter("targets", "kintone", "object", value="Lead"),
        setter("targets", "salesforce", "object", value="Contact"),
    ),
    (
        "other_kinds_key",
        "app",
        setter("targets", "salesforce", "app", value=1),
        setter("targets", "kintone", "app", value=1),
    ),
    (
        "other_kinds_key",
        "bulk_threshold",
        setter("targets", "sansan", "bulk_threshold", value=5000),
        setter("targets", "salesforce", "bulk_threshold", value=5000),
    ),
    (
        "missing_key",
        "app",
        deleter("targets", "kintone", "app"),
        setter("targets", "kintone", "app", value=99),
    ),
    (
        "invalid_url",
        "ftp://example.cybozu.com",
        setter("targets", "kintone", "url", value="ftp://example.cybozu.com"),
        setter("targets", "kintone", "url", value="https://example.kintone.com"),
    ),
    (
        "invalid_identifier",
        "sales stage",
        setter("custom_fields", "sales stage", value={"type": "text"}),
        setter("custom_fields", "sales_stage2", value={"type": "text"}),
    ),
]


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def test_the_example_itself_is_valid() -> None:
    assert errors(run(lambda spec: None)) == []


@pytest.mark.parametrize(
    ("rule", "field", "breaking", "keeping"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES]
)
def test_rule(rule: str, field: str, breaking: Mutation, keeping: Mutation) -> None:
    broken = errors(run(breaking))
    matching = [p for p in broken if p.rule == rule]
    assert matching, f"expected {rule}, got {[str(p) for p in broken]}"
    message = str(matching[0])
    assert field in message and rule in message
    assert errors(run(keeping)) == []


def test_all_problems_are_reported_at_once() -> None:
    problems = errors(
        run(
            both(
                setter("fields", "score", value="writable"),
                setter("timezone", value="Mars/Olympus"),
                setter("targets", "kintone", "actions", "pageview", value={"app": 1}),
                setter("notify", "error_email", value=[]),
            )
        )
    )
    assert {p.rule for p in problems} >= {
        "never_writable",
        "invalid_timezone",
        "unknown_action_kind",
        "error_email_required",
    }


def test_unresolved_variable_is_named_and_its_value_never_printed() -> None:
    spec = copy.deepcopy(BASE)
    spec["ma"]["token"] = "${MA_TOKEN}"
    _, problems = validate_spec_data(spec, {})
    assert any(p.rule == "unresolved_env" and p.field == "MA_TOKEN" for p in problems)
    resolved, problems = validate_spec_data(spec, {"MA_TOKEN": "s3cr3t-sentinel"})
    assert resolved is not None and resolved.ma.token.get_secret_value() == "s3cr3t-sentinel"
    assert all("s3cr3t-sentinel" not in str(p) for p in problems)


@pytest.mark.parametrize(
    ("rule", "mutation"),
    [
        ("readable_writable", setter("fields", "memo", value="readable_writable")),
        ("tags_written", setter("fields", "tags", value="writable")),
        (
            "conflict_rule_ignored",
            setter("targets", "kintone", "map", "score", value={"target": "スコア", "conflict": "ma_wins"}),
        ),
    ],
)
def test_warnings_do_not_fail(rule: str, mutation: Mutation) -> None:
    problems = run(mutation)
    assert errors(problems) == []
    assert any(p.rule == rule and p.severity == "warning" for p in problems)


def test_every_readable_writable_field_warns() -> None:
    warned = {p.field for p in run(lambda s: None) if p.rule == "readable_writable"}
    expected = {name for name, direction in BASE["fields"].items() if direction == "readable_writable"}
    assert warned == expected
