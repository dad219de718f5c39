"""Laksa tables, in every city schema: categories (Open311 services), hashtag rules, areas,
complaints with their timeline, supports and photos, SLA policies and the working-hours calendar,
response templates and Open311 API keys.

Text columns with CHECK constraints instead of PostgreSQL ENUMs (ARCHITECTURE §4 rule 8); foreign
keys stay inside the city schema (rule 7).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kotalive.db import TenantBase
from kotalive.modules.laksa.domain import (
    CALENDARS,
    OPEN_STATES,
    PRIORITIES,
    SOURCES,
    STATES,
    TIMELINE_KINDS,
)

_OPEN = f"state IN {OPEN_STATES!r}"


class Category(TenantBase):
    """What a complaint is about; an Open311 service (``code`` is its service_code)."""

    __tablename__ = "laksa_category"
    __table_args__ = (
        CheckConstraint(r"code ~ '^[a-z0-9][a-z0-9-]{0,63}$'", name="code"),
        CheckConstraint(f"priority IN {PRIORITIES!r}", name="priority"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)  # Bahasa Indonesia
    name_en: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    group_name: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    # Routing when no hashtag rule matched a complaint filed under this category.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="SET NULL"))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    # Blurred on the public map, description withheld (e.g. people in need, health).
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    # Open311 attributes: [{code, datatype, required, description, order, values: [{key, name}]}]
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=100)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
    # Agencies that get a copy of what the rule routes (they see it; the primary agency acts).
    copy_agency_ids: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), default=list, server_default=text("'{}'")
    )
    # Empty: anywhere in the city; else only complaints located in these kecamatan (codes).
    kecamatan_codes: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default=text("'{}'"))
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), onupdate=func.now())


class Area(TenantBase):
    """A kecamatan or kelurahan boundary the city uploaded (GeoJSON, WGS 84)."""

    __tablename__ = "laksa_area"
    __table_args__ = (
        CheckConstraint("kind IN ('kecamatan', 'kelurahan')", name="kind"),
        UniqueConstraint("kind", "code"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    parent_code: Mapped[str | None] = mapped_column(Text)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Complaint(TenantBase):
    __tablename__ = "laksa_complaint"
    __table_args__ = (
        CheckConstraint(f"state IN {STATES!r}", name="state"),
        CheckConstraint(f"priority IN {PRIORITIES!r}", name="priority"),
        CheckConstraint(f"source IN {SOURCES!r}", name="source"),
        CheckConstraint(f"sla_calendar IN {CALENDARS!r}", name="sla_calendar"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="location"),
        CheckConstraint("char_length(description) <= 4000", name="description_length"),
        # A retried submission (same key from the same person or partner app) finds the first.
        UniqueConstraint("idempotency_scope", "idempotency_key"),
        Index("ix_laksa_complaint_agency", "agency_id", "id"),
        Index("ix_laksa_complaint_agency_open", "agency_id", "id", postgresql_where=text(_OPEN)),
        # One agency's open complaints in the inbox's other orders (due first, most urgent first).
        Index("ix_laksa_complaint_agency_due", "agency_id", "due_at", "id", postgresql_where=text(_OPEN)),
        Index(
            "ix_laksa_complaint_agency_priority",
            "agency_id",
            "priority_rank",
            text("id DESC"),
            postgresql_where=text(_OPEN),
        ),
        Index(
            "ix_laksa_complaint_copies_open",
            "copied_agency_ids",
            postgresql_using="gin",
            postgresql_where=text(_OPEN),
        ),
        Index("ix_laksa_complaint_state", "state", "id"),
        Index("ix_laksa_complaint_citizen", "citizen_id", "id"),
        Index("ix_laksa_complaint_submitted", "submitted_at"),
        Index("ix_laksa_complaint_updated", "updated_at"),
        Index("ix_laksa_complaint_due", "due_at", postgresql_where=text(f"{_OPEN} AND due_at IS NOT NULL")),
        Index("ix_laksa_complaint_resolved", "resolved_at", postgresql_where=text("state = 'resolved'")),
        Index(
            "ix_laksa_complaint_nearby",
            "category_id",
            "lat",
            "lon",
            postgresql_where=text(f"{_OPEN} AND lat IS NOT NULL"),
        ),
        Index("ix_laksa_complaint_copies", "copied_agency_ids", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), default="web")
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizen.id", ondelete="SET NULL"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("laksa_api_key.id", ondelete="SET NULL"))
    # Contact details of a report that came without a citizen account (Open311): staff only.
    contact: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text)
    hashtags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("laksa_category.id", ondelete="SET NULL"))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    lat: Mapped[float | None] = mapped_column(Double)
    lon: Mapped[float | None] = mapped_column(Double)
    address: Mapped[str | None] = mapped_column(Text)
    kecamatan: Mapped[str | None] = mapped_column(Text)
    kecamatan_code: Mapped[str | None] = mapped_column(String(64))
    kelurahan: Mapped[str | None] = mapped_column(Text)
    kelurahan_code: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="submitted")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    priority_rank: Mapped[int] = mapped_column(SmallInteger, default=2)  # 0 emergency .. 3 low: sorts
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="SET NULL"))
    copied_agency_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("laksa_hashtag_rule.id", ondelete="SET NULL"))
    routing: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # why it went where it went
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("laksa_complaint.id", ondelete="SET NULL"))
    support_count: Mapped[int] = mapped_column(Integer, default=0)
    sla_hours: Mapped[int | None] = mapped_column(Integer)
    sla_calendar: Mapped[str] = mapped_column(String(16), default="working")
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    at_risk_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sla_at_risk_flagged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sla_breached_flagged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Breached and still open this long after (``escalate_after_minutes``): the Live Room is told.
    sla_escalated_flagged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    forwarded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    idempotency_scope: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    open311_token: Mapped[str | None] = mapped_column(String(64), unique=True)


class TimelineEntry(TenantBase):
    """Every change of a complaint, with who and when; ``public`` entries are what the citizen and
    the public see (state changes, public replies), the others are staff-only (internal notes)."""

    __tablename__ = "laksa_timeline"
    __table_args__ = (
        CheckConstraint(f"kind IN {TIMELINE_KINDS!r}", name="kind"),
        Index("ix_laksa_timeline_complaint", "complaint_id", "id"),
        Index("ix_laksa_timeline_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("laksa_complaint.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    kind: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))  # citizen, employee, system, partner
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_name: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class Support(TenantBase):
    """A citizen who has the same problem and supports an open complaint instead of filing another."""

    __tablename__ = "laksa_support"

    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("laksa_complaint.id", ondelete="CASCADE"), primary_key=True
    )
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Media(TenantBase):
    """A photo of a complaint (``report``) or of its resolution (``proof``). The upload is kept
    as sent until a worker has re-encoded it without EXIF (GPS) and made its thumbnail; only the
    re-encoded image is ever served."""

    __tablename__ = "laksa_media"
    __table_args__ = (
        CheckConstraint("purpose IN ('report', 'proof')", name="purpose"),
        CheckConstraint("status IN ('pending', 'ready', 'failed')", name="status"),
        Index("ix_laksa_media_complaint", "complaint_id", "id"),
        Index("ix_laksa_media_pending", "id", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("laksa_complaint.id", ondelete="CASCADE"))
    timeline_id: Mapped[int | None] = mapped_column(ForeignKey("laksa_timeline.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(16), default="report")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    filename: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(8))  # JPEG, PNG, WEBP as detected, never as named
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    original: Mapped[bytes | None] = mapped_column(LargeBinary)
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class SlaPolicy(TenantBase):
    """How long an agency has, by priority, when no hashtag rule says otherwise; and on which clock."""

    __tablename__ = "laksa_sla_policy"
    __table_args__ = (
        CheckConstraint(f"priority IN {PRIORITIES!r}", name="priority"),
        CheckConstraint(f"calendar IN {CALENDARS!r}", name="calendar"),
        CheckConstraint("hours > 0", name="hours"),
        CheckConstraint("at_risk_percent BETWEEN 1 AND 99", name="at_risk_percent"),
    )

    priority: Mapped[str] = mapped_column(String(16), primary_key=True)
    hours: Mapped[int] = mapped_column(Integer)
    calendar: Mapped[str] = mapped_column(String(16), default="working")
    at_risk_percent: Mapped[int] = mapped_column(Integer, default=75)


class WorkingHours(TenantBase):
    """Office hours per ISO weekday (1 Monday .. 7 Sunday); a day without a row is closed."""

    __tablename__ = "laksa_working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday"),
        CheckConstraint("opens < closes", name="span"),
    )

    weekday: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    opens: Mapped[dt.time] = mapped_column(Time)
    closes: Mapped[dt.time] = mapped_column(Time)


class Holiday(TenantBase):
    __tablename__ = "laksa_holiday"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(Text)


class ResponseTemplate(TenantBase):
    """A reply staff reuse; ``agency_id`` null: for every agency of the city."""

    __tablename__ = "laksa_response_template"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKey(TenantBase):
    """An Open311 partner application's key; only its SHA-256 is stored."""

    __tablename__ = "laksa_api_key"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(String(16))  # shown to admins to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
