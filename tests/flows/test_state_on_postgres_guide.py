"""deployments/README.md's "The state DB on PostgreSQL", run as written against a real server: the
administrator's commands, the extra it names, a store on the role it creates, the connection count."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from pathlib import Path

import sqlalchemy as sa

from connectors.state import StateStore
from tests.postgres import PostgresServer

GUIDE = Path(__file__).parents[2] / "deployments" / "README.md"
PASSWORD = "state-guide-secret"


def guide_commands() -> list[str]:
    section = GUIDE.read_text(encoding="utf-8").split("### The state DB on PostgreSQL", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_guide_names_the_extra_that_brings_the_driver() -> None:
    (pip,) = [c for c in guide_commands() if c.startswith("pip ")]
    assert pip == "pip install '.[postgres]'"
    requires = importlib.metadata.requires("renkei") or []
    assert [r for r in requires if r.startswith("psycopg[binary]==") and 'extra == "postgres"' in r]
    assert importlib.metadata.version("psycopg")  # the suite's environment has it (dev includes it)


def test_the_guides_commands_make_a_state_db_renkei_uses_and_leaves(postgres: PostgresServer) -> None:
    admin = {**os.environ, "PGHOST": postgres.host, "PGPORT": str(postgres.port), "PGUSER": "postgres"}
    outputs = []
    for command in (c for c in guide_commands() if not c.startswith("pip ")):
        done = subprocess.run(
            ["bash", "-c", command],
            input=f"{PASSWORD}\n{PASSWORD}\n",  # --pwprompt: no terminal here, so it reads stdin
            env=admin,
            capture_output=True,
            text=True,
            start_new_session=True,
            check=True,
        )
        outputs.append(done.stdout.strip())
        if command.startswith("createdb"):  # the database exists: renkei's first run, as its role
            url = f"postgresql+psycopg://renkei:{PASSWORD}@{postgres.host}:{postgres.port}/renkei"
            with StateStore(url, "acme") as store:
                run_id = store.start_run("sync")
                assert store.commit_watermark("staging", "cuts", "20261128T0200+0900", run_id)
                with store.engine.connect() as c:
                    owners = c.execute(
                        sa.text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
                    ).scalars()
                    assert list(owners) == ["renkei"]
            assert postgres.lingering("renkei", "renkei") == 0  # its backends have gone
    assert postgres.query("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'renkei'") == [
        (True,)
    ]
    assert outputs[-1] == "0"  # the guide's count, after the store was closed
