"""`renkei audit` for Salesforce and Sansan over real HTTP: shared and badly formed emails with every
record involved, as for kintone (tests/flows/test_kintone_audit.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from deployments.cli import app as cli
from tasks.audit import audit_target
from tests.flows import test_salesforce_sync as sf_base
from tests.flows import test_sansan_import as sansan_base
from tests.flows.test_salesforce_sync import World, adapter, outbound
from tests.flows.test_sansan_import import CARDS, TARGET, EnvFactory

world, make_env = sf_base.world, sansan_base.make_env  # those modules' fixtures
ENGLISH = {"LANG": "en_US.UTF-8"}


def folded(output: str) -> str:
    return " ".join(output.split())


def test_salesforce_audit_names_every_record_of_a_shared_email(world: World) -> None:
    spec = world.spec(defaults={"Company": "(未設定)"})
    world.stage_due(spec)
    target = adapter(spec)
    outbound(world, spec, target, "a1")
    twin = {"LastName": "重複", "Company": "別会社", "Email": "TANAKA@example.co.jp"}
    target.client.call(lambda sf: sf.restful("sobjects/Lead", method="POST", json=twin))
    target.close()
    leads = {r["Email"]: r["Id"] for r in world.rows("Lead")}

    report = audit_target(spec, spec.targets[0])
    assert report.scanned == len(leads)
    assert [(d.email, sorted(d.record_ids)) for d in report.duplicates] == [
        ("tanaka@example.co.jp", sorted([leads["tanaka@example.co.jp"], leads["TANAKA@example.co.jp"]]))
    ]
    assert report.bad_emails == []  # an Email field refuses a badly formed address itself
    assert report.drift == []

    result = CliRunner().invoke(cli, ["audit", str(world.root / "sf.yaml")], env=ENGLISH)
    assert result.exit_code == 1, result.output
    out = folded(result.output)
    assert f"sf (salesforce): {len(leads)} records scanned — problems found" in out
    assert leads["TANAKA@example.co.jp"] in out and leads["tanaka@example.co.jp"] in out


def test_salesforce_audit_names_drift(world: World) -> None:
    spec = world.spec(map={"email": "Email", "last_name": "Surname__c"})
    drift = {(d.target_field, d.rule) for d in audit_target(spec, spec.targets[0]).drift}
    assert drift == {("Surname__c", "field_missing")}


def test_sansan_audit_names_every_person_of_a_shared_email_and_the_bad_ones(make_env: EnvFactory) -> None:
    env = make_env()
    env.put_cards(*CARDS)
    result = CliRunner().invoke(
        cli, ["audit", str(Path(env.spec.storage.staging).parent / "spec.yaml")], env=ENGLISH
    )
    assert result.exit_code == 1, result.output
    out = folded(result.output)
    # six people (the processing card is not a person's newest completed card)
    assert f"{TARGET} (sansan): 5 records scanned — problems found" in out
    assert "info@shared.co.jp" in out and "1 email(s) held by several records" in out
    report = audit_target(env.spec, env.spec.target(TARGET))
    (shared,) = report.duplicates
    assert shared.email == "info@shared.co.jp" and len(shared.record_ids) == 2
    assert [b.rule for b in report.bad_emails] == ["email_missing"]
