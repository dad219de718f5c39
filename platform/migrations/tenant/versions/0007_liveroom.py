"""liveroom: the board's items (complaints and incidents as their modules describe them, and the
room's work on them), the board's event log for reconnecting screens, notes, shifts with their
roster and check-ins, and the shift handover.

Revision ID: 0007_liveroom
Revises: 0006_outbox_settled
Create Date: 2026-12-01 12:17:03.251655
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_liveroom"
down_revision: str | Sequence[str] | None = "0006_outbox_settled"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "liveroom_board_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liveroom_board_event")),
    )
    op.create_index(
        op.f("ix_liveroom_board_event_item_id"), "liveroom_board_event", ["item_id"], unique=False
    )
    op.create_table(
        "liveroom_shift",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("hours", sa.SmallInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("code ~ '^[a-z0-9][a-z0-9-]{0,31}$'", name=op.f("ck_liveroom_shift_code")),
        sa.CheckConstraint("hours BETWEEN 1 AND 24", name=op.f("ck_liveroom_shift_hours")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liveroom_shift")),
        sa.UniqueConstraint("code", name=op.f("uq_liveroom_shift_code")),
    )
    op.create_table(
        "liveroom_duty",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("employee_id", sa.BigInteger(), nullable=False),
        sa.Column("shift_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "checked_in_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("checked_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employee.id"],
            name=op.f("fk_liveroom_duty_employee_id_employee"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["liveroom_shift.id"],
            name=op.f("fk_liveroom_duty_shift_id_liveroom_shift"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liveroom_duty")),
    )
    op.create_index(
        "uq_liveroom_duty_open",
        "liveroom_duty",
        ["employee_id"],
        unique=True,
        postgresql_where=sa.text("checked_out_at IS NULL"),
    )
    op.create_table(
        "liveroom_handover",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("shift_id", sa.BigInteger(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("open_items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("written_by", sa.BigInteger(), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("acknowledged_by", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["employee.id"],
            name=op.f("fk_liveroom_handover_acknowledged_by_employee"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["liveroom_shift.id"],
            name=op.f("fk_liveroom_handover_shift_id_liveroom_shift"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["written_by"],
            ["employee.id"],
            name=op.f("fk_liveroom_handover_written_by_employee"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liveroom_handover")),
        sa.UniqueConstraint("day", "shift_id", name=op.f("uq_liveroom_handover_day_shift_id")),
    )
    op.create_table(
        "liveroom_item",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source_state", sa.String(length=32), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("sla", sa.String(length=16), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=True),
        sa.Column("kecamatan_code", sa.String(length=32), nullable=True),
        sa.Column("kecamatan", sa.Text(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("claimed_by", sa.BigInteger(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forwarded_by", sa.BigInteger(), nullable=True),
        sa.Column("forwarded_to", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("forward_note", sa.Text(), nullable=True),
        sa.Column("merged_into", sa.BigInteger(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_note", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("appeared_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("triaged_by", sa.BigInteger(), nullable=True),
        sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_seq", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('complaint', 'incident')", name=op.f("ck_liveroom_item_kind")),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'emergency')", name=op.f("ck_liveroom_item_priority")
        ),
        sa.CheckConstraint(
            "state IN ('new', 'claimed', 'routed', 'forwarded', 'acknowledged', 'escalated', 'duplicate', 'closed')",
            name=op.f("ck_liveroom_item_state"),
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by"],
            ["employee.id"],
            name=op.f("fk_liveroom_item_claimed_by_employee"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["forwarded_by"],
            ["employee.id"],
            name=op.f("fk_liveroom_item_forwarded_by_employee"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into"],
            ["liveroom_item.id"],
            name=op.f("fk_liveroom_item_merged_into_liveroom_item"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["triaged_by"],
            ["employee.id"],
            name=op.f("fk_liveroom_item_triaged_by_employee"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liveroom_item")),
        sa.UniqueConstraint("kind", "source_id", name=op.f("uq_liveroom_item_kind_source_id")),
    )
    op.create_index(
        "ix_liveroom_item_board",
        "liveroom_item",
        ["rank", sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=sa.text(
            "state IN ('new', 'claimed', 'routed', 'forwarded', 'acknowledged', 'escalated')"
        ),
    )
    op.create_index(
        "ix_liveroom_item_forwarded",
        "liveroom_item",
        ["forwarded_at"],
        unique=False,
        postgresql_where=sa.text("forwarded_at IS NOT NULL"),
    )
    op.create_table(
        "liveroom_roster",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("shift_id", sa.BigInteger(), nullable=False),
        sa.Column("employee_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["employee.id"],
            name=op.f("fk_liveroom_roster_created_by_employee"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employee.id"],
            name=op.f("fk_liveroom_roster_employee_id_employee"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["liveroom_shift.id"],
            name=op.f("fk_liveroom_roster_shift_id_liveroom_shift"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liveroom_roster")),
        sa.UniqueConstraint(
            "day", "shift_id", "employee_id", name=op.f("uq_liveroom_roster_day_shift_id_employee_id")
        ),
    )
    op.create_index(op.f("ix_liveroom_roster_day"), "liveroom_roster", ["day"], unique=False)
    op.create_table(
        "liveroom_item_note",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("employee_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employee.id"],
            name=op.f("fk_liveroom_item_note_employee_id_employee"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["liveroom_item.id"],
            name=op.f("fk_liveroom_item_note_item_id_liveroom_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liveroom_item_note")),
    )
    op.create_index(op.f("ix_liveroom_item_note_item_id"), "liveroom_item_note", ["item_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_liveroom_item_note_item_id"), table_name="liveroom_item_note")
    op.drop_table("liveroom_item_note")
    op.drop_index(op.f("ix_liveroom_roster_day"), table_name="liveroom_roster")
    op.drop_table("liveroom_roster")
    op.drop_index(
        "ix_liveroom_item_forwarded",
        table_name="liveroom_item",
        postgresql_where=sa.text("forwarded_at IS NOT NULL"),
    )
    op.drop_index(
        "ix_liveroom_item_board",
        table_name="liveroom_item",
        postgresql_where=sa.text(
            "state IN ('new', 'claimed', 'routed', 'forwarded', 'acknowledged', 'escalated')"
        ),
    )
    op.drop_table("liveroom_item")
    op.drop_table("liveroom_handover")
    op.drop_index(
        "uq_liveroom_duty_open",
        table_name="liveroom_duty",
        postgresql_where=sa.text("checked_out_at IS NULL"),
    )
    op.drop_table("liveroom_duty")
    op.drop_table("liveroom_shift")
    op.drop_index(op.f("ix_liveroom_board_event_item_id"), table_name="liveroom_board_event")
    op.drop_table("liveroom_board_event")
