"""A failed step as one line per target: what, the spec entry, what renkei did, what next."""

from __future__ import annotations

import re

import pytest

from schemas.errors import CODE_RULES, EXCEPTION_RULES, STATUS_RULES
from schemas.failures import failure_lines
from schemas.messages import STEP_FAILURES
from schemas.report import RunReport, StepFailure

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
SF, KINTONE = "targets[1].url (salesforce)", "targets[0].auth (kintone)"
DOWN = StepFailure("salesforce-leads", "load", "…", "target_unreachable", "transient", SF, None, 12, 64.6)
NOT_ASKED = StepFailure(
    "salesforce-leads",
    "write back",
    "…",
    "target_unreachable",
    "transient",
    SF,
    None,
    0,
    0.0,
    attempted=False,
)
REFUSED = StepFailure(
    "kintone-customers", "load", "…", "credentials_refused", "configuration", KINTONE, "GAIA_IA02", 1
)


def report(*failures: StepFailure) -> RunReport:
    return RunReport("acme", "run-1", "sync", failures=list(failures), next_cut="20261208T1100+0900")


def test_one_line_per_target_with_what_renkei_did_and_what_next() -> None:
    down, refused = failure_lines(report(DOWN, REFUSED, NOT_ASKED), "en")
    assert down == (
        "salesforce-leads (targets[1].url (salesforce)): the target did not answer (no connection) — "
        "load: 12 attempt(s) in 65 s (write back not attempted) — "
        "check that the target is up, its URL and the network; "
        "if it was only down, the next cut continues where this one stopped (next cut 20261208T1100+0900)"
    )
    assert refused.startswith(
        "kintone-customers (targets[0].auth (kintone)): the target refused the credentials"
    )
    assert "(GAIA_IA02)" in refused and "next cut" not in refused  # a person fixes it; waiting will not


@pytest.mark.parametrize(("language", "japanese", "english"), [("ja", True, False), ("en", False, True),
                                                               ("both", True, True)])  # fmt: skip
def test_the_line_is_in_the_chosen_language_and_stays_one_line(
    language: str, japanese: bool, english: bool
) -> None:
    (line,) = failure_lines(report(DOWN), language)  # type: ignore[arg-type]
    assert "\n" not in line
    assert bool(JAPANESE.search(line)) is japanese and ("did not answer" in line) is english
    if japanese:
        assert "連携先に接続できません" in line and "送信: 12 回試行、65 秒" in line


def test_a_step_without_requests_says_it_did_not_finish() -> None:
    catalog = StepFailure(
        "MA", "field catalog", "custom:x: type differs", "ma_field_catalog", "configuration", "ma"
    )
    (line,) = failure_lines(report(catalog), "en")
    assert line.startswith(
        "MA (ma): the spec's fields differ from the MA's catalog — field catalog: not finished"
    )


def test_every_reason_the_policy_gives_reads_in_both_languages() -> None:
    reasons = {r.message for table in (STATUS_RULES, CODE_RULES, EXCEPTION_RULES) for r in table.values()}
    for reason in reasons - {"rejected"}:  # a rejected row is the row's own code, not a step's
        entry = STEP_FAILURES[reason]
        assert JAPANESE.search(entry.ja) and JAPANESE.search(entry.fix_ja) and entry.en and entry.fix_en
