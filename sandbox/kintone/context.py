"""What a handler needs for one request: the state, the caller, the guest space, the parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.kintone.auth import Caller
from sandbox.kintone.cursors import Cursors
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.store import App, Store


@dataclass
class State:
    store: Store
    cursors: Cursors
    user: str
    password: str


@dataclass
class Context:
    state: State
    caller: Caller
    space: int | None
    params: dict[str, Any]

    @property
    def store(self) -> Store:
        return self.state.store

    def param(self, name: str, required: bool = True) -> Any:
        value = self.params.get(name)
        if required and value in (None, ""):
            raise KintoneError("CB_VA01", errors={name: ["必須です。"]})
        return value

    def app(self, *rights: str, name: str = "app") -> App:
        """The app a request names, checked against the caller and the path's guest space, and counted."""
        raw = self.param(name)
        try:
            app_id = int(raw)
        except (TypeError, ValueError):
            raise KintoneError("CB_VA01", errors={name: ["数字でなければなりません。"]}) from None
        app = self.store.apps.get(app_id)
        if app is None:
            if not self.caller.password:
                raise KintoneError("GAIA_IA02")
            raise KintoneError("GAIA_AP01", app_id)
        self.caller.require(app_id, *rights)
        if app.guest and self.space != app.space:
            raise KintoneError("GAIA_IL23") if self.space is None else KintoneError("CB_NO02")
        if not app.guest and self.space is not None:
            raise KintoneError("CB_NO02")
        self.store.count_request(app_id)
        return app


def as_list(value: Any) -> list[Any] | None:
    """A list parameter given as a JSON array or as repeated/indexed query-string values."""
    if value is None or value == "":
        return None
    return value if isinstance(value, list) else [value]


def as_bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
