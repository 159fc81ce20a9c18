"""The stand-in's tables (SQLAlchemy Core) and engine; timestamps are UTC epoch microseconds.

Integers keep instants exact and comparable on SQLite and PostgreSQL alike and make bulk seeding
cheap; ``clock.py`` turns them into timezone-aware datetimes at the edges.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)

metadata = MetaData()

companies = Table(
    "companies",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("token", String(255), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
)

# the public API v4's company secret: a credential of its own, never the integration API's token
public_keys = Table(
    "public_keys",
    metadata,
    Column("company_id", String(64), ForeignKey("companies.id"), primary_key=True),
    Column("company_secret", String(255), nullable=False, unique=True),
)

custom_fields = Table(
    "custom_fields",
    metadata,
    Column("company_id", String(64), ForeignKey("companies.id"), primary_key=True),
    Column("identifier", String(64), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("unique", Boolean, nullable=False, default=False),
    Column("label", String(255), nullable=False, default=""),
    Column("options", JSON, nullable=False, default=list),
    Column("max_length", Integer),
    Column("position", Integer, nullable=False, default=0),
)

customers = Table(
    "customers",
    metadata,
    Column("pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("company_id", String(64), ForeignKey("companies.id"), nullable=False),
    Column("hashcode", String(64), nullable=False, unique=True),
    Column("email", String(255), nullable=False),
    Column("last_name", Text),
    Column("first_name", Text),
    Column("last_name_reading", Text),
    Column("first_name_reading", Text),
    Column("lead_company_name", Text),
    Column("department", Text),
    Column("title", Text),
    Column("phone_number", String(32)),
    Column("mobile_phone_number", String(32)),
    Column("fax", String(32)),
    Column("postcode", String(16)),
    Column("address", Text),
    Column("url", Text),
    Column("collection_route", Text),
    Column("collection_date", String(10)),
    Column("memo", Text),
    Column("star", Boolean),
    Column("status", String(32)),
    Column("score", Integer),
    Column("delivery_permission", String(16)),
    Column("delivery_status", String(16)),
    Column("mail_status", String(32)),
    Column("custom", JSON, nullable=False, default=dict),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_customers_email", "company_id", "email", unique=True),
    Index("ix_customers_updated", "company_id", "updated_at", "pk"),
    Index("ix_customers_created", "company_id", "created_at"),
)

unique_values = Table(
    "unique_values",
    metadata,
    Column("company_id", String(64), primary_key=True),
    Column("identifier", String(64), primary_key=True),
    Column("value", Text, primary_key=True),
    Column("customer_pk", BigInteger, nullable=False, index=True),
)

masters = Table(
    "masters",
    metadata,
    Column("company_id", String(64), ForeignKey("companies.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False, default="active"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_masters_name", "company_id", "kind", "name"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("customer_pk", BigInteger, primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("master_id", String(64), primary_key=True),
    Index("ix_memberships_master", "kind", "master_id"),
)

actions = Table(
    "actions",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("company_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("customer_pk", BigInteger, nullable=False),
    Column("master_id", String(64), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("cut_at", BigInteger, nullable=False),
    Column("url", Text),
    Index("ix_actions_cut", "company_id", "kind", "cut_at", "event_id"),
)


def database_url_for(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'satori.db'}"


def make_engine(url: str) -> Engine:
    """An engine with the schema created; SQLite files run in WAL mode for concurrent readers."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    metadata.create_all(engine)
    return engine
