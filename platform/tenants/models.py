"""The tenant registry (schema ``platform``): cities, their hosts, modules and migration state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kotalive.db import PlatformBase

TENANT_KINDS = ("kota", "kabupaten", "provinsi")
TENANT_STATUSES = ("provisioning", "active", "suspended", "archived")


class Tenant(PlatformBase):
    __tablename__ = "tenant"
    __table_args__ = (
        CheckConstraint(f"kind IN {TENANT_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {TENANT_STATUSES!r}", name="status"),
        CheckConstraint(r"slug ~ '^[a-z][a-z0-9-]{1,62}$'", name="slug"),
        CheckConstraint(r"region_code ~ '^[0-9]{2}([0-9]{2})?$'", name="region_code"),
    )

    # Immutable: the schema name is derived from it (city_<id>).
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="kota")
    region_code: Mapped[str] = mapped_column(String(4))
    timezone: Mapped[str] = mapped_column(Text, default="Asia/Jakarta")
    locale: Mapped[str] = mapped_column(String(8), default="id")
    centre_lat: Mapped[float | None] = mapped_column(Float)
    centre_lon: Mapped[float | None] = mapped_column(Float)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="provisioning")
    mou_number: Mapped[str | None] = mapped_column(Text)
    mou_signed_on: Mapped[dt.date | None] = mapped_column(Date)
    mou_expires_on: Mapped[dt.date | None] = mapped_column(Date)
    wave: Mapped[str | None] = mapped_column(String(63))
    # Provisioning is resumable: the last step that completed.
    provisioning_step: Mapped[str | None] = mapped_column(String(32))
    schema_revision: Mapped[str | None] = mapped_column(String(64))
    last_migration_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_migration_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_migration_error: Mapped[str | None] = mapped_column(Text)
    last_migration_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    domains: Mapped[list[Domain]] = relationship(back_populates="tenant", cascade="all, delete-orphan")
    modules: Mapped[list[TenantModule]] = relationship(back_populates="tenant", cascade="all, delete-orphan")


class Domain(PlatformBase):
    __tablename__ = "domain"
    __table_args__ = (
        Index("uq_domain_primary_per_tenant", "tenant_id", unique=True, postgresql_where=text("is_primary")),
        CheckConstraint("host = lower(host)", name="host_lower"),
    )

    host: Mapped[str] = mapped_column(String(253), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("platform.tenant.id", ondelete="CASCADE"), index=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    tenant: Mapped[Tenant] = relationship(back_populates="domains")


class TenantModule(PlatformBase):
    __tablename__ = "tenant_module"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("platform.tenant.id", ondelete="CASCADE"), primary_key=True
    )
    module: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    tenant: Mapped[Tenant] = relationship(back_populates="modules")


class MigrationRun(PlatformBase):
    """One city's result in one migration run (the history behind ``tenant.last_migration_*``)."""

    __tablename__ = "migration_run"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("platform.tenant.id", ondelete="CASCADE"), index=True)
    wave: Mapped[str | None] = mapped_column(String(63))
    from_revision: Mapped[str | None] = mapped_column(String(64))
    to_revision: Mapped[str | None] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RegistryVersion(PlatformBase):
    """A counter bumped on every registry change; processes compare it to know their cache is stale."""

    __tablename__ = "registry_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
