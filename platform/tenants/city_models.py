"""Core tables that live in every city schema (modules add their own through their specs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kotalive.db import TenantBase

AGENCY_KINDS = ("dinas", "badan", "satuan", "kantor", "sekretariat", "kecamatan", "partner", "other")


class Agency(TenantBase):
    """A regional government agency (SKPD/OPD) or partner (Polres, PDAM, PLN) of the city."""

    __tablename__ = "agency"
    __table_args__ = (
        CheckConstraint(f"kind IN {AGENCY_KINDS!r}", name="kind"),
        CheckConstraint(r"code ~ '^[a-z0-9][a-z0-9-]{0,31}$'", name="code"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    abbreviation: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="dinas")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="SET NULL"))
    contact: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


INTEGRATION_KINDS = ("siak", "simpeg", "sms", "oidc", "smtp", "webhook", "telephony")


class IntegrationSetting(TenantBase):
    """How this city reaches one outside system; secrets (API keys, client secrets) encrypted."""

    __tablename__ = "integration_setting"
    __table_args__ = (CheckConstraint(f"kind IN {INTEGRATION_KINDS!r}", name="kind"),)

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    secrets_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
