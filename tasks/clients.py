"""Connections a run needs, built from the spec; secrets are resolved here and masked in every log."""

from __future__ import annotations

from typing import cast

from prefect.blocks.system import Secret
from pydantic import SecretStr

from connectors.http import HttpPolicy
from connectors.satori import SatoriClient
from connectors.staging import StagingArea
from connectors.state import StateStore
from schemas.spec import BLOCK_PREFIX, Spec
from tasks.redact import register_secret


def resolve_secret(secret: SecretStr | str | None) -> str | None:
    """``prefect-block:<name>`` → the Secret block's value; anything else as it is (env already applied).

    The moment a secret of the spec leaves its ``SecretStr``: from here on it is masked in every log.
    """
    if secret is None:
        return None
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if value.startswith(BLOCK_PREFIX):
        block = cast(Secret[str], Secret.load(value.removeprefix(BLOCK_PREFIX)))
        value = str(block.get())
    register_secret(value)
    return value


def ma_client(spec: Spec, policy: HttpPolicy | None = None) -> SatoriClient:
    return SatoriClient(spec.ma.url, resolve_secret(spec.ma.token) or "", policy)


def staging_area(spec: Spec) -> StagingArea:
    return StagingArea(spec.storage.staging)


def state_store(spec: Spec) -> StateStore:
    return StateStore(spec.storage.state, spec.company)
