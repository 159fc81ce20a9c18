"""connectors.sansan against the Sansan stand-in over real HTTP."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.http import HttpError, HttpPolicy
from connectors.sansan import SansanClient, TokenBucket
from sandbox.common import BackgroundServer
from sandbox.sansan.app import create_app
from sandbox.sansan.seed import seed
from sandbox.sansan.wire import JST
from schemas.cards import EMAIL_SHARED, select_cards
from schemas.sansan_card import BizCard, read_card, read_cards

KEY = "renkeiclient00000000000000000000"
FROM = datetime(2024, 1, 1, tzinfo=JST)
TO = datetime(2030, 1, 1, tzinfo=JST)
FAST = HttpPolicy(backoff_base=0.01, backoff_cap=0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    data: Path = tmp_path_factory.mktemp("sansan-client")
    seed(data, cards=400, seed=7)
    with BackgroundServer(create_app(data, KEY)) as running:
        yield running


@pytest.fixture
def client(server: BackgroundServer) -> Iterator[SansanClient]:
    with SansanClient(server.url, KEY, policy=FAST) as sansan:
        yield sansan


def read_all(client: SansanClient, **kwargs: Any) -> list[BizCard]:
    return read_cards(client.iter_cards(FROM, TO, **kwargs))


def test_me_and_a_wrong_key_fails_without_retrying(server: BackgroundServer, client: SansanClient) -> None:
    assert client.me()["name"] == "管理者 花子"
    with SansanClient(server.url, "0" * 32, policy=FAST) as wrong, pytest.raises(HttpError) as failed:
        wrong.me()
    assert failed.value.status == 401 and wrong.requests_made == 1
    assert "0" * 32 not in str(failed.value)


def test_cards_parse_into_typed_records(client: SansanClient) -> None:
    cards = read_all(client)
    assert len({c.id for c in cards}) == len(cards) > 300
    sample = next(c for c in cards if c.email and c.entry_status == "completed")
    assert sample.updated_time.utcoffset() == timedelta(hours=9)
    assert isinstance(sample.exchange_date, date) and sample.owner is not None
    assert sample.last_name_reading and sample.prefecture and sample.company_name
    assert any(c.email is None for c in cards)
    assert any(c.tags for c in cards)
    assert any(c.is_latest is False for c in cards)
    assert client.requests_made == math.ceil(len(cards) / 300)


def test_window_is_inclusive_and_must_carry_a_zone(client: SansanClient) -> None:
    card = read_all(client, include_past=False)[5]
    at = card.updated_time
    exact = read_cards(client.iter_cards(at.astimezone(UTC), at))
    assert card.id in {c.id for c in exact}
    with pytest.raises(ValueError, match="time zone"):
        next(client.iter_cards(datetime(2024, 1, 1), TO))


def test_window_split_at_jst_midnight_loses_nothing(client: SansanClient) -> None:
    whole = read_all(client, entry_status="all")
    midnights = [c.updated_time for c in whole if c.updated_time.astimezone(JST).hour == 0]
    cut = min(midnights).astimezone(JST).replace(minute=0, second=0)
    before = read_cards(client.iter_cards(FROM, cut - timedelta(seconds=1), entry_status="all"))
    after = read_cards(client.iter_cards(cut, TO, entry_status="all"))
    assert any(c.updated_time.astimezone(JST).hour == 23 for c in before)
    assert sorted(c.id for c in before + after) == sorted(c.id for c in whole)


def test_processing_entries_and_past_cards_on_request(client: SansanClient) -> None:
    completed = read_all(client, include_past=False)
    assert all(c.entry_status == "completed" and c.is_latest for c in completed)
    processing = read_all(client, entry_status=["processing"])
    assert processing and all(c.entry_status == "processing" for c in processing)
    with_past = read_all(client)
    assert len(with_past) > len(completed)


def test_one_card_person_and_tags(client: SansanClient) -> None:
    card = read_all(client, include_past=False)[0]
    assert read_card(client.get_card(card.id)) == card
    person = read_card(client.get_person(card.person_id or ""))  # the person's head card
    assert person is not None and person.id == card.id
    assert client.get_card("F" * 32) is None and client.get_person("F" * 32) is None
    assert {t["type"] for t in client.tags()} == {"public", "shared"}
    assert all(t["type"] == "public" for t in client.tags(types=["public"]))


def test_client_cards_feed_the_selection_rules(client: SansanClient) -> None:
    cards = read_all(client, entry_status="all")
    selection = select_cards(cards)
    assert selection.card_count == len(cards)
    assert selection.pending and selection.superseded and selection.selected
    shared = [r for r in selection.rejected if r.rule == EMAIL_SHARED]
    assert shared and all(r.message.count("info@") >= 1 for r in shared)
    assert any(r.rule == "email_missing" for r in selection.rejected)
    emails = [s.email for s in selection.selected]
    assert len(emails) == len(set(emails)) and all(e == e.strip().lower() for e in emails)


@pytest.mark.slow  # waits out a real Retry-After
def test_a_client_faster_than_the_limit_is_slowed_by_retry_after(server: BackgroundServer) -> None:
    with SansanClient(server.url, KEY, rate_per_second=200, policy=FAST) as eager:
        cards = [c for _ in range(2) for c in read_all(eager, entry_status="all", page_size=25)]
    assert eager.rate_limited > 0 and eager.rate_limit_wait_seconds > 0
    assert eager.requests_made == eager.http.stats.attempts == 2 * math.ceil(400 / 25) + eager.rate_limited
    assert len(cards) == 2 * len({c.id for c in cards}) == 800


def test_token_bucket_spaces_requests_and_pauses_on_request() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(8, clock=lambda: now[0], sleep=sleep)
    waits = [bucket.acquire() for _ in range(4)]
    assert waits == [0.0, 0.125, 0.125, 0.125]
    bucket.pause(1.0)
    assert bucket.acquire() == pytest.approx(1.0)
    now[0] += 5
    assert bucket.acquire() == 0.0
    assert slept == [w for w in [*waits, 1.0] if w]


@pytest.mark.slow  # ten thousand cards through injected 429s
def test_ten_thousand_cards_under_the_limit_with_injected_429s(tmp_path: Path) -> None:
    seed(tmp_path, cards=10_000, seed=11)
    app = create_app(tmp_path, KEY)
    with BackgroundServer(app) as server, SansanClient(server.url, KEY, policy=FAST) as sansan:
        httpx.put(f"{server.url}/_sandbox/faults", json={"rate": 0.1, "seed": 3, "kinds": ["429"]})
        seen: list[str] = []
        pages = 0
        for page in sansan.iter_cards(FROM, TO, entry_status="all"):
            pages += 1
            seen.extend(c["id"] for c in page)
            if pages in (2, 20):
                touched = [{"id": seen[0], "memo": "更新"}, {"id": seen[-1], "title": "部長"}]
                threading.Thread(
                    target=httpx.post,
                    args=(f"{server.url}/_sandbox/cards",),
                    kwargs={"json": {"cards": touched}},
                ).start()
        injected = app.state.faults.injected.get("429", 0)
        logged = [e for e in server.request_log.entries if e.path.endswith("/bizCards")]
    assert len(seen) == len(set(seen)) == 10_000
    assert pages == math.ceil(10_000 / 300)
    assert injected > 0 and sansan.rate_limited == injected
    assert app.state.limiter.refused == 0
    assert sansan.requests_made == pages + injected == len(logged) == sansan.http.stats.attempts
    assert Counter(e.status for e in logged) == {200: pages, 429: injected}
    assert sansan.rate_limit_wait_seconds > 0


def test_search_by_email_finds_every_person_holding_it(client: SansanClient) -> None:
    heads = read_all(client, include_past=False)
    shared = next(c.email for c in heads if c.email and c.email.startswith("info@"))
    found = read_cards(client.search_cards(email=shared))
    expected = {c.id for c in heads if c.email == shared}
    assert len(expected) >= 2 and {c.id for c in found} == expected
    assert all(c.entry_status == "completed" for c in found)
    assert [c for page in client.search_cards(email="nobody@example.co.jp") for c in page] == []
