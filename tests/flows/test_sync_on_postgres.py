"""The demo world's full sync with its state DB on a real PostgreSQL server: every target loads, the
rerun writes nothing (nor compares what it reads again with the MA), and afterwards pg_stat_activity
shows no connection left by renkei."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from connectors.state import APPLICATION_NAME
from flows.sync import sync_report
from sandbox.demo_env import DemoEnvironment, DemoSizes
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.flows.conftest import demo_spec_file, demo_world
from tests.postgres import PostgresServer


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    with demo_world(
        tmp_path_factory, "sync-on-postgres", DemoSizes(customers=120, actions=1_200, cards=30)
    ) as running:
        yield running


class PeakConnections(threading.Thread):
    """Samples renkei's connections to one database while a run goes on; keeps the most seen."""

    def __init__(self, server: PostgresServer, database: str):
        super().__init__(daemon=True)
        self.server, self.database, self.peak = server, database, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, self.server.connections(APPLICATION_NAME, self.database))


def test_a_full_sync_on_postgresql_leaves_no_connection_behind(
    prefect_harness: None, env: DemoEnvironment, postgres: PostgresServer, tmp_path: Path
) -> None:
    database = postgres.create_database()
    path = demo_spec_file(env, tmp_path)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["storage"]["state"] = postgres.url(database)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    assert postgres.connections(APPLICATION_NAME, database) == 0

    sessions = "SELECT sessions FROM pg_stat_database WHERE datname = %s"
    sessions_before = postgres.query(sessions, database)[0][0]
    sampler = PeakConnections(postgres, database)
    sampler.start()
    try:
        report = sync_report(str(path))
        env.servers["satori"].request_log.entries.clear()
        again = sync_report(str(path))
    finally:
        sampler.stop.set()
        sampler.join()

    lines = {(line.target, line.stream): line.counts for line in report.lines}
    assert report.balanced and not report.failures and report.cuts
    assert lines[("kintone-customers", "customers:snapshot")].loaded == 120
    assert lines[("salesforce-leads", "customers:snapshot")].loaded == 120
    assert again.balanced and not again.failures
    assert all(line.counts.loaded == 0 for line in again.lines), again.table()  # nothing twice
    # the records the rerun reads again (inside the watermarks' overlap) are known from the first run
    asked = [e.path for e in env.servers["satori"].request_log.entries]
    assert not [p for p in asked if p.endswith("/customers/bulk-get")], asked
    assert sampler.peak >= 1  # the run did use the server (the sampler saw renkei's connections)
    assert postgres.lingering(APPLICATION_NAME, database) == 0
    opened = postgres.query(sessions, database)[0][0] - sessions_before

    with state_store(load_spec(str(path))) as state:
        ledger = state.run(report.run_id)
        assert ledger is not None and ledger["state"] == report.outcome
        assert state.watermark("kintone-customers", "outbound") is not None
        assert report.quarantine_open == len(state.quarantined())
    assert postgres.lingering(APPLICATION_NAME, database) == 0
    print(f"state DB connections: {opened} opened over two syncs, at most {sampler.peak} at once, 0 after")
