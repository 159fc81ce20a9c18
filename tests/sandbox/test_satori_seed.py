"""The SATORI seeder: deterministic, realistic, with its edge cases, and served by the stand-in."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from connectors.satori import SatoriClient
from deployments.cli import app as cli
from sandbox.common import BackgroundServer
from sandbox.satori import db
from sandbox.satori.app import create_app
from sandbox.satori.clock import cut_micros_for
from sandbox.satori.seed import seed
from schemas import clock
from schemas.email import normalise_email

CUSTOMERS, ACTIONS = 600, 6_000
BEFORE_RECENT = "a21223c94013193af284efebac2c18585cc629003cc1a45edef82ad9acd2fd00"
NOW = clock.now()  # the data is dated relative to it, so it is recent on any date


def dump(engine: Engine) -> tuple[list[tuple[object, ...]], ...]:
    with engine.connect() as conn:
        return tuple(
            [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
            for table in (db.customers, db.memberships, db.masters, db.actions, db.unique_values)
        )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("seeded")
    summary = seed(data, CUSTOMERS, ACTIONS, seed=7, now=NOW)
    assert (summary.customers, summary.actions) == (CUSTOMERS, ACTIONS)
    return data


def test_the_same_seed_gives_the_same_rows(seeded: Path, tmp_path: Path) -> None:
    seed(tmp_path / "again", CUSTOMERS, ACTIONS, seed=7, now=NOW)
    seed(tmp_path / "other", CUSTOMERS, ACTIONS, seed=8, now=NOW)
    first = dump(db.make_engine(db.database_url_for(seeded)))
    assert first == dump(db.make_engine(db.database_url_for(tmp_path / "again")))
    assert first[0] != dump(db.make_engine(db.database_url_for(tmp_path / "other")))[0]


def test_seeded_rows_carry_the_edge_cases(seeded: Path) -> None:
    engine = db.make_engine(db.database_url_for(seeded))
    with engine.connect() as conn:
        customers = conn.execute(select(db.customers)).all()
        actions = conn.execute(
            select(db.actions.c.occurred_at, db.actions.c.recorded_at, db.actions.c.cut_at)
        ).all()
    assert len(customers) == CUSTOMERS and len(actions) == ACTIONS
    assert all(normalise_email(c.email).value == c.email for c in customers)
    assert len({c.email for c in customers}) == CUSTOMERS
    assert len({c.custom["customer_code"] for c in customers}) == CUSTOMERS
    assert any("\u3000" in c.last_name and c.first_name is None for c in customers)
    assert any(c.memo and len(c.memo) >= 5_000 for c in customers)
    assert any(c.department is None for c in customers) and any(c.department for c in customers)
    assert all(a.recorded_at >= a.occurred_at and a.cut_at == cut_micros_for(a.recorded_at) for a in actions)
    assert any(cut_micros_for(a.occurred_at) != a.cut_at for a in actions)


def test_the_stand_in_serves_seeded_data(seeded: Path) -> None:
    app = create_app(seeded, {"demo-token": "demo"})
    app.state.store.clock.set(NOW)
    with BackgroundServer(app) as server, SatoriClient(server.url, "demo-token") as client:
        fields = {f["name"]: f for f in client.fields()}
        assert fields["custom:customer_code"]["unique"] is True
        tagged = next(client.iter_search([{"field": "tags", "op": "any_of", "values": ["展示会"]}]))
        assert tagged and all("展示会" in c["tags"] for c in tagged)
        cuts = client.list_cuts(since=NOW - timedelta(days=27))
        rows = 0
        for cut in cuts:
            rows += b"".join(client.stream_actions_csv(cut.id, "email")).count(b"\n") - 1
        assert rows > 0
        masters = b"".join(client.stream_masters_csv(cuts[-1].id, "tag")).decode()
        assert "ウェビナー参加" in masters


def test_cli_seed(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["sandbox", "seed", "--data", str(tmp_path), "--customers", "50", "--actions", "200", "--seed", "3"],
    )
    assert result.exit_code == 0, result.output
    assert "seeded 50 customers and 200 actions for demo" in result.output
    assert (tmp_path / "satori.db").exists()


def test_a_recent_share_puts_every_kind_in_the_cut_before_now(tmp_path: Path) -> None:
    """What the demo relies on: the newest cut holds every action kind, whatever the date."""
    seed(tmp_path, 100, 2_000, seed=1, now=NOW, recent=0.1)
    app = create_app(tmp_path, {"demo-token": "demo"})
    app.state.store.clock.set(NOW)
    with BackgroundServer(app) as server, SatoriClient(server.url, "demo-token") as client:
        newest = client.list_cuts()[-1]
        assert newest.at <= NOW < newest.at + timedelta(hours=15)
        for kind in ("form", "email", "campaign", "tag", "segment_added", "segment_removed"):
            rows = b"".join(client.stream_actions_csv(newest.id, kind)).count(b"\n") - 1
            assert rows > 0, kind


def test_old_seeds_keep_their_data_without_a_recent_share(tmp_path: Path) -> None:
    """No recent share, no extra draw: the rows are those seeded before it existed (fingerprint taken
    at commit d4356bd), so the benchmark and soak figures seeded with them stay valid."""
    seed(tmp_path, CUSTOMERS, ACTIONS, seed=7, now=datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    rows = repr(dump(db.make_engine(db.database_url_for(tmp_path)))).encode()
    assert (
        hashlib.sha256(rows).hexdigest() == "a21223c94013193af284efebac2c18585cc629003cc1a45edef82ad9acd2fd00"
    )
