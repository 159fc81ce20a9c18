"""Two runs of one company at once: only one writes; the other fails at once, naming the holder.

A real sync is held in the middle of its work (the MA stand-in parks its first cut listing) while
a second sync, a backfill, an extract and a replay are started for the same company: each raises
RunLocked naming the sync's run and changes nothing, while a plan (a dry run, no lock) finishes
beside it. The stand-ins' request logs and the state DB prove who wrote.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from prefect.client.schemas.objects import State, StateType

from connectors.state import StateStore
from flows.extract import backfill, extract
from flows.lock import RunLocked
from flows.plan import plan
from flows.replay import replay
from flows.sync import sync
from sandbox.common import LOOPBACK, BackgroundServer
from sandbox.kintone.app import create_app as create_kintone
from sandbox.kintone.demo_apps import build_demo_apps
from sandbox.mailsink import MailSink
from sandbox.satori.app import create_app as create_ma
from sandbox.satori.seed import seed
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.flows.conftest import PINNED_WORLD_NOW, sandbox_call, write_spec

TOKEN = "tok-concurrent-runs"
KINTONE_WRITES = ("/records.json", "/record.json", "/bulkRequest.json")
MA_WRITES = ("/customers/bulk-upsert", "/customers/by-", "/customer/", "/bulk_customers/")


@dataclass
class Gate:
    """Parks the first cut listing until released, so a run is caught holding its lock."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    armed: bool = True

    def install(self, app: FastAPI) -> None:
        @app.middleware("http")
        async def park(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            if self.armed and request.method == "GET" and request.url.path.endswith("/cuts"):
                self.armed = False
                self.entered.set()
                while not self.release.is_set():
                    await asyncio.sleep(0.02)
            return await call_next(request)


@dataclass
class World:
    spec_path: str
    ma: BackgroundServer
    kintone: BackgroundServer
    mail: MailSink
    gate: Gate

    def state(self) -> StateStore:
        return state_store(load_spec(self.spec_path))

    def kintone_writes(self) -> int:
        return sum(1 for e in self.kintone.request_log.writes() if e.path.endswith(KINTONE_WRITES))

    def ma_writes(self) -> int:
        return sum(1 for e in self.ma.request_log.writes() if any(w in e.path for w in MA_WRITES))


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    seed(tmp_path / "ma", 40, 0, company="acme", token=TOKEN, now=PINNED_WORLD_NOW)
    gate = Gate()
    ma_app = create_ma(tmp_path / "ma", {TOKEN: "acme"})
    gate.install(ma_app)
    kintone_app = create_kintone(tmp_path / "kintone", "admin", "pw")
    apps = build_demo_apps(kintone_app.state.kintone.store)
    tokens = ",".join(a.token for a in (apps.customers, apps.form_history, apps.mail_history))
    with (
        BackgroundServer(ma_app) as ma,
        BackgroundServer(kintone_app) as kintone,
        MailSink() as mail,
    ):
        sandbox_call(ma.url, TOKEN, "PUT", "/_sandbox/clock", {"now": "2026-11-28T12:00:00+09:00"})
        smtp = {"host": LOOPBACK, "port": mail.port, "starttls": False}
        path = write_spec(
            tmp_path / "spec.yaml",
            ma.url,
            TOKEN,
            tmp_path,
            notify={"error_email": ["ops@example.co.jp"], "smtp": smtp},
            fields={"email": "readable", "last_name": "readable"},
            targets=[{
                "name": "kintone-customers", "kind": "kintone", "url": kintone.url, "app": apps.customers.id,
                "auth": {"api_token": tokens}, "match": {"ma": "email", "target": "メールアドレス"},
                "map": {"email": "メールアドレス", "last_name": "姓"},
            }],
        )  # fmt: skip
        yield World(str(path), ma, kintone, mail, gate)
        gate.release.set()


def refused(run: Callable[[], State[Any]]) -> RunLocked:
    """The run ends Skipped (Cancelled, neither Failed nor Crashed); its result is the refusal."""
    state = run()
    assert state.type is StateType.CANCELLED and state.name == "Skipped", state
    with pytest.raises(RunLocked) as caught:
        state.result()
    return caught.value


def test_a_second_writing_run_fails_naming_the_holder_while_plan_runs_beside(
    prefect_harness: None, world: World
) -> None:
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(sync, world.spec_path)
        assert world.gate.entered.wait(60), "the first sync never reached the MA"
        state = world.state()
        (holder,) = [r for r in state.runs() if r["state"] == "running"]
        assert holder["flow"] == "sync"

        window = (date(2026, 11, 28), date(2026, 11, 28))
        locked_out = {
            "sync": refused(lambda: sync(world.spec_path, return_state=True)),
            "backfill": refused(
                lambda: backfill(world.spec_path, *window, targets=["kintone-customers"], return_state=True)
            ),
            "extract": refused(lambda: extract(world.spec_path, return_state=True)),
            "replay": refused(lambda: replay(world.spec_path, return_state=True)),
        }
        for flow_name, error in locked_out.items():
            assert error.holder == holder["id"]
            assert f"{flow_name} of acme not started: a sync run (run {holder['id']}) is writing" in str(
                error
            )

        planned = plan(world.spec_path)  # no lock: a dry run neither waits nor blocks
        assert planned.counts["kintone-customers MA → target"]["create"] == 40

        assert world.kintone_writes() == 0 and world.ma_writes() == 0  # nobody wrote while the sync waited
        assert [r["id"] for r in state.runs()] == [holder["id"]]  # the refused runs left no ledger row
        world.gate.release.set()
        report = first.result(timeout=120)

    assert report.run_id == holder["id"] and not report.failures
    (line,) = [x for x in report.lines if x.stream == "customers:snapshot"]
    assert line.counts.loaded == 40 and world.kintone_writes() > 0
    assert world.state().run(holder["id"])["state"] == report.outcome  # type: ignore[index]

    assert world.mail.messages == []  # a refused run is Skipped, not failed: no email; the sync needed none

    assert replay(world.spec_path).replayed == 0  # the lock was released: the next run goes ahead
