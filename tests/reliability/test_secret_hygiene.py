"""A sentinel secret behind every credential of a full run, then looked for everywhere a run leaves text.

Every stand-in (MA, kintone, Salesforce over HTTPS, Sansan) and a STARTTLS SMTP server with AUTH
take credentials that all contain ``SENTINEL``: the MA token comes from a Prefect Secret block, the
others from ``${ENV}`` references in the spec. One more kintone target answers every call with an
error that repeats the request's headers, as a careless service or proxy does, so a credential
reaches an exception. After a sync, a plan and a replay, the sentinel must be in no log line
(Python logging at DEBUG, stdout/stderr, Prefect's API logs), no Prefect state message or artifact,
no file under the run's folder (staging, plans, state DB), no report and no email.

Also here: TLS is verified by default (the Salesforce stand-in's own CA must be named). Covered
elsewhere: the MA stand-in refuses unauthenticated and cross-company calls
(tests/connectors/test_satori_client_customers.py::test_no_or_wrong_token_is_401_and_a_token_sees_only_its_company);
a spec refuses inline secrets for non-loopback endpoints (tests/schemas/test_spec_rules.py, the
``inline_secret`` cases).
"""

from __future__ import annotations

import io
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.logging.handlers import APILogWorker
from prefect.testing.utilities import prefect_test_harness
from pydantic import SecretStr
from rich.console import Console

import flows.sync
from flows.plan import plan
from flows.replay import replay
from flows.report import print_report
from flows.sync import sync_report
from sandbox.common import LOOPBACK, BackgroundServer
from sandbox.kintone.app import create_app as kintone_app
from sandbox.kintone.demo_apps import build_demo_apps
from sandbox.salesforce.app import create_app as salesforce_app
from sandbox.sansan.app import create_app as sansan_app
from sandbox.sansan.seed import seed as seed_cards
from sandbox.satori.app import create_app as satori_app
from sandbox.satori.seed import seed as seed_ma
from schemas import clock
from schemas.validate import load_spec
from tasks.redact import MASK, MaskedError, masked_failures, redact, register_secret
from tasks.steps import load_target, write_back_target
from tasks.targets.salesforce import SalesforceTarget
from tests.flows.conftest import sandbox_call
from tests.smtp_sink import SmtpSink, make_tls, smtp_sink

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
SENTINEL = "Zq7xSentinelRenkei"
MA_TOKEN = f"{SENTINEL}ma"
KINTONE_TOKENS = tuple(f"{SENTINEL}kintone{app}" for app in ("Customers", "Forms", "Mails", "FormMaster"))
ECHO_TOKEN = f"{SENTINEL}kintoneEcho"
SF_SECRET, SF_PASSWORD = f"{SENTINEL}sfClientSecret", f"{SENTINEL}sfPassword"
SANSAN_KEY = f"{SENTINEL}sansan".ljust(32, "0")
SMTP_PASSWORD = f"{SENTINEL}smtp"
ENV = {
    "RENKEI_TEST_KINTONE_TOKENS": ",".join(KINTONE_TOKENS),
    "RENKEI_TEST_ECHO_TOKEN": ECHO_TOKEN,
    "RENKEI_TEST_SF_SECRET": SF_SECRET,
    "RENKEI_TEST_SF_PASSWORD": SF_PASSWORD,
    "RENKEI_TEST_SANSAN_KEY": SANSAN_KEY,
    "RENKEI_TEST_SMTP_PASSWORD": SMTP_PASSWORD,
}
MA_BLOCK = "renkei-hygiene-ma-token"
REAL_TARGETS = ["kintone-customers", "salesforce-leads", "sansan-cards"]
# the stand-ins and the SMTP sink are the other side of the wire, not renkei: their logs are theirs
OTHER_SIDE = ("mail.log", "uvicorn", "sandbox")
T = TypeVar("T")


def echo_app() -> FastAPI:
    """A service whose error repeats the request's headers and form (credentials included), in
    kintone's error shape and in OAuth's."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def refuse(path: str, request: Request) -> JSONResponse:
        sent = f"illegal request {path}: {dict(request.headers)} {(await request.body()).decode()}"
        body = {"code": "CB_IL02", "message": sent, "error": "invalid_grant", "error_description": sent}
        return JSONResponse(body, 400)

    return app


class Capture(logging.Handler):
    """Every record of every logger at DEBUG, formatted as a handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(OTHER_SIDE):
            self.lines.append(self.format(record))


@dataclass
class World:
    root: Path
    spec_path: Path
    servers: dict[str, BackgroundServer]
    mail: SmtpSink
    sf_ca: Path


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def spec_document(servers: dict[str, BackgroundServer], mail: SmtpSink, cafile: Path, root: Path) -> Any:
    """The demo spec against these stand-ins, every credential a reference, plus the echoing target."""
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["storage"] = {"staging": str(root / "staging"), "state": f"sqlite:///{root / 'state.db'}"}
    data["ma"] = {"url": servers["satori"].url, "token": f"prefect-block:{MA_BLOCK}"}
    data["notify"]["smtp"] = {
        "host": LOOPBACK,
        "port": mail.port,
        "starttls": True,
        "username": "renkei",
        "password": "${RENKEI_TEST_SMTP_PASSWORD}",
        "cafile": str(cafile),
    }
    targets = {t["name"]: t for t in data["targets"]}
    targets["kintone-customers"].update(
        url=servers["kintone"].url, auth={"api_token": "${RENKEI_TEST_KINTONE_TOKENS}"}
    )
    sf = servers["salesforce"]
    targets["salesforce-leads"].update(
        url=sf.url,
        ca_bundle=str(sf.app.state.tls.ca),
        auth={
            "client_id": "renkei-client",
            "client_secret": "${RENKEI_TEST_SF_SECRET}",
            "username": "admin@renkei.example.com",
            "password": "${RENKEI_TEST_SF_PASSWORD}",
        },
    )
    targets["sansan-cards"].update(url=servers["sansan"].url, auth={"api_key": "${RENKEI_TEST_SANSAN_KEY}"})
    data["targets"].append(
        {
            "name": "kintone-echo",
            "kind": "kintone",
            "url": servers["echo"].url,
            "app": 1,
            "auth": {"api_token": "${RENKEI_TEST_ECHO_TOKEN}"},
            "match": {"ma": "email", "target": "メールアドレス"},
            "map": {"email": "メールアドレス", "department": "部署"},
        }
    )
    data["targets"].append(
        {
            **targets["salesforce-leads"],
            "name": "salesforce-echo",
            "url": servers["echo-tls"].url,
            "actions": {},
        }
    )
    return data


@pytest.fixture(scope="module")
def world(harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("secret-hygiene")
    data = root / "sandbox"
    seed_ma(data / "satori", 120, 1_200, company="demo", token=MA_TOKEN)
    seed_cards(data / "sansan", 40, base=clock.now() - timedelta(days=30))  # in the first window
    kintone = kintone_app(data / "kintone", "Administrator", "renkei-demo")
    store = kintone.state.kintone.store
    apps = build_demo_apps(store)
    for app, token in zip(
        (apps.customers, apps.form_history, apps.mail_history, apps.form_master), KINTONE_TOKENS, strict=True
    ):
        store.issue_token(app.id, None, token)
    sf = salesforce_app(data / "salesforce", password=SF_PASSWORD, client_secret=SF_SECRET)
    tls = make_tls(root)
    with ExitStack() as stack, pytest.MonkeyPatch.context() as env:
        servers = {
            "satori": stack.enter_context(BackgroundServer(satori_app(data / "satori", {MA_TOKEN: "demo"}))),
            "kintone": stack.enter_context(BackgroundServer(kintone)),
            "salesforce": stack.enter_context(BackgroundServer(sf, **sf.state.tls.uvicorn_kwargs())),
            "sansan": stack.enter_context(BackgroundServer(sansan_app(data / "sansan", SANSAN_KEY))),
            "echo": stack.enter_context(BackgroundServer(echo_app())),
            "echo-tls": stack.enter_context(BackgroundServer(echo_app(), **sf.state.tls.uvicorn_kwargs())),
        }
        mail = stack.enter_context(smtp_sink(tls=tls, credentials=("renkei", SMTP_PASSWORD)))
        for name, value in ENV.items():
            env.setenv(name, value)
        Secret(value=SecretStr(MA_TOKEN)).save(MA_BLOCK, overwrite=True)
        run = root / "run"
        run.mkdir()
        spec_path = run / "spec.yaml"
        document = spec_document(servers, mail, tls.cafile, run)
        spec_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        assert SENTINEL not in spec_path.read_text(encoding="utf-8")
        yield World(run, spec_path, servers, mail, Path(sf.state.tls.ca))


def found_in_files(root: Path) -> list[str]:
    """Files under the run's folder holding the sentinel: as bytes, Parquet as rows, SQLite dumped."""
    hits: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        if SENTINEL.encode() in raw:
            hits.append(str(path))
        if path.suffix == ".parquet":
            text = repr(pq.read_table(path).to_pylist())
        elif raw.startswith(b"SQLite format 3"):
            with sqlite3.connect(path) as db:
                text = "\n".join(db.iterdump())
        else:
            continue
        if SENTINEL in text:
            hits.append(f"{path} (decoded)")
    return hits


def paged(read: Callable[..., list[T]]) -> list[T]:
    """Every item of a Prefect API listing (pages of 200 at most)."""
    items: list[T] = []
    while page := read(limit=200, offset=len(items)):
        items += page
    return items


def prefect_texts() -> dict[str, list[str]]:
    """What the Prefect API keeps of this module's runs: logs, state messages, artifacts, parameters."""
    APILogWorker.drain_all(timeout=30)
    with get_client(sync_client=True) as client:
        logs = paged(client.read_logs)
        flow_runs = paged(client.read_flow_runs)
        task_runs = paged(client.read_task_runs)
        artifacts = paged(client.read_artifacts)
    return {
        "logs": [log.message for log in logs],
        "states": [f"{r.name}: {r.state.message}" for r in flow_runs if r.state and r.state.message]
        + [f"{r.name}: {r.state.message}" for r in task_runs if r.state and r.state.message],
        "artifacts": [f"{a.key} {a.description} {a.data}" for a in artifacts],
        "run parameters": [f"{r.name}: {r.parameters}" for r in flow_runs],
    }


def test_the_sentinel_appears_nowhere_after_a_full_run(
    world: World, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the echoing target fails for good: its step's one retry need not wait 30 s here
    monkeypatch.setattr(flows.sync, "load_target", load_target.with_options(retry_delay_seconds=0))
    monkeypatch.setattr(
        flows.sync, "write_back_target", write_back_target.with_options(retry_delay_seconds=0)
    )
    capture = Capture()
    root_logger = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "prefect", "httpx", "httpcore", "urllib3")}
    root_logger.addHandler(capture)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        report = sync_report(str(world.spec_path))
        planned = plan(str(world.spec_path), targets=REAL_TARGETS)
        replayed = replay(str(world.spec_path), target="sansan-cards")
    finally:
        root_logger.removeHandler(capture)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    console = io.StringIO()
    print_report(report, Console(file=console, width=200))
    out, err = capfd.readouterr()

    # the credentials were used: every service answered, the echo repeated a token, mail went out
    lines = {(line.target, line.stream): line.counts for line in report.lines}
    assert lines[("kintone-customers", "customers:snapshot")].loaded == 120
    assert lines[("salesforce-leads", "customers:snapshot")].loaded == 120
    assert lines[("sansan-cards", "inbound")].loaded > 0
    assert world.mail.logins and len(world.mail.messages) == 1
    for echo in ("kintone-echo", "salesforce-echo"):
        failures = [f.message for f in report.failures if f.target == echo]
        assert failures and all(MASK in m for m in failures), failures
    assert len(capture.lines) > 100 and any("HTTP Request" in line for line in capture.lines)

    places: dict[str, list[str]] = {
        "python logs": capture.lines,
        "stdout/stderr": [out, err],
        "report": [repr(report), console.getvalue(), repr(planned), repr(replayed)],
        "email": [m.as_string() for m in world.mail.messages]
        + [attachment_text(part) for m in world.mail.messages for part in m.iter_attachments()],
        **prefect_texts(),
    }
    assert places["logs"] and places["artifacts"] and places["states"] and places["run parameters"]
    leaks = {where: [t for t in texts if SENTINEL in t][:3] for where, texts in places.items()}
    leaks["files"] = found_in_files(world.root)
    assert {where: found for where, found in leaks.items() if found} == {}


def attachment_text(part: EmailMessage) -> str:
    """The CSV as text; the xlsx read back cell by cell (its bytes are zip-compressed)."""
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    if (part.get_filename() or "").endswith(".xlsx"):
        sheets = pd.read_excel(io.BytesIO(data), sheet_name=None, dtype=str, keep_default_na=False)
        return "\n".join(frame.to_csv() for frame in sheets.values())
    return data.decode("utf-8-sig")


def test_a_joined_secret_masks_each_of_its_parts() -> None:
    """kintone's tokens are given joined; a service that names one of them alone is masked too."""
    register_secret("Zq7xJoinedFirst1,Zq7xJoinedSecond2")
    assert redact("token Zq7xJoinedSecond2 is not valid for app 7") == f"token {MASK} is not valid for app 7"


def test_a_step_that_fails_with_a_secret_in_its_text_fails_masked() -> None:
    """Prefect keeps ``str(exc)`` as a failed task's state message: the step masks it first."""
    secret = "Zq7xStepSecret99"
    register_secret(secret)

    @masked_failures
    def plain() -> None:
        raise ConnectionError(f"proxy said: Authorization={secret}")

    class Opaque(Exception):
        def __str__(self) -> str:  # text built outside args: cannot be masked in place
            return f"token {secret} refused"

    @masked_failures
    def opaque() -> None:
        raise Opaque()

    with pytest.raises(ConnectionError) as kept:  # same type: the retry rule still applies
        plain()
    assert str(kept.value) == f"proxy said: Authorization={MASK}"
    with pytest.raises(MaskedError) as replaced:
        opaque()
    assert str(replaced.value) == f"Opaque: token {MASK} refused"
    error = ValueError("no secret here")

    @masked_failures
    def clean() -> None:
        raise error

    with pytest.raises(ValueError) as untouched:
        clean()
    assert untouched.value is error and error.args == ("no secret here",)


def test_tls_is_verified_unless_the_stand_in_ca_is_named(world: World) -> None:
    spec = load_spec(world.spec_path)
    target = spec.target("salesforce-leads")
    before = len(world.servers["salesforce"].request_log.entries)
    unverified = SalesforceTarget(spec, target.model_copy(update={"ca_bundle": None}))
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        unverified.fields("Lead")
    assert len(world.servers["salesforce"].request_log.entries) == before  # refused before any request
    verified = SalesforceTarget(spec, target)
    assert "Email" in verified.fields("Lead")


def test_the_ma_serves_a_cut_only_to_its_own_company(tmp_path: Path) -> None:
    """Extends the customers test named above to the action-history cuts: no token, no file; another
    company's token gets that company's (empty) cut, never this one's rows."""
    acme, beta = f"{SENTINEL}acme", f"{SENTINEL}beta"
    with BackgroundServer(satori_app(tmp_path, {acme: "acme", beta: "beta"})) as ma:
        ma_call = lambda method, path, body=None: sandbox_call(ma.url, acme, method, path, body)  # noqa: E731
        ma_call("PUT", "/_sandbox/clock", {"now": "2026-11-28T09:00:00+09:00"})
        ma_call("POST", "/_sandbox/customers", [{"email": "secret-lead@example.co.jp", "last_name": "秘密"}])
        ma_call("POST", "/_sandbox/actions", [{
            "kind": "form", "email": "secret-lead@example.co.jp", "master_id": "form-001",
            "event_type": "submitted", "occurred_at": "2026-11-28T09:30:00+09:00",
            "recorded_at": "2026-11-28T09:30:00+09:00",
        }])  # fmt: skip
        ma_call("PUT", "/_sandbox/clock", {"now": "2026-11-28T12:00:00+09:00"})
        url = f"{ma.url}/api/integration/v1/cuts/20261128T1100+0900/actions/form.csv"
        own = httpx.get(url, headers={"Authorization": f"Bearer {acme}"})
        other = httpx.get(url, headers={"Authorization": f"Bearer {beta}"})
        nobody = httpx.get(url)
        assert own.status_code == 200 and "secret-lead@example.co.jp" in own.text
        assert other.status_code == 200 and "secret-lead@example.co.jp" not in other.text
        assert nobody.status_code == 401 and SENTINEL not in nobody.text
