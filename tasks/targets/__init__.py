"""Target adapters: one per kind, each joining its connector to the generic load and write-back.

An adapter is built as ``Adapter(spec, target)`` and implements ``tasks.load.CustomerTarget``
plus ``close()``; it is imported only when a spec uses its kind.
"""

from __future__ import annotations

from importlib import import_module
from typing import Protocol

from schemas.spec import Spec, Target
from tasks.load import CustomerTarget

ADAPTERS = {
    "kintone": "tasks.targets.kintone:KintoneTarget",
    "salesforce": "tasks.targets.salesforce:SalesforceTarget",
    "sansan": "tasks.targets.sansan:SansanSource",
}


class ClosableTarget(CustomerTarget, Protocol):
    def close(self) -> None: ...


def adapter_for(spec: Spec, target: Target) -> ClosableTarget:
    module, name = ADAPTERS[target.kind].split(":")
    factory = getattr(import_module(module), name)
    adapter: ClosableTarget = factory(spec, target)
    return adapter
