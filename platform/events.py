"""Domain events and the per-city outbox (ARCHITECTURE §6).

A service calls ``publish(session, "laksa.complaint_submitted", {...})``: the event is written to
the city's ``outbox_event`` table in the same transaction as the change. After commit a relay
hands it to Dramatiq; a sweeper re-sends whatever is still unsent, so a crash or Redis being down
only delays delivery. Consumers dedupe on ``event_receipt`` (event id, consumer).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kotalive.db import TenantBase


class OutboxEvent(TenantBase):
    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_unsent", "id", postgresql_where=text("sent_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class EventReceipt(TenantBase):
    """One row per (event, consumer) handled: delivery is at least once, effects exactly once."""

    __tablename__ = "event_receipt"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    consumer: Mapped[str] = mapped_column(String(128), primary_key=True)
    handled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
