"""core city tables and laksa rules

Revision ID: 0001_city_core
Revises:
Create Date: 2026-11-28 20:46:56.171695
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_city_core"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agency",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("abbreviation", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("contact", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("code ~ '^[a-z0-9][a-z0-9-]{0,31}$'", name=op.f("ck_agency_code")),
        sa.CheckConstraint(
            "kind IN ('dinas', 'badan', 'satuan', 'kantor', 'sekretariat', 'kecamatan', 'partner', 'other')",
            name=op.f("ck_agency_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["agency.id"], name=op.f("fk_agency_parent_id_agency"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency")),
        sa.UniqueConstraint("code", name=op.f("uq_agency_code")),
    )
    op.create_table(
        "event_receipt",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("consumer", sa.String(length=128), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "consumer", name=op.f("pk_event_receipt")),
    )
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_type", sa.String(length=128), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    op.create_index(
        "ix_outbox_event_unsent",
        "outbox_event",
        ["id"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "laksa_hashtag_rule",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("hashtags", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=False),
        sa.Column("category_code", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("sla_hours", sa.Integer(), nullable=False),
        sa.Column("precedence", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'emergency')", name=op.f("ck_laksa_hashtag_rule_priority")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_laksa_hashtag_rule_agency_id_agency"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_laksa_hashtag_rule")),
        sa.UniqueConstraint("code", name=op.f("uq_laksa_hashtag_rule_code")),
    )


def downgrade() -> None:
    op.drop_table("laksa_hashtag_rule")
    op.drop_index(
        "ix_outbox_event_unsent", table_name="outbox_event", postgresql_where=sa.text("sent_at IS NULL")
    )
    op.drop_table("outbox_event")
    op.drop_table("event_receipt")
    op.drop_table("agency")
