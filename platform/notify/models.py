"""Notification tables, in every city schema (a notification never leaves its city).

- ``notification``: the in-app bell of one person (citizen or employee): what happened, read or not.
- ``notification_delivery``: one message to send by one outside channel (email, SMS, webhook) to
  one recipient; itself an outbox: pending rows are sent after commit and swept when due, retried
  with backoff, and end ``sent`` or ``dead`` (listed for the city admin, who may retry them).
- ``delivery_attempt``: every try of a delivery, with its outcome (the webhook log, and more).
- ``notification_preference`` / ``notification_profile``: channels a person wants per message
  kind, and their quiet hours and language.
- ``message_template``: a city's own wording of a message, per channel and language.
- ``webhook_endpoint``: where a city wants its events POSTed, signed with its secret.

Both ``notification`` and ``notification_delivery`` are unique per (source, recipient[, channel]):
a redelivered event, a job run twice, a retried request never notifies anyone twice.
"""

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
    Index,
    Integer,
    LargeBinary,
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

RECIPIENT_KINDS = ("citizen", "employee", "webhook")
CHANNELS = ("inapp", "email", "sms", "webhook")
OUTSIDE_CHANNELS = ("email", "sms", "webhook")
DELIVERY_STATUSES = ("pending", "sent", "dead")


class Notification(TenantBase):
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint("recipient_kind IN ('citizen', 'employee')", name="recipient_kind"),
        UniqueConstraint("source", "recipient_kind", "recipient_id"),
        Index("ix_notification_recipient", "recipient_kind", "recipient_id", "id"),
        Index(
            "ix_notification_unread",
            "recipient_kind",
            "recipient_id",
            postgresql_where=text("read_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))  # e.g. "event:812:laksa.routed"
    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(String(100))  # the message key, e.g. "laksa.routed"
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Delivery(TenantBase):
    __tablename__ = "notification_delivery"
    __table_args__ = (
        CheckConstraint(f"recipient_kind IN {RECIPIENT_KINDS!r}", name="recipient_kind"),
        CheckConstraint(f"channel IN {OUTSIDE_CHANNELS!r}", name="channel"),
        CheckConstraint(f"status IN {DELIVERY_STATUSES!r}", name="status"),
        UniqueConstraint("source", "recipient_kind", "recipient_id", "channel"),
        Index("ix_notification_delivery_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_notification_delivery_dead", "id", postgresql_where=text("status = 'dead'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(Text)  # e-mail address, E.164 number, or webhook URL
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(Text)  # the gateway's message id, the SMTP answer
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DeliveryAttempt(TenantBase):
    __tablename__ = "delivery_attempt"
    __table_args__ = (Index("ix_delivery_attempt_delivery", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notification_delivery.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)  # HTTP or SMTP reply code
    detail: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class Preference(TenantBase):
    """Whether a person wants a kind of message by a channel (no row: the message's default)."""

    __tablename__ = "notification_preference"
    __table_args__ = (
        CheckConstraint("recipient_kind IN ('citizen', 'employee')", name="recipient_kind"),
        CheckConstraint(f"channel IN {CHANNELS!r}", name="channel"),
    )

    recipient_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message: Mapped[str] = mapped_column(String(100), primary_key=True)  # a message key, or "*"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)


class Profile(TenantBase):
    """A person's quiet hours (in the city's time zone; urgent messages ignore them) and language."""

    __tablename__ = "notification_profile"
    __table_args__ = (CheckConstraint("recipient_kind IN ('citizen', 'employee')", name="recipient_kind"),)

    recipient_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    quiet_from: Mapped[dt.time | None] = mapped_column(Time)
    quiet_until: Mapped[dt.time | None] = mapped_column(Time)
    language: Mapped[str | None] = mapped_column(String(8))


class MessageTemplate(TenantBase):
    """The city's wording of one message for one channel and language (sandboxed Jinja)."""

    __tablename__ = "message_template"
    __table_args__ = (
        CheckConstraint(f"channel IN {CHANNELS!r}", name="channel"),
        CheckConstraint("language IN ('id', 'en')", name="language"),
    )

    message: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class WebhookEndpoint(TenantBase):
    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # Event types it wants ("laksa.complaint_routed"), or a module's all ("laksa.*"), or "*".
    events: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
