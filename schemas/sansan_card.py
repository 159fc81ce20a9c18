"""A Sansan business card (名刺) as renkei reads it: the Open API's JSON, typed. Pure, no I/O.

connectors.sansan returns what the service sends (dicts, as the kintone and Salesforce connectors
do); the adapter reads them into ``BizCard`` here, the shape the card rules (schemas.cards) and the
mapping use: camel-case wire names, an empty string as no value, times and dates parsed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


class _Wire(BaseModel):
    """Camel-case wire names; an empty string means no value (the API sends both)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


class Owner(_Wire):
    id: str
    name: str | None = None
    email: str | None = None


class CardTag(_Wire):
    id: str
    name: str
    type: str | None = None


class BizCard(_Wire):
    """One business card with the fields renkei maps into the MA."""

    id: str
    person_id: str | None = None
    company_id: str | None = None
    exchange_date: date | None = None
    registered_time: datetime
    updated_time: datetime
    owner: Owner | None = None
    last_name: str | None = None
    first_name: str | None = None
    last_name_reading: str | None = None
    first_name_reading: str | None = None
    company_name: str | None = None
    department_name: str | None = None
    title: str | None = None
    email: str | None = None
    tel: str | None = None
    second_tel: str | None = None
    mobile: str | None = None
    fax: str | None = None
    url: str | None = None
    country_code: str | None = None
    postal_code: str | None = None
    prefecture: str | None = None
    city: str | None = None
    street: str | None = None
    building: str | None = None
    memo: str | None = None
    entry_status: str = "completed"
    is_latest: bool | None = None
    tags: list[CardTag] = Field(default_factory=list)


def read_cards(pages: Iterable[list[dict[str, Any]]]) -> list[BizCard]:
    """Every card of the pages the connector returned, typed."""
    return [BizCard.model_validate(card) for page in pages for card in page]


def read_card(found: dict[str, Any] | None) -> BizCard | None:
    """One card (``get_card``), or a person's head card (``get_person``); None when not found."""
    if found is None:
        return None
    return BizCard.model_validate(found.get("headBizCard", found))
