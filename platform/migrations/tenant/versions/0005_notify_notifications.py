"""notifications: the bell, deliveries by e-mail, SMS and webhook with their attempts,
preferences and quiet hours, a city's message wording, webhook endpoints; and Laksa's SLA
escalation flag (breached and still open: the Live Room is told).

Revision ID: 0005_notify
Revises: 0004_laksa_inbox
Create Date: 2026-12-01 09:41:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_notify"
down_revision: str | Sequence[str] | None = "0004_laksa_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_template",
        sa.Column("message", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "channel IN ('inapp', 'email', 'sms', 'webhook')", name=op.f("ck_message_template_channel")
        ),
        sa.CheckConstraint("language IN ('id', 'en')", name=op.f("ck_message_template_language")),
        sa.PrimaryKeyConstraint("message", "channel", "language", name=op.f("pk_message_template")),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.String(length=100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "recipient_kind IN ('citizen', 'employee')", name=op.f("ck_notification_recipient_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint(
            "source",
            "recipient_kind",
            "recipient_id",
            name=op.f("uq_notification_source_recipient_kind_recipient_id"),
        ),
    )
    op.create_index(
        "ix_notification_recipient", "notification", ["recipient_kind", "recipient_id", "id"], unique=False
    )
    op.create_index(
        "ix_notification_unread",
        "notification",
        ["recipient_kind", "recipient_id"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=100), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel IN ('email', 'sms', 'webhook')", name=op.f("ck_notification_delivery_channel")
        ),
        sa.CheckConstraint(
            "recipient_kind IN ('citizen', 'employee', 'webhook')",
            name=op.f("ck_notification_delivery_recipient_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'dead')", name=op.f("ck_notification_delivery_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_delivery")),
        sa.UniqueConstraint(
            "source",
            "recipient_kind",
            "recipient_id",
            "channel",
            name=op.f("uq_notification_delivery_source_recipient_kind_recipient_id_channel"),
        ),
    )
    op.create_index(
        "ix_notification_delivery_dead",
        "notification_delivery",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.create_index(
        "ix_notification_delivery_due",
        "notification_delivery",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "notification_preference",
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "channel IN ('inapp', 'email', 'sms', 'webhook')", name=op.f("ck_notification_preference_channel")
        ),
        sa.CheckConstraint(
            "recipient_kind IN ('citizen', 'employee')",
            name=op.f("ck_notification_preference_recipient_kind"),
        ),
        sa.PrimaryKeyConstraint(
            "recipient_kind", "recipient_id", "message", "channel", name=op.f("pk_notification_preference")
        ),
    )
    op.create_table(
        "notification_profile",
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("quiet_from", sa.Time(), nullable=True),
        sa.Column("quiet_until", sa.Time(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.CheckConstraint(
            "recipient_kind IN ('citizen', 'employee')", name=op.f("ck_notification_profile_recipient_kind")
        ),
        sa.PrimaryKeyConstraint("recipient_kind", "recipient_id", name=op.f("pk_notification_profile")),
    )
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoint")),
    )
    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["notification_delivery.id"],
            name=op.f("fk_delivery_attempt_delivery_id_notification_delivery"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempt")),
    )
    op.create_index("ix_delivery_attempt_delivery", "delivery_attempt", ["delivery_id", "id"], unique=False)
    op.add_column(
        "laksa_complaint", sa.Column("sla_escalated_flagged_at", sa.DateTime(timezone=True), nullable=True)
    )

    # a new timeline kind: sla_escalated
    op.drop_constraint(op.f("ck_laksa_timeline_kind"), "laksa_timeline", type_="check")
    op.create_check_constraint(
        op.f("ck_laksa_timeline_kind"), "laksa_timeline", f"kind IN {TIMELINE_KINDS_0005!r}"
    )


TIMELINE_KINDS_0003 = (
    "submitted",
    "routed",
    "triage",
    "forwarded",
    "acknowledged",
    "started",
    "resolved",
    "closed",
    "reopened",
    "returned",
    "duplicate",
    "transferred",
    "assigned",
    "note",
    "reply",
    "classified",
    "supported",
    "rated",
    "sla_at_risk",
    "sla_breached",
    "photo",
)
TIMELINE_KINDS_0005 = (*TIMELINE_KINDS_0003[:-1], "sla_escalated", "photo")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_laksa_timeline_kind"), "laksa_timeline", type_="check")
    op.create_check_constraint(
        op.f("ck_laksa_timeline_kind"), "laksa_timeline", f"kind IN {TIMELINE_KINDS_0003!r}"
    )
    op.drop_column("laksa_complaint", "sla_escalated_flagged_at")
    op.drop_index("ix_delivery_attempt_delivery", table_name="delivery_attempt")
    op.drop_table("delivery_attempt")
    op.drop_table("webhook_endpoint")
    op.drop_table("notification_profile")
    op.drop_table("notification_preference")
    op.drop_index(
        "ix_notification_delivery_due",
        table_name="notification_delivery",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(
        "ix_notification_delivery_dead",
        table_name="notification_delivery",
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.drop_table("notification_delivery")
    op.drop_index(
        "ix_notification_unread", table_name="notification", postgresql_where=sa.text("read_at IS NULL")
    )
    op.drop_index("ix_notification_recipient", table_name="notification")
    op.drop_table("notification")
    op.drop_table("message_template")
