"""The org's schema: which objects exist, their key prefixes, and each field's describe() facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "reference", "id"})
FIELD_TYPES = TEXT_TYPES | {"boolean", "date", "datetime", "double", "int", "currency", "percent"}
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)


@dataclass(frozen=True)
class FieldSpec:
    """One field as describe() shows it; ``required`` = createable, not nillable, not defaulted."""

    name: str
    type: str = "string"
    length: int = 0
    label: str = ""
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    unique: bool = False
    external_id: bool = False
    defaulted: bool = False
    picklist: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()
    custom: bool = False

    @property
    def required(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted

    @property
    def indexed(self) -> bool:
        return self.unique or self.external_id

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label or self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "length": self.length,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "unique": self.unique,
            "externalId": self.external_id,
            "idLookup": self.name == "Id" or self.external_id,
            "defaultedOnCreate": self.defaulted,
            "custom": self.custom,
            "caseSensitive": False,
            "picklistValues": [
                {"value": v, "label": v, "active": True, "defaultValue": False} for v in self.picklist
            ],
            "referenceTo": list(self.reference_to),
        }


class NewField(BaseModel):
    """Body of `POST /_sandbox/fields`: a custom field to add, as an admin would in Setup."""

    object: str
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*__c$")
    type: str = "string"
    length: int = 255
    required: bool = False
    unique: bool = False
    external_id: bool = Field(False, alias="externalId")
    picklist_values: list[str] = Field(default_factory=list, alias="picklistValues")
    reference_to: list[str] = Field(default_factory=list, alias="referenceTo")

    model_config = {"populate_by_name": True}

    def spec(self) -> FieldSpec:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r}: use one of {sorted(FIELD_TYPES)}")
        return FieldSpec(
            self.name,
            self.type,
            self.length if self.type in TEXT_TYPES else 0,
            nillable=not self.required,
            unique=self.unique,
            external_id=self.external_id,
            picklist=tuple(self.picklist_values),
            reference_to=tuple(self.reference_to),
            custom=True,
        )


@dataclass
class ObjectSpec:
    """An sObject type: name, key prefix and fields (looked up case-insensitively, like SOQL)."""

    name: str
    key_prefix: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    custom: bool = False

    def add(self, spec: FieldSpec) -> None:
        self.fields[spec.name.lower()] = spec

    def field(self, name: str) -> FieldSpec | None:
        return self.fields.get(name.lower())

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.name.removesuffix("__c").replace("_", " "),
            "keyPrefix": self.key_prefix,
            "custom": self.custom,
            "createable": True,
            "updateable": True,
            "queryable": True,
            "fields": [f.describe() for f in self.fields.values()],
        }


def _text(name: str, length: int, **kw: Any) -> FieldSpec:
    return FieldSpec(name, kw.pop("type", "string"), length, **kw)


def _read_only(name: str, type_: str, length: int = 0, **kw: Any) -> FieldSpec:
    return FieldSpec(name, type_, length, createable=False, updateable=False, **kw)


def _system_fields() -> list[FieldSpec]:
    return [
        _read_only("Id", "id", 18, nillable=False, defaulted=True),
        _read_only("IsDeleted", "boolean", nillable=False, defaulted=True),
        _read_only("CreatedDate", "datetime", nillable=False, defaulted=True),
        _read_only("LastModifiedDate", "datetime", nillable=False, defaulted=True),
        _read_only("SystemModstamp", "datetime", nillable=False, defaulted=True),
        _read_only("CreatedById", "reference", 18, defaulted=True, reference_to=("User",)),
        _read_only("LastModifiedById", "reference", 18, defaulted=True, reference_to=("User",)),
    ]


def _person_fields() -> list[FieldSpec]:
    return [
        _read_only("Name", "string", 121),
        _text("FirstName", 40),
        _text("LastName", 80, nillable=False),
        _text("Email", 80, type="email"),
        _text("Phone", 40, type="phone"),
        _text("MobilePhone", 40, type="phone"),
        _text("Title", 128),
        _text("Description", 32000, type="textarea"),
        _text("LeadSource", 255, type="picklist", picklist=LEAD_SOURCES),
        FieldSpec("HasOptedOutOfEmail", "boolean", nillable=False, defaulted=True),
        _text("OwnerId", 18, type="reference", defaulted=True, reference_to=("User",)),
        _text("SATORI_Customer_ID__c", 64, unique=True, external_id=True, custom=True),
    ]


def standard_objects() -> dict[str, ObjectSpec]:
    """Lead, Contact, Account, SATORI_Action__c and SATORI_Master__c with the fields renkei's default
    setup uses."""
    lead = [
        _text("Company", 255, nillable=False),
        _text("Status", 255, type="picklist", nillable=False, defaulted=True, picklist=LEAD_STATUSES),
        _text("Street", 255, type="textarea"),
        _text("City", 40),
        _text("State", 80),
        _text("PostalCode", 20),
        _text("Country", 80),
        _text("Website", 255, type="url"),
        _read_only("IsConverted", "boolean", nillable=False, defaulted=True),
        _read_only("ConvertedDate", "date"),
        _read_only("ConvertedContactId", "reference", 18, reference_to=("Contact",)),
        _read_only("ConvertedAccountId", "reference", 18, reference_to=("Account",)),
    ]
    contact = [
        _text("AccountId", 18, type="reference", reference_to=("Account",)),
        _text("Department", 80),
        _text("MailingStreet", 255, type="textarea"),
        _text("MailingCity", 40),
        _text("MailingState", 80),
        _text("MailingPostalCode", 20),
        _text("MailingCountry", 80),
    ]
    account = [
        _text("Name", 255, nillable=False),
        _text("Phone", 40, type="phone"),
        _text("Website", 255, type="url"),
        _text("Industry", 255, type="picklist"),
        _text("BillingStreet", 255, type="textarea"),
        _text("BillingCity", 40),
        _text("BillingPostalCode", 20),
        _text("Description", 32000, type="textarea"),
        _text("OwnerId", 18, type="reference", defaulted=True, reference_to=("User",)),
    ]
    action = [
        _read_only("Name", "string", 80, defaulted=True),
        _text("Event_ID__c", 64, nillable=False, unique=True, external_id=True, custom=True),
        _text("Lead__c", 18, type="reference", reference_to=("Lead",), custom=True),
        _text("Contact__c", 18, type="reference", reference_to=("Contact",), custom=True),
        _text("Kind__c", 40, custom=True),
        _text("Master_Name__c", 255, custom=True),
        _text("Event_Type__c", 80, custom=True),
        FieldSpec("Occurred_At__c", "datetime", custom=True),
        _text("Email__c", 80, type="email", custom=True),
        _text("OwnerId", 18, type="reference", defaulted=True, reference_to=("User",)),
    ]
    master = [
        _text("Name", 80),
        _text("Master_ID__c", 64, nillable=False, unique=True, external_id=True, custom=True),
        _text("Kind__c", 40, custom=True),
        _text("Description__c", 32000, type="textarea", custom=True),
        _text("Status__c", 40, custom=True),
        _text("OwnerId", 18, type="reference", defaulted=True, reference_to=("User",)),
    ]
    objects = {
        "Lead": ObjectSpec("Lead", "00Q"),
        "Contact": ObjectSpec("Contact", "003"),
        "Account": ObjectSpec("Account", "001"),
        "SATORI_Action__c": ObjectSpec("SATORI_Action__c", "a0X", custom=True),
        "SATORI_Master__c": ObjectSpec("SATORI_Master__c", "a0Y", custom=True),
    }
    own = {"Lead": _person_fields() + lead, "Contact": _person_fields() + contact, "Account": account}
    own["SATORI_Action__c"] = action
    own["SATORI_Master__c"] = master
    for name, spec in objects.items():
        for f in _system_fields() + own[name]:
            spec.add(f)
    return objects
