"""A secret held as a secret type in the spec still opens the service: resolved when the client is built."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.http import HttpError, HttpPolicy
from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app as kintone_app
from sandbox.kintone.demo_apps import DemoApps, build_demo_apps
from sandbox.sansan.app import create_app as sansan_app
from sandbox.sansan.seed import seed
from schemas.targets import KintoneSettings, SansanSettings
from schemas.validate import load_spec
from tasks.targets.kintone import kintone_client
from tasks.targets.sansan import SansanSource

ROOT = Path(__file__).parents[2]
SANSAN_KEY = "renkeisecrets0000000000000000000"
FAST = HttpPolicy(backoff_base=0.001, backoff_cap=0.01, max_attempts=2)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, DemoApps]]:
    kintone = kintone_app(tmp_path_factory.mktemp("kintone"), "admin", "pw")
    apps = build_demo_apps(kintone.state.kintone.store)
    cards = tmp_path_factory.mktemp("sansan")
    seed(cards, cards=5, seed=1)
    with BackgroundServer(kintone) as k, BackgroundServer(sansan_app(cards, SANSAN_KEY)) as s:
        yield k.url, s.url, apps


def spec_file(tmp_path: Path, kintone_url: str, sansan_url: str, app: int) -> Path:
    data: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "all.yaml").read_text(encoding="utf-8"))
    data["storage"] = {"staging": str(tmp_path / "staging"), "state": f"sqlite:///{tmp_path / 'state.db'}"}
    kintone, _, sansan = data["targets"]
    kintone |= {"url": kintone_url, "app": app, "auth": {"api_token": "${KINTONE_TOKEN}"}}
    sansan |= {"url": sansan_url, "auth": {"api_key": "${SANSAN_KEY}"}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_clients_authenticate_with_the_resolved_secret_and_fail_with_another(
    servers: tuple[str, str, DemoApps], tmp_path: Path
) -> None:
    kintone_url, sansan_url, apps = servers
    path = spec_file(tmp_path, kintone_url, sansan_url, apps.customers.id)
    right = load_spec(path, {"KINTONE_TOKEN": apps.customers.token, "SANSAN_KEY": SANSAN_KEY})
    wrong = load_spec(path, {"KINTONE_TOKEN": "wrongToken" * 4, "SANSAN_KEY": "0" * 32})
    for spec, opens in ((right, True), (wrong, False)):
        kintone, _, sansan = spec.targets
        assert isinstance(kintone, KintoneSettings) and isinstance(sansan, SansanSettings)
        assert apps.customers.token not in repr(kintone) and SANSAN_KEY not in repr(sansan)
        source = SansanSource(spec, sansan)
        with kintone_client(kintone, FAST) as client, contextlib.closing(source):
            if opens:
                assert "メールアドレス" in client.get_form_fields(apps.customers.id)
                assert source.client.me()["id"]
                continue
            with pytest.raises(HttpError) as refused:
                client.get_form_fields(apps.customers.id)
            assert "GAIA_IA02" in str(refused.value)  # kintone: this token opens no such app
            with pytest.raises(HttpError) as refused:
                source.client.me()
            assert refused.value.status == 401
