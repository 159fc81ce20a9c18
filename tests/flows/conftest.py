"""Flow tests share the session's Prefect test harness (tests/conftest.py) and the stand-in helpers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sandbox.demo_env import DemoEnvironment, DemoPorts, DemoSizes
from schemas.staging import JST

DEMO_SPEC = Path(__file__).parents[2] / "examples" / "demo.yaml"

# The hand-built worlds pin the MA's clock on 2026-11-28 (cuts at 02:00 and 11:00 that day), so
# their seeded data is dated from the same instant: a world is the same on whatever day it runs.
PINNED_WORLD_NOW = datetime(2026, 11, 28, 18, 0, tzinfo=JST)


@contextlib.contextmanager
def demo_world(factory: pytest.TempPathFactory, name: str, sizes: DemoSizes) -> Iterator[DemoEnvironment]:
    """Every stand-in of `renkei demo` on free ports with ``sizes`` of data, in a folder of its own."""
    with DemoEnvironment(factory.mktemp(name) / "env", sizes, ports=DemoPorts.free()) as running:
        yield running


def sandbox_call(base_url: str, token: str, method: str, path: str, body: Any = None) -> Any:
    """The stand-ins' /_sandbox control endpoints (clock, direct inserts)."""
    response = httpx.request(method, base_url + path, json=body, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.json()


def write_spec(path: Path, ma_url: str, token: str, root: Path, **extra: Any) -> Path:
    """A trial spec on loopback (literal secrets are allowed there) with staging and state under ``root``."""
    spec: dict[str, Any] = {
        "version": 1,
        "company": "acme",
        "notify": {"error_email": ["ops@example.co.jp"], "smtp": {"host": "127.0.0.1", "port": 2525}},
        "storage": {"staging": str(root / "staging"), "state": f"sqlite:///{root / 'state.db'}"},
        "ma": {"url": ma_url, "token": token},
        "custom_fields": {"industry": {"type": "text"}},
        "fields": {
            "email": "readable",
            "last_name": "readable",
            "score": "readable",
            "custom:industry": "readable",
        },
        **extra,
    }
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def demo_spec_file(env: DemoEnvironment, folder: Path, **changes: dict[str, Any]) -> Path:
    """The demo spec on ``env``'s stand-ins, storage in ``folder``; ``ma`` or targets (by name) changed."""
    data = env.spec_document(DEMO_SPEC)
    data["storage"] = {"staging": str(folder / "staging"), "state": f"sqlite:///{folder / 'state.db'}"}
    data["ma"].update(changes.pop("ma", {}))
    for target in data["targets"]:
        target.update(changes.get(target["name"], {}))
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


SATO = {
    "メールアドレス": "sato@example.co.jp",
    "姓": "佐藤",
    "名": "花子",
    "会社名": "佐藤物産",
    "商談ステージ": "検討中",
}


def demo_spec_with_sato(tmp_path: Path, run_id: str, message: str, **notify: Any) -> tuple[Path, Any]:
    """The demo spec with its state under ``tmp_path`` (``notify`` settings added), and a state store
    holding one refused kintone customer, 佐藤 花子 (record 42), with the target's ``message``."""
    from connectors.state import Rejection, StateStore

    raw = yaml.safe_load(DEMO_SPEC.read_text(encoding="utf-8"))
    raw["notify"].update(notify)
    state = f"sqlite:///{tmp_path / 'state.db'}"
    raw["storage"] = {"staging": str(tmp_path / "staging"), "state": state}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    store = StateStore(state, raw["company"])
    store.save_links("kintone-customers", "customers", [("sato@example.co.jp", "42", "h")])
    refused = Rejection("sato@example.co.jp", SATO, "CB_VA01", message, "商談ステージ")
    store.quarantine_rows(run_id, "kintone-customers", "customers", [refused])
    return path, store
