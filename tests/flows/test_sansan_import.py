"""Sansan → MA end to end: the Sansan and MA stand-ins over real HTTP, through tasks.targets.sansan."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.satori import SatoriClient
from connectors.state import StateStore
from sandbox.common import BackgroundServer
from sandbox.sansan.app import create_app as sansan_app
from sandbox.sansan.seed import seed, tag_id
from sandbox.satori.app import create_app as satori_app
from schemas.cards import EMAIL_SHARED, EMAIL_SHARED_OLDER
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.load import ChangeSource, Destination, SourceOnlyError, StreamReport, as_destination
from tasks.sync_target import sync_inbound
from tasks.targets import adapter_for, destination_for
from tasks.targets import sansan as sansan_source
from tasks.targets.sansan import SansanSource
from tests.flows.conftest import sandbox_call, write_spec

TOKEN = "tok-sansan-import"
KEY = "renkeiimport00000000000000000000"
TARGET = "sansan-cards"
MAP = {
    "last_name": "lastName",
    "first_name": "firstName",
    "last_name_reading": "lastNameReading",
    "first_name_reading": "firstNameReading",
    "lead_company_name": "companyName",
    "department": "departmentName",
    "title": "title",
    "phone_number": "tel",
    "mobile_phone_number": "mobile",
    "address": "address",
    "custom:card_exchanged_on": "exchangeDate",
    "custom:card_tags": "tags",
}


def person(n: int) -> str:
    return f"{n:032X}"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class Env:
    spec: Spec
    state: StateStore
    ma: SatoriClient
    ma_server: BackgroundServer
    sansan: BackgroundServer

    def put_cards(self, *cards: dict[str, Any]) -> None:
        httpx.post(f"{self.sansan.url}/_sandbox/cards", json={"cards": list(cards)}).raise_for_status()

    def sync(self, now: str, run_id: str) -> tuple[StreamReport, SansanSource]:
        source = SansanSource(self.spec, self.spec.target(TARGET), clock=lambda: at(now))
        try:
            report = sync_inbound(self.spec, self.spec.target(TARGET), source, self.ma, self.state, run_id)
        finally:
            source.close()
        return report, source

    def ma_writes(self) -> list[str]:
        return [e.path for e in self.ma_server.request_log.writes() if not e.path.endswith("bulk-get")]

    def customers(self) -> dict[str, dict[str, Any]]:
        return {c["email"]: c for page in self.ma.iter_search([]) for c in page}


EnvFactory = Callable[..., Env]


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[EnvFactory]:
    """Both stand-ins and a spec; ``cards`` seeds Sansan (0: only its tags), ``duplicates`` is the rule."""
    stack: list[Any] = []

    def build(cards: int = 0, duplicates: str = "reject") -> Env:
        seed(tmp_path / "sansan", cards=cards, seed=11)
        sansan = BackgroundServer(sansan_app(tmp_path / "sansan", KEY)).start()
        ma_server = BackgroundServer(satori_app(tmp_path / "ma", {TOKEN: "acme"})).start()
        stack.extend([sansan, ma_server])
        sandbox_call(ma_server.url, TOKEN, "POST", "/_sandbox/custom-fields", [
            {"identifier": "card_exchanged_on", "type": "date"},
            {"identifier": "card_tags", "type": "text"},
        ])  # fmt: skip
        path = write_spec(
            tmp_path / "spec.yaml",
            ma_server.url,
            TOKEN,
            tmp_path,
            custom_fields={"card_exchanged_on": {"type": "date"}, "card_tags": {"type": "text"}},
            fields={name: "writable" for name in MAP},
            targets=[{
                "name": TARGET, "kind": "sansan", "url": sansan.url, "api_version": "v3.2",
                "auth": {"api_key": KEY}, "match": {"ma": "email", "target": "email"},
                "duplicates": duplicates, "overlap_minutes": 10, "map": MAP,
            }],
        )  # fmt: skip
        spec = load_spec(path)
        state = StateStore(spec.storage.state, spec.company)
        ma = SatoriClient(ma_server.url, TOKEN)
        stack.extend([state, ma])
        return Env(spec, state, ma, ma_server, sansan)

    yield build
    for item in reversed(stack):
        item.close() if hasattr(item, "close") else item.stop()


HANAKO_OLD: dict[str, Any] = {
    "personId": person(1), "exchangeDate": "2026-03-01", "lastName": "佐藤", "firstName": "花子",
    "companyName": "株式会社サンプル", "departmentName": "営業部", "title": "主任",
    "email": "hanako@sample.co.jp", "updatedTime": "2026-04-10T09:00:00+09:00",
}  # fmt: skip
HANAKO: dict[str, Any] = {
    **HANAKO_OLD, "exchangeDate": "2026-04-01", "departmentName": "第二営業部", "title": "課長",
    "lastNameReading": "サトウ", "firstNameReading": "ハナコ", "tel": "03-1234-5678",
    "mobile": "090-1111-2222", "prefecture": "東京都", "city": "渋谷区", "street": "神宮前1-2-3",
    "building": "サンプルビル5F", "tagIds": [tag_id(0), tag_id(1)],
    "updatedTime": "2026-04-10T09:05:00+09:00",
}  # fmt: skip
CARDS: list[dict[str, Any]] = [
    HANAKO_OLD,
    HANAKO,
    {"personId": person(2), "lastName": "鈴木", "email": "", "updatedTime": "2026-04-10T09:10:00+09:00"},
    {"personId": person(3), "lastName": "高橋", "email": "info@shared.co.jp", "exchangeDate": "2026-03-05",
     "updatedTime": "2026-04-10T09:20:00+09:00"},
    {"personId": person(4), "lastName": "田中", "email": "info@shared.co.jp", "exchangeDate": "2026-03-20",
     "updatedTime": "2026-04-10T09:30:00+09:00"},
    {"personId": person(5), "lastName": "伊藤", "email": "\u3000ＪＩＲＯ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ",
     "updatedTime": "2026-04-10T09:40:00+09:00"},
    {"personId": person(6), "lastName": "渡辺", "email": "proc@example.co.jp", "entryStatus": "processing",
     "updatedTime": "2026-04-10T09:50:00+09:00"},
]  # fmt: skip


def test_cards_become_customers_then_a_new_card_updates_and_a_rerun_writes_nothing(
    make_env: EnvFactory,
) -> None:
    env = make_env()
    env.put_cards(*CARDS)

    report, source = env.sync("2026-04-10T12:00:00+09:00", "r1")
    assert source.window == (at("2026-01-10T12:00:00+09:00"), at("2026-04-10T12:00:00+09:00"))
    assert source.cards_read == 5  # newest card of five completed persons; the processing entry waits
    counts = report.counts
    assert (counts.received, counts.loaded, counts.rejected) == (5, 2, 3) and counts.balanced
    quarantined = {row.key: row.code for row in env.state.quarantined(TARGET)}
    assert quarantined == {person(2): "email_missing", person(3): EMAIL_SHARED, person(4): EMAIL_SHARED}
    kept = {row.key: row.payload for row in env.state.quarantined(TARGET)}
    assert kept[person(2)]["lastName"] == "鈴木" and kept[person(2)]["id"]  # the card to fix in Sansan
    assert (kept[person(4)]["lastName"], kept[person(4)]["email"]) == ("田中", "info@shared.co.jp")
    customers = env.customers()
    assert set(customers) == {"hanako@sample.co.jp", "jiro@example.co.jp"}
    hanako = customers["hanako@sample.co.jp"]
    names = ("last_name", "first_name", "last_name_reading", "first_name_reading")
    assert [hanako[k] for k in names] == ["佐藤", "花子", "サトウ", "ハナコ"]
    assert (hanako["lead_company_name"], hanako["department"], hanako["title"]) == (
        "株式会社サンプル", "第二営業部", "課長",
    )  # fmt: skip
    assert (hanako["phone_number"], hanako["mobile_phone_number"]) == ("03-1234-5678", "090-1111-2222")
    assert hanako["address"] == "東京都渋谷区神宮前1-2-3 サンプルビル5F"
    assert hanako["custom"]["card_exchanged_on"] == "2026-04-01"
    assert hanako["custom"]["card_tags"] == "展示会2024、セミナー参加"
    assert not hanako.get("tags")  # Sansan tags never become MA tags unless the spec maps `tags`
    assert customers["jiro@example.co.jp"]["last_name"] == "伊藤"

    env.put_cards({**HANAKO, "exchangeDate": "2026-04-12", "title": "部長", "mobile": "", "tagIds": [],
                   "updatedTime": "2026-04-12T10:00:00+09:00"})  # fmt: skip
    env.sansan.request_log.entries.clear()
    report, source = env.sync("2026-04-12T12:00:00+09:00", "r2")
    searched = [e for e in env.sansan.request_log.entries if e.path.endswith("/bizCards/search")]
    assert len(searched) == 3  # one per email of the window: info@, jiro@, hanako@
    assert source.window is not None and source.window[0] == at("2026-04-10T09:30:00+09:00")
    # in the overlap: jiro again (unchanged) and 田中, whose info@ is held by 高橋 outside this window
    assert (report.counts.received, report.counts.loaded, report.counts.skipped) == (3, 1, 1)
    assert report.counts.balanced and [e.key for e in report.errors] == [person(4)]
    assert report.errors[0].code == EMAIL_SHARED and "info@shared.co.jp" not in env.customers()
    customers = env.customers()
    assert len(customers) == 2  # the second card updated hanako, no duplicate
    hanako = customers["hanako@sample.co.jp"]
    assert (hanako["title"], hanako["custom"]["card_exchanged_on"]) == ("部長", "2026-04-12")
    assert hanako["mobile_phone_number"] == "090-1111-2222"  # a blank on the new card erases nothing

    writes = len(env.ma_writes())
    report, _ = env.sync("2026-04-12T12:00:00+09:00", "r3")
    assert report.counts.loaded == 0 and report.counts.skipped == 1 and report.counts.balanced
    assert len(env.ma_writes()) == writes  # the re-run sent the MA nothing


def test_an_email_held_in_another_form_by_an_unchanged_person_is_still_shared(make_env: EnvFactory) -> None:
    """伊藤's card holds ＪＩＲＯ＠… (full-width), which Sansan's exact email search cannot find."""
    env = make_env()
    jiro = next(card for card in CARDS if card["personId"] == person(5))
    env.put_cards(jiro, {**HANAKO, "updatedTime": "2026-04-11T09:00:00+09:00"})
    env.sync("2026-04-11T09:30:00+09:00", "w1")  # both imported; the next window opens at 08:50
    newcomer = {"personId": person(7), "lastName": "中村", "email": "jiro@example.co.jp",
                "exchangeDate": "2026-04-11", "updatedTime": "2026-04-11T10:00:00+09:00"}  # fmt: skip
    env.put_cards(newcomer)
    env.sansan.request_log.entries.clear()
    report, _ = env.sync("2026-04-11T12:00:00+09:00", "w2")
    counts = report.counts
    assert (counts.received, counts.loaded, counts.skipped, counts.rejected) == (2, 0, 1, 1)
    assert report.counts.balanced and report.errors[0].code == EMAIL_SHARED
    assert person(5) in (report.errors[0].message or "")  # the person the search could not see
    assert env.customers()["jiro@example.co.jp"]["last_name"] == "伊藤"  # not overwritten by 中村
    reads = [e.path for e in env.sansan.request_log.entries if "/persons/" in e.path]
    assert reads == [f"/v3.2/persons/{person(5)}"]  # one extra read, only for the hidden holder


def test_newest_exchange_resolves_a_shared_email_and_reports_the_other(make_env: EnvFactory) -> None:
    env = make_env(duplicates="newest_exchange")
    env.put_cards(*CARDS)
    report, _ = env.sync("2026-04-10T12:00:00+09:00", "r1")
    assert (report.counts.loaded, report.counts.rejected) == (3, 2) and report.counts.balanced
    assert env.customers()["info@shared.co.jp"]["last_name"] == "田中"  # exchanged 2026-03-20
    codes = {row.key: row.code for row in env.state.quarantined(TARGET)}
    assert codes == {person(2): "email_missing", person(3): EMAIL_SHARED_OLDER}


def test_a_window_straddling_jst_midnight_loses_nothing(
    make_env: EnvFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env()
    stamps = {7: "2026-04-10T23:59:59+09:00", 8: "2026-04-11T00:00:00+09:00", 9: "2026-04-11T00:00:01+09:00"}
    env.put_cards(*({"personId": person(n), "lastName": "山本", "email": f"p{n}@example.co.jp",
                     "updatedTime": stamp} for n, stamp in stamps.items()))  # fmt: skip
    report, source = env.sync("2026-04-11T00:00:00+09:00", "r1")  # the upper end is inclusive
    assert report.counts.loaded == 2 and set(env.customers()) == {"p7@example.co.jp", "p8@example.co.jp"}
    # a card saved late, stamped before the watermark: the overlap reads it
    env.put_cards({"personId": person(10), "lastName": "中村", "email": "p10@example.co.jp",
                   "updatedTime": "2026-04-10T23:59:58+09:00"})  # fmt: skip
    monkeypatch.setattr(sansan_source, "SEARCH_LIMIT", 2)  # four emails: one read of everyone instead
    env.sansan.request_log.entries.clear()
    report, source = env.sync("2026-04-11T00:30:00+09:00", "r2")
    paths = [e.path for e in env.sansan.request_log.entries]
    assert paths == ["/v3.2/bizCards", "/v3.2/bizCards"]
    assert source.window is not None and source.window[0] == at("2026-04-10T23:50:00+09:00")
    assert (report.counts.received, report.counts.loaded, report.counts.skipped) == (4, 2, 2)
    assert set(env.customers()) == {f"p{n}@example.co.jp" for n in (7, 8, 9, 10)}


def test_ten_thousand_cards_under_the_rate_limit_with_injected_429s_add_up(make_env: EnvFactory) -> None:
    env = make_env(cards=16_000)  # 10,030 of them are the completed newest card of a person
    faults = {"rate": 0.1, "seed": 5, "kinds": ["429"]}
    httpx.put(f"{env.sansan.url}/_sandbox/faults", json=faults).raise_for_status()
    report, source = env.sync("2024-06-15T12:00:00+09:00", "r1")
    injected = env.sansan.app.state.faults.injected.get("429", 0)
    counts = report.counts
    assert source.cards_read == counts.received == 10_030
    assert counts.received == counts.loaded + counts.skipped + counts.rejected + counts.deferred
    assert counts.deferred == 0 and counts.loaded == len(env.customers())
    assert counts.rejected == len(source.read_rejections()) == len(env.state.quarantined(TARGET))
    assert {row.code for row in env.state.quarantined(TARGET)} >= {"email_missing", EMAIL_SHARED}
    assert injected > 0 and source.client.rate_limited == injected
    assert source.client.requests_made == math.ceil(10_030 / 300) + injected
    assert env.sansan.app.state.limiter.refused == 0  # the client bucket kept under 10/s

    writes = len(env.ma_writes())
    again, _ = env.sync("2024-06-15T12:00:00+09:00", "r2")
    assert again.counts.loaded == 0 and again.counts.balanced and len(env.ma_writes()) == writes


def test_sansan_is_a_source_only_and_unknown_fields_are_named(make_env: EnvFactory) -> None:
    env = make_env()
    source = adapter_for(env.spec, env.spec.target(TARGET))
    try:
        assert isinstance(source, SansanSource) and isinstance(source, ChangeSource)
        assert not isinstance(source, Destination)  # by type: it has no upsert to call
        with pytest.raises(SourceOnlyError, match=r"source only.*action histories"):
            as_destination(source)
    finally:
        source.close()
    with pytest.raises(SourceOnlyError, match=f"{TARGET} is a source only"):
        destination_for(env.spec, env.spec.target(TARGET))
    target = env.spec.target(TARGET)
    wrong = target.model_copy(update={"map": {**target.map, "title": "jobTitle"}})
    with pytest.raises(ValueError, match="jobTitle, which Sansan cards do not have"):
        SansanSource(env.spec, wrong)


def test_first_run_window_is_configurable(make_env: EnvFactory) -> None:
    env = make_env()
    env.put_cards({"personId": person(11), "lastName": "小林", "email": "old@example.co.jp",
                   "exchangeDate": "2025-01-09", "updatedTime": "2025-01-10T09:00:00+09:00"})  # fmt: skip
    now = at("2026-04-10T12:00:00+09:00")
    target = env.spec.target(TARGET)
    narrow = SansanSource(env.spec, target, clock=lambda: now)
    wide = SansanSource(env.spec, target, clock=lambda: now, first_window=timedelta(days=800))
    try:
        assert [r for page in narrow.changed_records(None) for r in page] == []
        (record,) = [r for page in wide.changed_records(None) for r in page]
        assert record.id == person(11) and record.values == {
            "email": "old@example.co.jp", "lastName": "小林", "exchangeDate": date(2025, 1, 9),
        }  # fmt: skip
    finally:
        narrow.close()
        wide.close()
