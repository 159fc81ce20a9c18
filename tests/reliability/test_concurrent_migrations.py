"""Several processes opening one fresh state database at once (SQLite, PostgreSQL): one migrates,
the others wait.

Before the fix, four processes building the state store on one new SQLite file failed most tries
with ``table alembic_version already exists``. Each process here is its own interpreter, as four
`renkei` containers starting together would be; once all four have imported renkei they are released
at the same instant.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.postgres import PostgresServer

PROCESSES = 4
ROUNDS = 4
OPEN_STORE = """
import sys, time
from pathlib import Path
from connectors.state import StateStore
print("ready", flush=True)
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
try:
    store = StateStore(sys.argv[1], "acme")
    store.start_run("sync")
    store.close()
    print("ok")
except Exception as exc:
    print(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
"""


def _round(folder: Path, url: str) -> list[str]:
    go = folder / "go"
    folder.mkdir()
    workers = [
        subprocess.Popen([sys.executable, "-c", OPEN_STORE, url, str(go)], stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    for worker in workers:  # every interpreter has imported renkei and waits for the signal
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    go.touch()
    outcomes = [w.communicate(timeout=120)[0].strip() for w in workers]
    engine = sa.create_engine(url)
    with engine.connect() as c:
        versions = c.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        started = c.execute(sa.text("SELECT count(*) FROM runs")).scalar_one()
    engine.dispose()
    assert len(versions) == 1, versions  # one schema, migrated once
    assert started == outcomes.count("ok")
    return outcomes


def test_four_processes_start_on_one_fresh_database(tmp_path: Path) -> None:
    outcomes = [
        o
        for n in range(ROUNDS)
        for o in _round(tmp_path / f"round{n}", f"sqlite:///{tmp_path}/round{n}/state.db")
    ]
    failures = [o for o in outcomes if o != "ok"]
    assert failures == [], f"{len(failures)} of {len(outcomes)} starts failed: {sorted(set(failures))}"


def test_four_processes_start_on_one_fresh_postgresql_database(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """The same on PostgreSQL: the first takes the migrators' advisory lock, the others wait on it."""
    outcomes = [
        o
        for n in range(ROUNDS)
        for o in _round(tmp_path / f"round{n}", postgres.url(postgres.create_database()))
    ]
    failures = [o for o in outcomes if o != "ok"]
    assert failures == [], f"{len(failures)} of {len(outcomes)} starts failed: {sorted(set(failures))}"
