"""Laksa tables (this issue: the hashtag rules a new city starts with; complaints come next)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from kotalive.db import TenantBase

PRIORITIES = ("low", "normal", "high", "emergency")


class HashtagRule(TenantBase):
    __tablename__ = "laksa_hashtag_rule"
    __table_args__ = (CheckConstraint(f"priority IN {PRIORITIES!r}", name="priority"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    hashtags: Mapped[list[str]] = mapped_column(ARRAY(Text))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"))
    category_code: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    sla_hours: Mapped[int] = mapped_column(Integer, default=72)
    precedence: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
