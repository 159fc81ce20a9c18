"""The demo's second half: the same stand-ins reached as an MA user without the Data Integration Option.

The MA stand-in's admin screen exports its customers (CP932, Japanese headers) into
``ma.exports`` of ``examples/public.yaml``; one sync then reads that file and writes only through
the public API v4 (the Sansan import and kintone's write-back).
"""

from __future__ import annotations

from pathlib import Path

import httpx

from sandbox.demo_env import MA_TOKEN, DemoEnvironment
from schemas.messages import Language, in_language
from schemas.validate import load_spec

PUBLIC_SPEC = Path("examples/public.yaml")


def drop_admin_export(env: DemoEnvironment, spec_path: Path, language: Language) -> str:
    """Download the admin screen's customer CSV (CP932) into the public spec's ``ma.exports``; a line
    that says what was dropped and which path the sync takes."""
    folder = Path(str(load_spec(spec_path).ma.exports)).parent
    folder.mkdir(parents=True, exist_ok=True)
    export = httpx.get(
        f"{env.servers['satori'].url}/_sandbox/admin/customers.csv",
        params={"encoding": "cp932"},
        headers={"Authorization": f"Bearer {MA_TOKEN}"},
    )
    export.raise_for_status()
    dropped = folder / "customers_admin_export.csv"
    dropped.write_bytes(export.content)
    ja = f"オプションなしの経路 — 管理画面の顧客 CSV（{dropped}）を読み、公開 API v4 で書き込みます"
    en = f"without the option: reads the admin screen's export ({dropped}), writes through v4"
    return f"{spec_path.name} (ma.access: public): {in_language(ja, en, language)}"
