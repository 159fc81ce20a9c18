"""The trial environment of `renkei demo`: every stand-in with sample data, on fixed loopback ports.

The ports and demo credentials match ``examples/demo.yaml``; the data lives under one folder and is
rebuilt on each start, so every demo run begins from the same seeded state.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app as kintone_app
from sandbox.kintone.demo_apps import build_demo_apps
from sandbox.mailsink import MailSink
from sandbox.salesforce.app import create_app as salesforce_app
from sandbox.sansan.app import create_app as sansan_app
from sandbox.sansan.seed import seed as seed_cards
from sandbox.satori.app import create_app as satori_app
from sandbox.satori.seed import seed as seed_ma

MA_PORT, KINTONE_PORT, SALESFORCE_PORT, SANSAN_PORT, SMTP_PORT = 8701, 8702, 8703, 8704, 8725
MA_TOKEN = "demo-token"
SANSAN_KEY = "renkeidemo0000000000000000000000"
KINTONE_TOKENS = (
    "renkeiDemoCustomerToken00000000000000001",
    "renkeiDemoFormToken000000000000000000002",
    "renkeiDemoMailToken000000000000000000003",
)


@dataclass(frozen=True)
class DemoSizes:
    customers: int = 2_000
    actions: int = 20_000
    cards: int = 300


class DemoEnvironment:
    """``with DemoEnvironment(folder) as env:`` starts everything; leaving the block stops it."""

    def __init__(self, folder: Path, sizes: DemoSizes | None = None, now: datetime | None = None):
        self.folder = folder
        self.sizes = sizes or DemoSizes()
        self.now = now
        self._stack = ExitStack()
        self.mail: MailSink | None = None
        self.servers: dict[str, BackgroundServer] = {}

    @property
    def data(self) -> Path:
        return self.folder / "sandbox"

    def __enter__(self) -> DemoEnvironment:
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.data.mkdir(parents=True)
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self) -> None:
        ma_dir, kintone_dir, sf_dir, sansan_dir = (
            self.data / n for n in ("satori", "kintone", "salesforce", "sansan")
        )
        seed_ma(
            ma_dir, self.sizes.customers, self.sizes.actions, company="demo", token=MA_TOKEN, now=self.now
        )
        self._serve("satori", satori_app(ma_dir, {MA_TOKEN: "demo"}), MA_PORT)

        kintone = kintone_app(kintone_dir, "Administrator", "renkei-demo")
        store = kintone.state.kintone.store
        apps = build_demo_apps(store)
        for app, token in zip(
            (apps.customers, apps.form_history, apps.mail_history), KINTONE_TOKENS, strict=True
        ):
            store.issue_token(app.id, None, token)
        self._serve("kintone", kintone, KINTONE_PORT)

        salesforce = salesforce_app(sf_dir)
        self._serve("salesforce", salesforce, SALESFORCE_PORT, **salesforce.state.tls.uvicorn_kwargs())

        recent = (self.now or datetime.now(UTC)) - timedelta(days=70)  # inside the import's first window
        seed_cards(sansan_dir, self.sizes.cards, base=recent)
        self._serve("sansan", sansan_app(sansan_dir, SANSAN_KEY), SANSAN_PORT)

        self.mail = self._stack.enter_context(MailSink(SMTP_PORT, self.folder / "mail"))

    def _serve(self, name: str, app: FastAPI, port: int, **kwargs: Any) -> None:
        try:
            self.servers[name] = self._stack.enter_context(BackgroundServer(app, port, **kwargs))
        except RuntimeError as exc:
            raise RuntimeError(
                f"port {port} on 127.0.0.1 is busy: stop what uses it and run the demo again"
            ) from exc

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
