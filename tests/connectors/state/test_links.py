"""Links are upserted by key; workers saving the same keys at once neither fail nor duplicate."""

from __future__ import annotations

import random

from connectors.state import StateStore
from connectors.state.schema import links
from tests.connectors.state.conftest import race


def test_links_upsert(store: StateStore) -> None:
    store.save_links("kintone", "customers", [("a@example.jp", "1", "h1"), ("b@example.jp", "2", "h2")])
    store.save_links("kintone", "customers", [("a@example.jp", "1", "h3")])
    assert store.link_hashes("kintone", "customers", ["a@example.jp", "b@example.jp", "c@example.jp"]) == {
        "a@example.jp": ("1", "h3"),
        "b@example.jp": ("2", "h2"),
    }
    assert store.links_of("kintone", "customers") == {
        "a@example.jp": ("1", "h3"),
        "b@example.jp": ("2", "h2"),
    }


def test_a_key_given_twice_in_one_batch_keeps_the_last(store: StateStore) -> None:
    assert (
        store.save_links("kintone", "customers", [("a@example.jp", "1", "h1"), ("a@example.jp", "1", "h2")])
        == 1
    )
    assert store.links_of("kintone", "customers") == {"a@example.jp": ("1", "h2")}


def test_racing_link_upserts_leave_one_row_per_key(pg_stores: list[StateStore]) -> None:
    keys = [f"user{n:04}@example.jp" for n in range(1200)]  # more than one 500-row chunk

    def save(i: int, store: StateStore) -> int:
        rows = [(k, str(n), f"h{i}") for n, k in enumerate(keys)]
        return store.save_links("kintone", "customers", random.sample(rows, len(rows)))

    assert race(pg_stores, save) == [len(keys)] * len(pg_stores)
    saved = pg_stores[0].links_of("kintone", "customers")
    assert sorted(saved) == keys
    assert {digest for _, digest in saved.values()} <= {f"h{i}" for i in range(len(pg_stores))}
    with pg_stores[0].engine.connect() as c:
        assert c.execute(links.select().with_only_columns(links.c.key)).scalars().all().__len__() == len(keys)
