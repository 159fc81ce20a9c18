"""Who is calling: API tokens bound to apps (with their record rights) or the configured user's password."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from starlette.datastructures import Headers

from sandbox.kintone.errors import KintoneError
from sandbox.kintone.store import Store

MAX_TOKENS = 9
TOKEN_LOGIN = "Administrator"  # kintone records API-token writes as this user


@dataclass
class Caller:
    login: str
    password: bool = False
    rights: dict[int, set[str]] = field(default_factory=dict)  # app → rights granted by its tokens

    def require(self, app_id: int, *needed: str) -> None:
        """A token must belong to the app and carry the right; the password user may do anything."""
        if self.password:
            return
        granted = self.rights.get(app_id)
        if granted is None:
            raise KintoneError("GAIA_IA02")
        if not set(needed) <= granted:
            raise KintoneError("CB_NO02")

    def require_password(self) -> None:
        """App administration (the preview and deploy APIs) is for password auth only."""
        if not self.password:
            raise KintoneError("CB_NO02")


def authenticate(headers: Headers, store: Store, user: str, password: str) -> Caller:
    """Password auth wins over tokens when both are sent, as in kintone."""
    encoded = headers.get("x-cybozu-authorization")
    if encoded is not None:
        try:
            login, _, secret = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise KintoneError("CB_WA01") from None
        if login != user or secret != password:
            raise KintoneError("CB_WA01")
        return Caller(login=login, password=True)
    tokens = [
        t.strip() for value in headers.getlist("x-cybozu-api-token") for t in value.split(",") if t.strip()
    ]
    if not tokens:
        raise KintoneError("CB_AU01")
    if len(tokens) > MAX_TOKENS:
        raise KintoneError(
            "CB_VA01", errors={"X-Cybozu-API-Token": [f"APIトークンは{MAX_TOKENS}個まで指定できます。"]}
        )
    caller = Caller(login=TOKEN_LOGIN)
    for token in tokens:
        grant = store.tokens.get(token)
        if grant is None:
            raise KintoneError("GAIA_IA02")
        caller.rights.setdefault(grant.app, set()).update(grant.rights)
    return caller
