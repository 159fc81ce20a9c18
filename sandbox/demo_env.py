"""The trial environment of `renkei demo`: every stand-in with sample data, on fixed loopback ports.

The ports and demo credentials match ``examples/demo.yaml``; the data lives under one folder and is
rebuilt on each start, so every demo run begins from the same seeded state. Tests run the same
environment on free ports with injected faults, and ``spec_document`` points the demo spec at it.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from dataclasses import astuple, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI

from sandbox.common import BackgroundServer, FaultConfig, busy_ports, free_port
from sandbox.kintone.app import create_app as kintone_app
from sandbox.kintone.demo_apps import build_demo_apps
from sandbox.mailsink import MailSink
from sandbox.salesforce.app import create_app as salesforce_app
from sandbox.sansan.app import create_app as sansan_app
from sandbox.sansan.seed import seed as seed_cards
from sandbox.satori.app import create_app as satori_app
from sandbox.satori.seed import seed as seed_ma
from schemas import clock

MA_TOKEN = "demo-token"
MA_PUBLIC_KEY = "demo-public-key"  # the public API v4's company_secret: its own credential
SANSAN_KEY = "renkeidemo0000000000000000000000"
KINTONE_TOKENS = (
    "renkeiDemoCustomerToken00000000000000001",
    "renkeiDemoFormToken000000000000000000002",
    "renkeiDemoMailToken000000000000000000003",
    "renkeiDemoMasterToken0000000000000000004",
)


@dataclass(frozen=True)
class DemoSizes:
    customers: int = 2_000
    actions: int = 20_000
    cards: int = 300
    recent: float = 0.1  # share of actions in the last day: the first cut staged holds every kind


@dataclass(frozen=True)
class DemoPorts:
    """Loopback ports of the stand-ins; the defaults are the ones ``examples/demo.yaml`` names."""

    satori: int = 8701
    kintone: int = 8702
    salesforce: int = 8703
    sansan: int = 8704
    smtp: int = 8725

    @classmethod
    def free(cls) -> DemoPorts:
        """Ports free now, so a test environment never collides with a running demo."""
        return cls(*(free_port() for _ in range(5)))


class PortsBusy(RuntimeError):
    """Another program (often a running demo) listens on a port the environment needs."""


def _busy_message(ports: list[int], folder: Path) -> str:
    listed = ", ".join(map(str, ports))
    return (
        f"127.0.0.1 のポート {listed} は使用中です（別の renkei demo が動いていませんか）。止めてから"
        f"もう一度実行してください。{folder} は変更していません / port(s) {listed} on 127.0.0.1 are busy"
        f" (another renkei demo?): stop what uses them and run again; {folder} was left as it was"
    )


class DemoEnvironment:
    """``with DemoEnvironment(folder) as env:`` starts everything; leaving the block stops it."""

    def __init__(
        self,
        folder: Path,
        sizes: DemoSizes | None = None,
        now: datetime | None = None,
        *,
        ports: DemoPorts | None = None,
        faults: FaultConfig | None = None,
    ):
        self.folder = folder
        self.sizes = sizes or DemoSizes()
        self.now = now  # the world's "now": the clock's when the environment starts, unless given
        self.ports = ports or DemoPorts()
        self.faults = faults
        self._stack = ExitStack()
        self.mail: MailSink | None = None
        self.servers: dict[str, BackgroundServer] = {}

    @property
    def data(self) -> Path:
        return self.folder / "sandbox"

    def __enter__(self) -> DemoEnvironment:
        now = self.now = self.now or clock.now()
        busy = busy_ports(astuple(self.ports))
        if busy:  # checked before anything is deleted: a running demo keeps its folder
            raise PortsBusy(_busy_message(busy, self.folder))
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.data.mkdir(parents=True)
        try:
            self._start(now)
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self, now: datetime) -> None:
        ma_dir, kintone_dir, sf_dir, sansan_dir = (
            self.data / n for n in ("satori", "kintone", "salesforce", "sansan")
        )
        sizes = self.sizes
        seed_ma(
            ma_dir,
            sizes.customers,
            sizes.actions,
            company="demo",
            token=MA_TOKEN,
            now=now,
            recent=sizes.recent,
        )
        self._serve(
            "satori",
            satori_app(ma_dir, {MA_TOKEN: "demo"}, self._faults(), public_keys={MA_PUBLIC_KEY: "demo"}),
        )

        kintone = kintone_app(kintone_dir, "Administrator", "renkei-demo", self._faults())
        store = kintone.state.kintone.store
        apps = build_demo_apps(store)
        for app, token in zip(
            (apps.customers, apps.form_history, apps.mail_history, apps.form_master),
            KINTONE_TOKENS,
            strict=True,
        ):
            store.issue_token(app.id, None, token)
        self._serve("kintone", kintone)

        salesforce = salesforce_app(sf_dir, faults=self._faults())
        self._serve("salesforce", salesforce, **salesforce.state.tls.uvicorn_kwargs())

        seed_cards(sansan_dir, sizes.cards, base=now - timedelta(days=70))  # inside the first window
        self._serve("sansan", sansan_app(sansan_dir, SANSAN_KEY, self._faults()))

        self.mail = self._stack.enter_context(MailSink(self.ports.smtp, self.folder / "mail"))

    def _faults(self) -> FaultConfig | None:
        """Each stand-in gets its own injector: the same rate and kinds, its own seeded draws."""
        return replace(self.faults) if self.faults is not None else None

    def _serve(self, name: str, app: FastAPI, **kwargs: Any) -> None:
        port: int = getattr(self.ports, name)
        try:
            self.servers[name] = self._stack.enter_context(BackgroundServer(app, port, **kwargs))
        except RuntimeError as exc:
            raise PortsBusy(_busy_message([port], self.folder)) from exc

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def spec_document(self, template: Path, within: str = "") -> dict[str, Any]:
        """The demo spec ``template`` pointed at this environment's ports and folder (its sub-folder
        ``within``, where a second spec keeps its own staging, state and dropped exports)."""
        doc: dict[str, Any] = yaml.safe_load(template.read_text(encoding="utf-8"))
        base = self.folder / within
        doc["ma"]["url"] = f"http://127.0.0.1:{self.ports.satori}"
        if "exports" in doc["ma"]:
            doc["ma"]["exports"] = str(base / "exports" / "*.csv")
        doc["notify"]["smtp"]["port"] = self.ports.smtp
        doc["storage"] = {"staging": str(base / "staging"), "state": f"sqlite:///{base / 'state.db'}"}
        for target in doc["targets"]:
            scheme = "https" if target["kind"] == "salesforce" else "http"
            target["url"] = f"{scheme}://127.0.0.1:{getattr(self.ports, target['kind'])}"
            if "ca_bundle" in target:
                target["ca_bundle"] = str(self.data / "salesforce" / "salesforce-ca.pem")
        return doc
