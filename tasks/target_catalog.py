"""`validate --online`: the spec against the MA's field catalog and each target's own fields.

kintone's form (form/fields.json) and Salesforce's describe(), of the customer app or object and of
every action and master one, are read once each; every mapped field a target lacks or cannot use is a
problem at the spec entry to fix (schemas/target_fields.py). A catalog that cannot be read is one
problem of its own and the others are still checked. Nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator

import requests
from simple_salesforce.exceptions import SalesforceError

from connectors.http import HttpError, HttpPolicy
from connectors.salesforce_auth import SalesforceAuthError
from schemas.actions import action_fields, master_fields
from schemas.audit import action_drift, kintone_drift, salesforce_drift, salesforce_object_drift
from schemas.mapping import field_map
from schemas.spec import Problem, Spec
from schemas.target_fields import column_path, customer_path, drift_problem
from schemas.targets import KintoneSettings, SalesforceSettings, SansanSettings
from tasks.ma_catalog import online_spec
from tasks.targets.kintone import kintone_client
from tasks.targets.salesforce import (
    DEFAULT_ACTION_OBJECT,
    DEFAULT_MASTER_OBJECT,
    DEFAULT_OBJECT,
    salesforce_client,
)

UNREADABLE = (HttpError, SalesforceAuthError, SalesforceError, requests.RequestException, OSError)
# a person waits on validate: a target that does not answer is reported in seconds, not minutes
QUICK = HttpPolicy(connect_timeout=5.0, read_timeout=30.0, max_attempts=2, backoff_cap=1.0)


def online_problems(spec: Spec) -> list[Problem]:
    """What ``validate --online`` adds: the MA's catalog, then every kintone and Salesforce target's."""
    try:
        found = online_spec(spec, policy=QUICK)[1]
    except (*UNREADABLE, KeyError, ValueError) as exc:
        hint = f"the MA's field catalog could not be read ({exc}): check ma.url and ma.token"
        found = [Problem("ma.url", "ma", "catalog_unreadable", hint)]
    return [*found, *target_problems(spec)]


def target_problems(spec: Spec) -> list[Problem]:
    """Every mapped field a target does not have, or has in a form the sync cannot use."""
    problems: list[Problem] = []
    for index, target in enumerate(spec.targets):
        path = f"targets[{index}]"
        if target.match is None or isinstance(target, SansanSettings):
            continue  # Sansan has no field catalog to read; a target without match failed offline
        try:
            if isinstance(target, KintoneSettings):
                problems += list(_kintone(spec, target, path))
            else:
                problems += list(_salesforce(spec, target, path))
        except UNREADABLE as exc:
            hint = f"{target.name}'s field catalog could not be read ({exc}): check url, auth and app/object"
            problems.append(Problem(f"{path}.url", target.name, "catalog_unreadable", hint))
    return problems


def _kintone(spec: Spec, target: KintoneSettings, path: str) -> Iterator[Problem]:
    fmap = field_map(spec, target)
    with kintone_client(target, QUICK) as client:
        if target.app is not None:
            form = client.get_form_fields(target.app)
            labels = {code: info.label for code, info in form.items()}
            for drift in kintone_drift(fmap, form, spec.custom_specs(), target.updated_field):
                yield drift_problem(drift, customer_path(drift, fmap, path), labels)
        for section, entries in (("actions", target.actions), ("masters", target.masters)):
            for kind, entry in entries.items():
                if entry.app is None:
                    continue
                fields = (action_fields if section == "actions" else master_fields)("kintone", entry)
                form = client.get_form_fields(entry.app)
                labels = {code: info.label for code, info in form.items()}
                key = fields["event_id" if section == "actions" else "id"]
                for drift in action_drift(entry.app, fields.values(), key, form):
                    where = column_path(drift, entry, fields, f"{path}.{section}.{kind}")
                    yield drift_problem(drift, where, labels)


def _salesforce(spec: Spec, target: SalesforceSettings, path: str) -> Iterator[Problem]:
    fmap, obj = field_map(spec, target), target.object or DEFAULT_OBJECT
    client = salesforce_client(target, QUICK)
    try:
        described = client.describe(obj)
        for drift in salesforce_drift(fmap, obj, described):
            yield drift_problem(drift, customer_path(drift, fmap, path), dict.fromkeys(described, ""))
        for section, entries in (("actions", target.actions), ("masters", target.masters)):
            for kind, entry in entries.items():
                if section == "actions":
                    entry_obj, fields = (
                        entry.object or DEFAULT_ACTION_OBJECT,
                        action_fields("salesforce", entry),
                    )
                else:
                    entry_obj, fields = (
                        entry.object or DEFAULT_MASTER_OBJECT,
                        master_fields("salesforce", entry),
                    )
                held = client.describe(entry_obj)
                customer = (fmap.key_target, obj) if section == "actions" else None
                for drift in salesforce_object_drift(entry_obj, fields.values(), held, customer):
                    where = column_path(drift, entry, fields, f"{path}.{section}.{kind}")
                    yield drift_problem(drift, where, dict.fromkeys(held, ""))
    finally:
        client.close()
