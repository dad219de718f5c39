"""The city admin's own table in every city schema: the city's branding (one row).

Created by the tenant migration ``0009_admin``; the surface names this module (``Surface.models``)
so provisioning's ``create_all`` and the drift check's reference see the same table.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from kotalive.db import TenantBase

LOGO_TYPES = ("image/png", "image/jpeg", "image/webp")


class CityBranding(TenantBase):
    """How the city's pages look: a display name, two colours and a logo. One row (id 1)."""

    __tablename__ = "city_branding"
    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint("primary_colour ~ '^#[0-9a-f]{6}$'", name="primary_colour"),
        CheckConstraint("accent_colour ~ '^#[0-9a-f]{6}$'", name="accent_colour"),
        CheckConstraint(f"logo_type IS NULL OR logo_type IN {LOGO_TYPES!r}", name="logo_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    display_name: Mapped[str | None] = mapped_column(Text)
    primary_colour: Mapped[str] = mapped_column(String(7))
    accent_colour: Mapped[str] = mapped_column(String(7))
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_type: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
