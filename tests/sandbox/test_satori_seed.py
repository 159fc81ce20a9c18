"""The SATORI seeder: deterministic, realistic, with its edge cases, and served by the stand-in."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from connectors.satori import SatoriClient
from flows.cli import app as cli
from sandbox.common import BackgroundServer
from sandbox.satori import db
from sandbox.satori.app import create_app
from sandbox.satori.clock import cut_micros_for
from sandbox.satori.seed import seed
from schemas.email import normalise_email

CUSTOMERS, ACTIONS = 600, 6_000


def dump(engine: Engine) -> tuple[list[tuple[object, ...]], ...]:
    with engine.connect() as conn:
        return tuple(
            [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
            for table in (db.customers, db.memberships, db.masters, db.actions, db.unique_values)
        )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("seeded")
    summary = seed(data, CUSTOMERS, ACTIONS, seed=7)
    assert (summary.customers, summary.actions) == (CUSTOMERS, ACTIONS)
    return data


def test_the_same_seed_gives_the_same_rows(seeded: Path, tmp_path: Path) -> None:
    seed(tmp_path / "again", CUSTOMERS, ACTIONS, seed=7)
    seed(tmp_path / "other", CUSTOMERS, ACTIONS, seed=8)
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
    app.state.store.clock.set(datetime.fromisoformat("2026-11-28T18:00+09:00"))
    with BackgroundServer(app) as server, SatoriClient(server.url, "demo-token") as client:
        fields = {f["name"]: f for f in client.fields()}
        assert fields["custom:customer_code"]["unique"] is True
        tagged = next(client.iter_search([{"field": "tags", "op": "any_of", "values": ["展示会"]}]))
        assert tagged and all("展示会" in c["tags"] for c in tagged)
        cuts = client.list_cuts(since=datetime.fromisoformat("2026-11-01T00:00+09:00"))
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
