"""deployments/README.md is a guide whose commands the suite runs: every command of its sections 0–6
is listed here with the test that runs it, so a command added to the guide without a test fails here.

The tests run each command on loopback (``--host 127.0.0.1``, the suite's own PostgreSQL and S3
servers); sections 7 and 8 (Docker, Kubernetes) say they are not tested here.
"""

from __future__ import annotations

import re
from importlib.metadata import requires
from pathlib import Path

GUIDE = Path(__file__).parents[2] / "deployments" / "README.md"
DISTRIBUTED = "tests/reliability/test_distributed.py"
WORKER = "tests/flows/test_worker_deploy.py"
STATE = "tests/flows/test_state_on_postgres_guide.py"

# the first words of each command in the guide → the test that runs that command
RUN_BY = {
    "pip install '.[postgres,s3]'": "test_the_extras_hold_the_drivers (below)",
    "createuser": DISTRIBUTED,  # and STATE (as written, with --pwprompt)
    "createdb": DISTRIBUTED,
    "pip install '.[postgres]'": STATE,
    "psql --dbname renkei": STATE,
    "export PREFECT_API_DATABASE_CONNECTION_URL": DISTRIBUTED,
    "export PREFECT_SERVER_ANALYTICS_ENABLED": DISTRIBUTED,
    "export PREFECT_SERVER_API_AUTH_STRING": WORKER,
    "prefect server start": DISTRIBUTED,
    "export PREFECT_API_URL": DISTRIBUTED,
    "export PREFECT_API_AUTH_STRING": WORKER,
    "export DO_NOT_TRACK": DISTRIBUTED,
    "export AWS_ACCESS_KEY_ID": DISTRIBUTED,
    "export AWS_ENDPOINT_URL": DISTRIBUTED,
    "prefect work-pool create renkei --type process": DISTRIBUTED,
    "cd /opt/renkei": DISTRIBUTED,
    "renkei deploy": DISTRIBUTED,
    "prefect deployment inspect": WORKER,
    "RENKEI_SPEC=": WORKER,
    "prefect deploy --prefect-file deployments/prefect.yaml --all": WORKER,
    "prefect worker start --pool renkei --type process --limit 2": DISTRIBUTED,
    "prefect deployment run 'backfill/": WORKER,
}


def guide_commands() -> list[str]:
    """Every command in the ```bash blocks of sections 0–6 (continuation lines joined, comments off)."""
    tested = GUIDE.read_text(encoding="utf-8").split("## 7.")[0]
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", tested, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_every_command_of_the_guide_is_run_by_a_test() -> None:
    commands = guide_commands()
    assert len(commands) >= 15
    untested = [c for c in commands if not any(c.startswith(prefix) for prefix in RUN_BY)]
    assert not untested, f"commands in {GUIDE.name} that no test runs: {untested}"
    for test in set(RUN_BY.values()) - {RUN_BY["pip install '.[postgres,s3]'"]}:
        assert (GUIDE.parents[1] / test).exists(), test
    assert any("pip install '.[postgres,s3]'" in c for c in commands)  # the guide names the extras


def test_the_extras_hold_the_drivers() -> None:
    """`pip install '.[postgres,s3]'`: the extras the guide names bring psycopg and s3fs, pinned."""
    extras = [r for r in requires("renkei") or [] if "extra ==" in r]
    assert any(r.startswith("psycopg[binary]==") and 'extra == "postgres"' in r for r in extras), extras
    assert any(r.startswith("s3fs==") and 'extra == "s3"' in r for r in extras), extras
