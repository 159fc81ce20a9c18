"""The spec's targets: the settings every kind shares, and each kind's credentials as a type of its own.

A target is a discriminated union on ``kind`` (KintoneSettings | SalesforceSettings | SansanSettings).
Each kind types its ``auth``; every secret in it is a ``SecretStr`` (the environment's value, or a
``prefect-block:`` reference as written), so a repr, a dump or a log line shows ``**********`` until
``tasks.clients.resolve_secret`` reads it to build the client. The base ``Target`` keeps ``kind`` a
plain string: ``renkei validate`` reads a target of an unknown kind with it and still reports the
rest of the file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

TARGET_KINDS = ("kintone", "salesforce", "sansan")
DESTINATION_KINDS = ("kintone", "salesforce")  # loaded from the MA; Sansan only feeds it


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def secret_fields(model: BaseModel | None) -> dict[str, SecretStr]:
    """The secrets a settings model holds (those given), by field name."""
    if model is None:
        return {}
    found = {name: getattr(model, name) for name in type(model).model_fields}
    return {name: value for name, value in found.items() if isinstance(value, SecretStr)}


class Credentials(SpecModel):
    """A target's ``auth``. This base is an unknown kind's: its keys are set aside unread (the kind is
    reported); each kind's subclass names its own keys and refuses any other."""

    model_config = ConfigDict(extra="ignore")

    def missing(self) -> str | None:
        """What to add when the credentials are incomplete (None: complete)."""
        return None


class KintoneAuth(Credentials):
    model_config = ConfigDict(extra="forbid")

    api_token: SecretStr | None = None  # one app's token, or several as "t1,t2"
    username: str | None = None
    password: SecretStr | None = None

    def missing(self) -> str | None:
        login = self.username is not None and self.password is not None
        return None if self.api_token is not None or login else "give api_token, or username and password"


class SalesforceAuth(Credentials):
    model_config = ConfigDict(extra="forbid")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    private_key: SecretStr | None = None  # JWT bearer flow

    def missing(self) -> str | None:
        if self.client_id is not None:
            return None
        return "give client_id with client_secret (and username/password), or with username and private_key"


class SansanAuth(Credentials):
    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr | None = None

    def missing(self) -> str | None:
        return None if self.api_key is not None else "give the Sansan api_key"


class Mapping_(SpecModel):
    target: str
    conflict: str | None = None


class Match(SpecModel):
    ma: str = "email"
    target: str


class ActionTarget(SpecModel):
    app: int | None = None
    object: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)  # action column → target field, over the defaults


class Target(SpecModel):
    """The settings every kind shares. This base reads a target of an unknown kind (its other keys are
    set aside unread: the kind is what is reported); each kind's subclass adds its own settings and
    refuses a key that is another kind's (``object`` on kintone is a mistake, not a setting)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    kind: str
    url: str
    auth: Credentials = Field(default_factory=Credentials)
    match: Match | None = None
    map: dict[str, str | Mapping_] = Field(default_factory=dict)
    actions: dict[str, ActionTarget] = Field(default_factory=dict)
    masters: dict[str, ActionTarget] = Field(default_factory=dict)  # each master as its own stream
    duplicates: Literal["reject", "newest_exchange"] = "reject"
    overlap_minutes: int = Field(default=10, ge=0, le=1440)
    concurrency: int = Field(default=4, ge=1, le=50)

    @property
    def is_destination(self) -> bool:
        """Whether the MA's data is loaded into it (its adapter is a tasks.load.Destination)."""
        return self.kind in DESTINATION_KINDS

    @property
    def creates_customers(self) -> bool:
        """A source of new people (Sansan's cards) creates MA customers; other targets only update them."""
        return self.kind == "sansan"

    def mappings(self) -> dict[str, Mapping_]:
        """``map`` with the short form (``field: target``) expanded."""
        return {
            ma: entry if isinstance(entry, Mapping_) else Mapping_(target=entry)
            for ma, entry in self.map.items()
        }


class KintoneSettings(Target):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["kintone"]
    auth: KintoneAuth = Field(default_factory=KintoneAuth)
    app: int | None = None  # the customer app (validate reports it missing)
    guest_space: int | None = None
    updated_field: str | None = None  # the app's 更新日時 field, when renamed
    daily_request_budget: int | None = Field(default=None, ge=1)
    ca_bundle: str | None = None


class SalesforceSettings(Target):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["salesforce"]
    auth: SalesforceAuth = Field(default_factory=SalesforceAuth)
    object: str | None = None  # Lead or Contact (validate reports anything else)
    api_version: str | None = None
    defaults: dict[str, str] = Field(default_factory=dict)  # values a created record needs
    budget_share_per_run: float = Field(default=0.25, gt=0, le=1)
    budget_share_total: float = Field(default=0.80, gt=0, le=1)
    bulk_threshold: int | None = Field(default=None, ge=1)
    ca_bundle: str | None = None


class SansanSettings(Target):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["sansan"]
    auth: SansanAuth = Field(default_factory=SansanAuth)
    api_version: str | None = None


KnownTarget = KintoneSettings | SalesforceSettings | SansanSettings
AnyTarget = Annotated[KnownTarget, Field(discriminator="kind")]
KIND_MODELS: dict[str, type[Target]] = {
    "kintone": KintoneSettings,
    "salesforce": SalesforceSettings,
    "sansan": SansanSettings,
}


def target_model(data: object) -> type[Target]:
    """The settings model of a target as written: its kind's, or the base for an unknown kind."""
    kind = data.get("kind") if isinstance(data, dict) else None
    return KIND_MODELS.get(kind, Target) if isinstance(kind, str) else Target


def kinds_with_setting(key: str) -> list[str]:
    """The target kinds that have ``key`` as a setting of their own (``object`` → salesforce)."""
    return [kind for kind, model in KIND_MODELS.items() if key in model.model_fields]
