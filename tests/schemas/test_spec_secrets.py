"""Secrets of a loaded spec stay secret types: no repr, dump or log line shows a value or a reference."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from schemas.spec import Spec
from schemas.targets import KintoneAuth, KintoneSettings, SalesforceAuth, SansanAuth
from schemas.validate import load_spec, validate_spec_data

ROOT = Path(__file__).parents[2]
ENV = {
    "KINTONE_TOKEN": "kintone-token-sentinel-1,kintone-token-sentinel-2",
    "SF_SECRET": "salesforce-secret-sentinel",
    "SANSAN_KEY": "sansan-key-sentinel",
    "MA_TOKEN": "ma-token-sentinel",
    "SMTP_PASSWORD": "smtp-password-sentinel",
    "V4_USER": "v4-user-secret-sentinel",
    "V4_COMPANY": "v4-company-secret-sentinel",
}
BLOCK = "prefect-block:sf-password-sentinel"  # a reference is as private as the value it names


def spec_with_secrets(tmp_path: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "all.yaml").read_text(encoding="utf-8"))
    data["ma"] |= {
        "token": "${MA_TOKEN}",
        "v4": {
            "user_key": "u",
            "user_secret": "${V4_USER}",
            "company_key": "c",
            "company_secret": "${V4_COMPANY}",
        },
    }
    data["notify"]["smtp"]["password"] = "${SMTP_PASSWORD}"
    kintone, salesforce, sansan = data["targets"]
    kintone["auth"] = {"api_token": "${KINTONE_TOKEN}"}
    salesforce["auth"] |= {"client_secret": "${SF_SECRET}", "password": BLOCK}
    sansan["auth"] = {"api_key": "${SANSAN_KEY}"}
    path = tmp_path / "secrets.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    return load_spec(spec_with_secrets(tmp_path), ENV)


def hidden() -> list[str]:
    return [*ENV.values(), *ENV["KINTONE_TOKEN"].split(","), BLOCK, BLOCK.removeprefix("prefect-block:")]


def test_repr_dumps_and_log_lines_of_a_loaded_spec_show_no_secret(
    spec: Spec, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("renkei.test").info("spec %s / %r", spec, spec)
    shown = {
        "repr": repr(spec),
        "str": str(spec),
        "json": spec.model_dump_json(),
        "dump": str(spec.model_dump()),
        "json dump": json.dumps(spec.model_dump(mode="json"), ensure_ascii=False),
        "log": caplog.text,
    }
    for where, text in shown.items():
        leaked = [value for value in hidden() if value in text]
        assert not leaked, f"{where} shows {leaked}"
        assert "**********" in text  # the secrets are there, masked
    assert spec.company in shown["log"] and "kintone-customers" in shown["json"]


def test_every_secret_is_a_secret_type_holding_the_value_until_used(spec: Spec) -> None:
    kintone, salesforce, sansan = spec.targets
    assert isinstance(kintone, KintoneSettings) and isinstance(kintone.auth, KintoneAuth)
    assert isinstance(salesforce.auth, SalesforceAuth) and isinstance(sansan.auth, SansanAuth)
    assert all(isinstance(secret, SecretStr) for secret in spec.secrets())
    assert {s.get_secret_value() for s in spec.secrets()} == {*ENV.values(), BLOCK}
    assert salesforce.auth.client_id == "3MVG9-renkei-connected-app"  # not a secret: readable as written


def test_a_v4_secret_is_checked_as_written_a_reference_passes_a_literal_does_not(tmp_path: Path) -> None:
    data: dict[str, Any] = yaml.safe_load(spec_with_secrets(tmp_path).read_text(encoding="utf-8"))
    data["ma"]["v4"]["user_secret"] = "literal-user-secret"
    _, problems = validate_spec_data(data, ENV)
    inline = [(p.path, p.rule) for p in problems if p.rule == "inline_secret"]
    assert inline == [("ma.v4.user_secret", "inline_secret")]  # company_secret is ${V4_COMPANY}: fine
    assert all("literal-user-secret" not in str(p) and ENV["V4_COMPANY"] not in str(p) for p in problems)
