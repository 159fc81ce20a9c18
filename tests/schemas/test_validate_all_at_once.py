"""`renkei validate` finds everything at once: unknown keys never stop the checks, close matches suggested."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from deployments.cli import app
from schemas.spec import Problem
from schemas.validate import validate_spec_data, validate_spec_file

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
runner = CliRunner()


def kintone_example() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "examples" / "kintone.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def problems_of(data: dict[str, Any]) -> list[Problem]:
    return validate_spec_data(data, {"KINTONE_TOKEN": "t", "MA_TOKEN": "m", "SMTP_PASSWORD": "p"})[1]


def by_path(problems: list[Problem]) -> dict[str, Problem]:
    return {p.path: p for p in problems}


def typos(data: dict[str, Any]) -> dict[str, Any]:
    """Two key typos (cuts → cutz, a target's match → macth) and one wrong field name (score → scroe)."""
    data["cutz"] = data.pop("cuts")
    target = data["targets"][0]
    target["macth"] = target.pop("match")
    data["fields"]["scroe"] = data["fields"].pop("score")
    return data


def test_two_key_typos_and_a_wrong_field_are_all_reported_in_one_run_with_suggestions() -> None:
    found = by_path(problems_of(typos(kintone_example())))
    assert (found["cutz"].rule, found["cutz"].suggestion) == ("unknown_key", "cuts")
    assert (found["targets[0].macth"].rule, found["targets[0].macth"].suggestion) == ("unknown_key", "match")
    assert (found["fields.scroe"].rule, found["fields.scroe"].suggestion) == ("unknown_field", "score")
    # fixing the typo fixes the missing match too: it is not reported a second time
    assert "targets[0].match" not in found


def test_a_typo_in_auth_is_one_problem_not_also_missing_credentials() -> None:
    data = kintone_example()
    auth = data["targets"][0]["auth"]
    auth["api_tokn"] = auth.pop("api_token")
    found = by_path(problems_of(data))
    assert (found["targets[0].auth.api_tokn"].rule, found["targets[0].auth.api_tokn"].suggestion) == (
        "unknown_key",
        "api_token",
    )
    assert "targets[0].auth" not in found  # fixing the typo gives the credentials back
    del auth["api_tokn"]  # no credentials at all (no typo to fix): still reported
    assert by_path(problems_of(data))["targets[0].auth"].rule == "missing_credentials"


def test_the_cli_prints_all_three_with_did_you_mean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "typos.yaml"
    spec.write_text(yaml.safe_dump(typos(kintone_example()), allow_unicode=True), encoding="utf-8")
    for name in ("KINTONE_TOKEN", "MA_TOKEN", "SMTP_PASSWORD"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    english = runner.invoke(app, ["validate", str(spec)])
    assert english.exit_code == 2
    for line in ("cutz: cutz: unknown_key", "targets[0].macth: macth: unknown_key", "fields.scroe: scroe"):
        assert line in english.output
    assert english.output.count("did you mean") == 3
    assert "(did you mean cuts?)" in english.output and "(did you mean match?)" in english.output
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    japanese = runner.invoke(app, ["validate", str(spec)])
    assert japanese.exit_code == 2 and japanese.output.count("もしかして") == 3
    assert (
        "エラー 4 件" in japanese.output
    )  # the fourth: map.score, mapped while fields lacks it and "did you mean" not in japanese.output


def test_unknown_keys_at_any_depth_are_reported_and_the_rest_still_checked() -> None:
    data = kintone_example()
    data["notify"]["smtp"]["hots"] = "mail.example.co.jp"
    data["targets"][0]["map"]["custom:sales_stage"] = {"targte": "商談ステージ"}
    data["timezone"] = "Asia/Tokio"
    found = by_path(problems_of(data))
    assert found["notify.smtp.hots"].suggestion == "host"
    assert found["targets[0].map.custom:sales_stage.targte"].suggestion == "target"
    assert found["timezone"].rule == "invalid_timezone"  # a check that follows still ran


def test_a_missing_setting_does_not_hide_the_field_and_target_checks() -> None:
    data = kintone_example()
    del data["ma"]
    data["fields"]["scroe"] = data["fields"].pop("score")
    spec, problems = validate_spec_data(data, {"KINTONE_TOKEN": "t", "SMTP_PASSWORD": "p"})
    found = by_path(problems)
    assert spec is None and found["ma"].rule == "missing_key"
    assert found["fields.scroe"].suggestion == "score"


def test_a_broken_setting_is_reported_alone_not_with_problems_of_its_stand_in() -> None:
    data = kintone_example()
    data["notify"]["language"] = "jp"
    data["ma"]["url"] = 5
    spec, problems = validate_spec_data(data, {"KINTONE_TOKEN": "t", "MA_TOKEN": "m", "SMTP_PASSWORD": "p"})
    assert spec is None
    assert sorted((p.path, p.rule) for p in problems if p.severity == "error") == [
        ("ma.url", "invalid_value"),
        ("notify.language", "invalid_value"),
    ]  # the other notify settings and the targets were still checked, and found fine


def test_a_broken_target_does_not_hide_another_targets_problems() -> None:
    data = kintone_example()
    second = {**data["targets"][0], "name": "second", "kind": "kintoen"}
    data["targets"][0]["app"] = "not a number"
    data["targets"].append(second)
    spec, problems = validate_spec_data(data, {"KINTONE_TOKEN": "t", "MA_TOKEN": "m", "SMTP_PASSWORD": "p"})
    found = by_path(problems)
    assert spec is None and "targets[0].app" in found
    assert (found["targets[1].kind"].rule, found["targets[1].kind"].suggestion) == (
        "unknown_target_kind",
        "kintone",
    )


@pytest.mark.parametrize(
    ("where", "key", "value", "path", "suggestion"),
    [
        ((), "email", "readble", "fields.email", "readable"),
        ((), "custom:industy", "readable", "fields.custom:industy", "custom:industry"),
        (
            ("map",),
            "custom:industry",
            {"target": "業種", "conflict": "ma_win"},
            "map.custom:industry",
            "ma_wins",
        ),
        (("map",), "last_nmae", "姓", "map.last_nmae", "last_name"),
        (("actions",), "fomr", {"app": 13}, "actions.fomr", "form"),
    ],
)
def test_close_matches_are_suggested_for_values_and_names(
    where: tuple[str, ...], key: str, value: Any, path: str, suggestion: str
) -> None:
    data = kintone_example()
    section = data["targets"][0][where[0]] if where else data["fields"]
    section[key] = value
    full = f"targets[0].{path}" if where else path
    assert by_path(problems_of(data))[full].suggestion == suggestion


def test_match_keys_and_custom_field_types_get_suggestions_too() -> None:
    data = kintone_example()
    data["targets"][0]["match"]["ma"] = "emial"
    data["custom_fields"]["industry"]["type"] = "txt"
    found = by_path(problems_of(data))
    assert (found["targets[0].match"].rule, found["targets[0].match"].suggestion) == (
        "match_required",
        "email",
    )
    assert found["custom_fields.industry.type"].suggestion == "text"


def test_a_mistyped_target_name_stops_the_command_with_a_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    result = runner.invoke(
        app, ["replay", str(ROOT / "examples" / "demo.yaml"), "--target", "kintone-customer"]
    )
    assert result.exit_code == 2
    assert "unknown_target" in result.output and "did you mean kintone-customers?" in result.output


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_warning_is_explained_by_a_comment_on_its_line(example: Path) -> None:
    spec, problems = validate_spec_file(example, {})
    assert spec is not None and not [p for p in problems if p.severity == "error"]
    lines = example.read_text(encoding="utf-8").splitlines()
    for warning in (p for p in problems if p.severity == "warning"):
        name = warning.path.removeprefix("fields.")
        line = next(line for line in lines if re.match(rf"\s*{re.escape(name)}:", line))
        assert "validate warns on purpose" in line and "警告" in line, (example.name, line)
