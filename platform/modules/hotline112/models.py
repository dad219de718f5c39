"""112 tables, in every city schema: calls and their raw telephony events, caller locations (AML and
others, matched or still waiting for their call), incidents with their timeline, incident types with
their question protocols, unit types, units and their assignments to incidents.

Text columns with CHECK constraints instead of ENUMs (ARCHITECTURE §4 rule 8). Agencies are the
city's own table (a foreign key inside the schema); employees are referenced by id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kotalive.db import TenantBase
from kotalive.modules.hotline112.domain import (
    DISPOSITIONS,
    INCIDENT_STATES,
    LOCATION_CHANNELS,
    LOCATION_SOURCES,
    PRIORITIES,
    UNIT_STATUSES,
)

_NOW = func.now()


class Call(TenantBase):
    """One emergency call as the telephony system reports it. Each stage keeps its own moment, so
    events arriving late or twice never move the call backwards."""

    __tablename__ = "h112_call"
    __table_args__ = (
        CheckConstraint(f"disposition IS NULL OR disposition IN {DISPOSITIONS!r}", name="disposition"),
        # The call-taker's screen: calls still ringing or in progress, newest first.
        Index("ix_h112_call_live", text("offered_at DESC"), postgresql_where=text("ended_at IS NULL")),
        Index("ix_h112_call_number", "caller_number", text("offered_at DESC")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    call_ref: Mapped[str] = mapped_column(String(128), unique=True)  # the telephony system's call id
    line: Mapped[str | None] = mapped_column(String(64))  # the trunk/line the call came in on
    caller_number: Mapped[str | None] = mapped_column(String(32))  # E.164 (+62...), as normalised
    offered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    transferred_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    transferred_to: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))  # the telephony agent/extension that answered
    calltaker_id: Mapped[int | None] = mapped_column(BigInteger)  # employee id, when known
    disposition: Mapped[str | None] = mapped_column(String(16))
    disposition_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disposition_by: Mapped[int | None] = mapped_column(BigInteger)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("h112_incident.id", ondelete="SET NULL"), index=True
    )
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_NOW)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, onupdate=_NOW
    )


class CallEvent(TenantBase):
    """Every telephony event as received, once: replays are recognised by their key."""

    __tablename__ = "h112_call_event"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_key: Mapped[str] = mapped_column(String(160), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("h112_call.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_NOW)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class CallerLocation(TenantBase):
    """A caller's location: an AML message (HTTPS or SMS) or one the call-taker set. An AML that
    arrives before its call waits unmatched (``call_id`` NULL) and is matched when the call comes."""

    __tablename__ = "h112_location"
    __table_args__ = (
        CheckConstraint(f"source IN {LOCATION_SOURCES!r}", name="source"),
        CheckConstraint(f"channel IN {LOCATION_CHANNELS!r}", name="channel"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="coordinates"),
        Index(
            "ix_h112_location_waiting",
            "caller_number",
            text("received_at DESC"),
            postgresql_where=text("call_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # A hash of the message's content: the same AML sent twice is stored once.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("h112_call.id", ondelete="SET NULL"), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="unknown")
    lat: Mapped[float] = mapped_column(Double)
    lon: Mapped[float] = mapped_column(Double)
    accuracy_m: Mapped[float | None] = mapped_column(Double)
    confidence: Mapped[float | None] = mapped_column(Double)  # percent
    location_time: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_NOW)
    matched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    hmac_ok: Mapped[bool | None] = mapped_column(Boolean)  # None: the city keeps no key
    device: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # imei, imsi, mcc, mnc
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class RejectedMessage(TenantBase):
    """An AML (or telephony) message that was answered 2xx but discarded, kept for diagnosis."""

    __tablename__ = "h112_rejected"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # aml_https | aml_sms | telephony
    reason: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)  # truncated
    peer: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_NOW, index=True)


class IncidentType(TenantBase):
    """An incident type the city uses, with its short question protocol (editable by the city)."""

    __tablename__ = "h112_incident_type"
    __table_args__ = (CheckConstraint(f"priority IN {PRIORITIES!r}", name="priority"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_id: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(2), default="P2")  # the default for a new incident
    unit_types: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="SET NULL"))
    # [{key, text_id, text_en, kind: yes_no|text|number|choice, choices: [...]}]
    protocol: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)


class Incident(TenantBase):
    __tablename__ = "h112_incident"
    __table_args__ = (
        CheckConstraint(f"priority IN {PRIORITIES!r}", name="priority"),
        CheckConstraint(f"state IN {INCIDENT_STATES!r}", name="state"),
        CheckConstraint(
            "(lat IS NULL AND lon IS NULL) OR (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180)",
            name="coordinates",
        ),
        Index("ix_h112_incident_open", text("created_at DESC"), postgresql_where=text("state <> 'closed'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    type_code: Mapped[str] = mapped_column(ForeignKey("h112_incident_type.code"))
    priority: Mapped[str] = mapped_column(String(2))
    state: Mapped[str] = mapped_column(String(16), default="open")
    summary: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Double)
    lon: Mapped[float | None] = mapped_column(Double)
    accuracy_m: Mapped[float | None] = mapped_column(Double)
    location_source: Mapped[str | None] = mapped_column(String(16))  # aml | caller | map
    callback_number: Mapped[str | None] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # protocol key -> answer
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_NOW)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, onupdate=_NOW
    )
    first_dispatch_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=0)


class TimelineEntry(TenantBase):
    """Everything that happened to an incident, with its moment: calls, locations, answers, notes,
    dispatches, unit statuses, state changes."""

    __tablename__ = "h112_timeline"
    __table_args__ = (Index("ix_h112_timeline_incident", "incident_id", "at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("h112_incident.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_NOW)
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_name: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class UnitType(TenantBase):
    __tablename__ = "h112_unit_type"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name_id: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    avg_speed_kmh: Mapped[float] = mapped_column(Double)


class Unit(TenantBase):
    """A vehicle and its crew, with its status and last known position."""

    __tablename__ = "h112_unit"
    __table_args__ = (
        CheckConstraint(f"status IN {UNIT_STATUSES!r}", name="status"),
        CheckConstraint(
            "(lat IS NULL AND lon IS NULL) OR (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180)",
            name="coordinates",
        ),
        # The recommendation: dispatchable units of a type.
        Index(
            "ix_h112_unit_dispatchable",
            "type_code",
            postgresql_where=text("active AND status IN ('available', 'back_in_service')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    call_sign: Mapped[str] = mapped_column(String(32), unique=True)
    type_code: Mapped[str] = mapped_column(ForeignKey("h112_unit_type.code"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(Text, default="")
    crew: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)  # [{name, role, phone}]
    status: Mapped[str] = mapped_column(String(16), default="available")
    status_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_NOW)
    lat: Mapped[float | None] = mapped_column(Double)
    lon: Mapped[float | None] = mapped_column(Double)
    position_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    base_lat: Mapped[float | None] = mapped_column(Double)
    base_lon: Mapped[float | None] = mapped_column(Double)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("h112_incident.id", ondelete="SET NULL"))
    # The unit's mobile terminal authenticates with a token; only its hash is kept.
    terminal_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class Assignment(TenantBase):
    """A unit sent to an incident, with the moments of its cycle (for turnout and travel times).
    One active assignment per unit: two dispatchers sending the same unit at once, one wins."""

    __tablename__ = "h112_assignment"
    __table_args__ = (
        CheckConstraint("state IN ('active', 'cleared', 'cancelled')", name="state"),
        Index(
            "uq_h112_assignment_active_unit",
            "unit_id",
            unique=True,
            postgresql_where=text("state = 'active'"),
        ),
        Index("ix_h112_assignment_incident", "incident_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("h112_incident.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("h112_unit.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="active")
    assigned_by: Mapped[int | None] = mapped_column(BigInteger)
    assigned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_NOW)
    en_route_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    on_scene_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    transporting_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    at_hospital_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    distance_m: Mapped[float | None] = mapped_column(Double)
    eta_seconds: Mapped[int | None] = mapped_column(Integer)
