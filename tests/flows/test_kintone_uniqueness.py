"""One uniqueness contract on kintone, over real HTTP: the guard sees the whole app, not the read set.

- A record holding an MA address in another case or width is found and updated, never duplicated;
  two records holding one address after normalisation are never written (issue 20, item 7).
- Matched on hashcode: a record changed in the window that shares its email with a record outside
  the window is withheld, and both records are reported (issue 14).
"""

from __future__ import annotations

from typing import Any

from tests.flows import test_kintone_sync as base
from tests.flows.test_kintone_sync import EnvFactory, change_form, ma_customers

kintone, new_env = base.kintone, base.new_env  # the kintone sync tests' fixtures

LONG_AGO = "2026-01-05T00:00:00Z"  # an update time before any window of these tests


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_a_case_or_width_variant_in_kintone_is_updated_never_duplicated(new_env: EnvFactory) -> None:
    env = new_env(60)
    emails = sorted(ma_customers(env))
    upper, wide, twice = emails[3], emails[4], emails[5]
    typed = [upper.capitalize(), full_width(wide), twice.upper(), twice]
    with env.client() as client:
        added = client.add_records(env.apps.customers.id, [{"メールアドレス": t} for t in typed])
    ids = [str(o.target_id) for o in added]

    counts = env.outbound("out-1")["customers:snapshot"].counts
    assert counts.balanced and counts.received == 60
    assert (counts.loaded, counts.rejected) == (59, 1)
    records = env.customer_records()
    assert len(records) == 60 + 1  # 57 created, 2 variants updated, the shared pair left as it was
    customers = ma_customers(env)
    for record_id, email in ((ids[0], upper), (ids[1], wide)):
        assert records[record_id]["姓"] == customers[email]["last_name"]  # the typed record was updated
    assert not records[ids[2]]["姓"] and not records[ids[3]]["姓"]
    rejected = env.state().quarantined("kintone-customers")
    assert [(r.key, r.code) for r in rejected] == [(twice, "duplicate_email")]
    assert ids[2] in rejected[0].reason and ids[3] in rejected[0].reason

    again = env.outbound("out-2")
    assert all(r.counts.loaded == 0 for r in again.values())  # a re-run writes nothing


def test_hashcode_match_withholds_an_email_shared_with_a_record_outside_the_window(
    new_env: EnvFactory,
) -> None:
    env = new_env(40, match="hashcode")
    change_form(env.kintone, env.apps.customers.id, {"メールアドレス": {"unique": False}})
    assert env.outbound("out-1")["customers:snapshot"].counts.loaded == 40
    assert env.inbound("in-1").counts.loaded == 0  # the first read covers the app: nothing shared yet
    customers = ma_customers(env)
    shared, changed = sorted(customers)[5:7]
    stage = "受注" if customers[changed]["custom"]["sales_stage"] != "受注" else "失注"
    with env.client() as client:
        twin: dict[str, Any] = {"メールアドレス": shared.upper(), "更新日時": LONG_AGO}
        (outside,) = client.add_records(env.apps.customers.id, [twin])  # outside every later window
        edits = [{"顧客ハッシュ": customers[e]["hashcode"], "商談ステージ": stage} for e in (shared, changed)]
        client.update_records(env.apps.customers.id, "顧客ハッシュ", edits)
    inside = next(
        i for i, r in env.customer_records().items() if r["顧客ハッシュ"] == customers[shared]["hashcode"]
    )

    inbound = env.inbound("in-2")
    assert inbound.counts.balanced and inbound.counts.loaded == 1
    duplicates = sorted((e.key, e.message or "") for e in inbound.errors if e.code == "duplicate_email")
    assert [key for key, _ in duplicates] == sorted([inside, str(outside.target_id)])
    assert all(shared in message and inside in message for _, message in duplicates)
    after = ma_customers(env)
    assert after[changed]["custom"]["sales_stage"] == stage
    assert after[shared]["custom"] == customers[shared]["custom"]  # never written while the email is shared
