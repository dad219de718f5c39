"""People: citizens and employees (per city), platform staff (platform schema), roles, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    ARRAY,
    DDL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kotalive.auth.roles import CITY_ROLES, PLATFORM_ROLES
from kotalive.db import PlatformBase, TenantBase

CITIZEN_STATUSES = ("pending", "active", "deleted")
SUBJECT_KINDS = ("citizen", "employee")


class Citizen(TenantBase):
    """A resident (or flagged non-resident) registered with a NIK checked against SIAK."""

    __tablename__ = "citizen"
    __table_args__ = (
        CheckConstraint(f"status IN {CITIZEN_STATUSES!r}", name="status"),
        CheckConstraint("sex IN ('L', 'P')", name="sex"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # Keyed hash for lookup; the NIK itself only encrypted (UU PDP 27/2022). Null once deleted.
    nik_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    nik_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)  # E.164, +62...
    phone_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    password_hash: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))
    address: Mapped[str | None] = mapped_column(Text)
    kecamatan: Mapped[str | None] = mapped_column(Text)
    kelurahan: Mapped[str | None] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(String(4))  # where SIAK says they live
    resident: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    deletion_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Employee(TenantBase):
    """A city employee as Simpeg knows them; ``active`` is false once Simpeg says they left."""

    __tablename__ = "employee"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    nip: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="SET NULL"), index=True)
    unit_code: Mapped[str | None] = mapped_column(String(64))
    unit_name: Mapped[str | None] = mapped_column(Text)
    position: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    simpeg_status: Mapped[str | None] = mapped_column(String(32))
    oidc_subject: Mapped[str | None] = mapped_column(Text, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    synced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RoleGrant(TenantBase):
    """A role held by a citizen or employee; ``agency_id`` narrows an agency-scoped role."""

    __tablename__ = "role_grant"
    __table_args__ = (
        CheckConstraint(f"subject_kind IN {SUBJECT_KINDS!r}", name="subject_kind"),
        CheckConstraint(f"role IN {CITY_ROLES!r}", name="role"),
        # One grant per (person, role, agency); "no agency" counts as one value, not many.
        UniqueConstraint(
            "subject_kind", "subject_id", "role", "agency_id", postgresql_nulls_not_distinct=True
        ),
        Index("ix_role_grant_subject", "subject_kind", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16), default="admin")  # admin, simpeg, default
    granted_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditEntry(TenantBase):
    """Append-only: a trigger refuses UPDATE and DELETE (see ``append_only``)."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    actor_kind: Mapped[str] = mapped_column(
        String(16)
    )  # citizen, employee, platform_staff, system, anonymous
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_label: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class PlatformStaff(PlatformBase):
    """Platform team accounts: password plus TOTP, usable only on the platform host."""

    __tablename__ = "staff"
    __table_args__ = (CheckConstraint(f"roles <@ ARRAY{list(PLATFORM_ROLES)!r}::text[]", name="roles"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    totp_secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_totp_step: Mapped[int | None] = mapped_column(BigInteger)  # a code is accepted once


class PlatformAuditEntry(PlatformBase):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_label: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64), index=True)
    tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    target_kind: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


# The one function both trees use: defined in the platform schema by its migration, so a city
# schema holds only a trigger that calls it (no per-city functions or types).
APPEND_ONLY_FUNCTION = "platform.kotalive_append_only"
CREATE_APPEND_ONLY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {APPEND_ONLY_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only (% refused on %)', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$
"""
APPEND_ONLY_TRIGGER = (
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {APPEND_ONLY_FUNCTION}()"
)


def _append_only(target: Any, connection: Any, **kw: Any) -> None:
    schema = (connection.get_execution_options().get("schema_translate_map") or {}).get(
        target.schema, target.schema
    )
    table = f'"{schema}".{target.name}' if schema else target.name
    connection.execute(DDL(APPEND_ONLY_TRIGGER.format(table=table)))


# create_all (the fast path for a new city, and the platform's own tables) adds the trigger too.
event.listen(AuditEntry.__table__, "after_create", _append_only)
event.listen(PlatformAuditEntry.__table__, "after_create", _append_only)
