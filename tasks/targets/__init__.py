"""Target adapters: one per kind, each joining its connector to the generic load and write-back.

An adapter is built as ``Adapter(spec, target)``; what it can do is its type: a ``Destination``
(loaded from the MA), a ``ChangeSource`` (written back into the MA), or both. Sansan's adapter is a
source only. Each adapter is imported only when a spec uses its kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from typing import TypeVar

from schemas.spec import Spec, Target
from tasks.load import ChangeSource, Destination, as_destination, as_source

T = TypeVar("T", bound=Target)
ADAPTERS = {
    "kintone": "tasks.targets.kintone:KintoneTarget",
    "salesforce": "tasks.targets.salesforce:SalesforceTarget",
    "sansan": "tasks.targets.sansan:SansanSource",
}


def change_sources(spec: Spec, targets: Iterable[T]) -> list[T]:
    """The targets whose changes are written back: those that map a field writable into the MA."""
    return [t for t in targets if any(spec.direction(f).writes for f in t.map)]


def adapter_for(spec: Spec, target: Target) -> Destination | ChangeSource:
    module, name = ADAPTERS[target.kind].split(":")
    adapter: Destination | ChangeSource = getattr(import_module(module), name)(spec, target)
    return adapter


def destination_for(spec: Spec, target: Target) -> Destination:
    """The target's adapter to load into; SourceOnlyError (nothing built stays open) for a source."""
    adapter = adapter_for(spec, target)
    try:
        return as_destination(adapter)
    except TypeError:
        adapter.close()
        raise


def source_for(spec: Spec, target: Target) -> ChangeSource:
    """The target's adapter to read changes from, for the write-back."""
    return as_source(adapter_for(spec, target))
