"""Live Room tables, in every city schema: the board's items (what the room sees of complaints and
112 incidents, fed by their modules' events), the board's event log (what a reconnecting screen
replays), shifts with their roster and check-ins, and the shift handover.

The room never writes another module's tables: it asks through events (``liveroom.*``) and shows
what the owning module answers through its own events. Text columns with CHECK constraints instead
of ENUMs (ARCHITECTURE §4 rule 8); foreign keys stay inside the city schema (rule 7).
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
from kotalive.modules.liveroom.domain import BOARD_STATES, ITEM_KINDS, OPEN_BOARD_STATES, PRIORITIES

_OPEN = f"state IN {OPEN_BOARD_STATES!r}"


class BoardItem(TenantBase):
    """One thing on the board: a complaint (Laksa) or an incident (112), as its module described
    it in its last event, plus the room's own work on it (claim, classification, forwarding)."""

    __tablename__ = "liveroom_item"
    __table_args__ = (
        CheckConstraint(f"kind IN {ITEM_KINDS!r}", name="kind"),
        CheckConstraint(f"state IN {BOARD_STATES!r}", name="state"),
        CheckConstraint(f"priority IN {PRIORITIES!r}", name="priority"),
        UniqueConstraint("kind", "source_id"),
        # The board: open items, emergencies first, then priority, newest first (keyset paging).
        Index(
            "ix_liveroom_item_board",
            "rank",
            text("id DESC"),
            postgresql_where=text(_OPEN),
        ),
        Index(
            "ix_liveroom_item_forwarded", "forwarded_at", postgresql_where=text("forwarded_at IS NOT NULL")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # complaint | incident
    source_id: Mapped[int] = mapped_column(BigInteger)  # the complaint's or incident's id
    state: Mapped[str] = mapped_column(String(16), default="new")
    source_state: Mapped[str | None] = mapped_column(String(32))  # as the owning module says
    title: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(BigInteger)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    # 0 emergency, 1 urgent/high, 2 normal, 3 low: the board's first sort key.
    rank: Mapped[int] = mapped_column(SmallInteger, default=2)
    sla: Mapped[str] = mapped_column(String(16), default="ok")  # ok | at_risk | breached
    agency_id: Mapped[int | None] = mapped_column(BigInteger)  # who holds it now (owning module)
    kecamatan_code: Mapped[str | None] = mapped_column(String(32))
    kecamatan: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Double)
    lon: Mapped[float | None] = mapped_column(Double)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    forwarded_by: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    forwarded_to: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    forward_note: Mapped[str | None] = mapped_column(Text)
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("liveroom_item.id", ondelete="SET NULL"))
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    escalation_note: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)  # the owning module refused the room's ask
    # A 112 incident's units as its last event listed them: [{call_sign, type, status}].
    units: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    # Measures: when it appeared, was triaged (claimed and classified or forwarded), forwarded, and
    # acknowledged by the agency it was forwarded to.
    appeared_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    triaged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    triaged_by: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    forwarded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    source_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # the last source event applied
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class BoardEvent(TenantBase):
    """What changed on the board, in order: a screen that reconnects with ``Last-Event-ID`` gets
    everything after it from here (pub/sub keeps nothing)."""

    __tablename__ = "liveroom_board_event"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    item_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(32))  # item | alert | duty | handover
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ItemNote(TenantBase):
    """The room's notes on an item (classification, forwarding, escalation, free text)."""

    __tablename__ = "liveroom_item_note"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("liveroom_item.id", ondelete="CASCADE"), index=True)
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Shift(TenantBase):
    """A shift of the day (three of eight hours by default), in the city's time zone."""

    __tablename__ = "liveroom_shift"
    __table_args__ = (
        CheckConstraint("hours BETWEEN 1 AND 24", name="hours"),
        CheckConstraint(r"code ~ '^[a-z0-9][a-z0-9-]{0,31}$'", name="code"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    starts: Mapped[dt.time] = mapped_column(Time)
    hours: Mapped[int] = mapped_column(SmallInteger, default=8)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RosterEntry(TenantBase):
    """An operator planned on a shift of a day."""

    __tablename__ = "liveroom_roster"
    __table_args__ = (UniqueConstraint("day", "shift_id", "employee_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("liveroom_shift.id", ondelete="CASCADE"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))


class Duty(TenantBase):
    """An operator's check-in (and check-out) on a shift of a day: who is on duty now."""

    __tablename__ = "liveroom_duty"
    __table_args__ = (
        Index(
            "uq_liveroom_duty_open",
            "employee_id",
            unique=True,
            postgresql_where=text("checked_out_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    shift_id: Mapped[int] = mapped_column(ForeignKey("liveroom_shift.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)
    agency_id: Mapped[int | None] = mapped_column(BigInteger)  # the operator's home agency
    checked_in_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    checked_out_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Handover(TenantBase):
    """The shift log one shift hands to the next: open items, notes, incidents; acknowledged by
    an operator of the next shift."""

    __tablename__ = "liveroom_handover"
    __table_args__ = (UniqueConstraint("day", "shift_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    shift_id: Mapped[int] = mapped_column(ForeignKey("liveroom_shift.id", ondelete="CASCADE"))
    notes: Mapped[str] = mapped_column(Text, default="")
    open_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    written_by: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    written_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)
