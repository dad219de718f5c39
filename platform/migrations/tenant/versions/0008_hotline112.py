"""hotline112: calls and their telephony events, caller locations (AML), rejected messages, incident
types with question protocols, incidents and their timeline, unit types, units and assignments.

Revision ID: 0008_hotline112
Revises: 0007_liveroom
Create Date: 2026-12-01 13:07:20.368053
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_hotline112"
down_revision: str | Sequence[str] | None = "0007_liveroom"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "h112_rejected",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_h112_rejected")),
    )
    op.create_index(op.f("ix_h112_rejected_received_at"), "h112_rejected", ["received_at"], unique=False)
    op.create_table(
        "h112_unit_type",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name_id", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("avg_speed_kmh", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_h112_unit_type")),
    )
    op.create_table(
        "h112_incident_type",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_id", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=2), nullable=False),
        sa.Column("unit_types", postgresql.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=True),
        sa.Column("protocol", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint(
            "priority IN ('P1', 'P2', 'P3', 'P4')", name=op.f("ck_h112_incident_type_priority")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_h112_incident_type_agency_id_agency"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_h112_incident_type")),
    )
    op.create_table(
        "h112_incident",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("type_code", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=2), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("accuracy_m", sa.Double(), nullable=True),
        sa.Column("location_source", sa.String(length=16), nullable=True),
        sa.Column("callback_number", sa.String(length=32), nullable=True),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("first_dispatch_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("priority IN ('P1', 'P2', 'P3', 'P4')", name=op.f("ck_h112_incident_priority")),
        sa.CheckConstraint(
            "state IN ('open', 'dispatched', 'on_scene', 'closed')", name=op.f("ck_h112_incident_state")
        ),
        sa.CheckConstraint(
            "(lat IS NULL AND lon IS NULL) OR (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180)",
            name=op.f("ck_h112_incident_coordinates"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_h112_incident_agency_id_agency"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["type_code"],
            ["h112_incident_type.code"],
            name=op.f("fk_h112_incident_type_code_h112_incident_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_h112_incident")),
    )
    op.create_index(
        "ix_h112_incident_open",
        "h112_incident",
        [sa.literal_column("created_at DESC")],
        unique=False,
        postgresql_where=sa.text("state <> 'closed'"),
    )
    op.create_table(
        "h112_call",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("call_ref", sa.String(length=128), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=True),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transferred_to", sa.String(length=64), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("calltaker_id", sa.BigInteger(), nullable=True),
        sa.Column("disposition", sa.String(length=16), nullable=True),
        sa.Column("disposition_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disposition_by", sa.BigInteger(), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "disposition IS NULL OR disposition IN ('emergency', 'non_emergency', 'prank', 'abandoned', 'duplicate')",
            name=op.f("ck_h112_call_disposition"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["h112_incident.id"],
            name=op.f("fk_h112_call_incident_id_h112_incident"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_h112_call")),
        sa.UniqueConstraint("call_ref", name=op.f("uq_h112_call_call_ref")),
    )
    op.create_index(op.f("ix_h112_call_incident_id"), "h112_call", ["incident_id"], unique=False)
    op.create_index(
        "ix_h112_call_live",
        "h112_call",
        [sa.literal_column("offered_at DESC")],
        unique=False,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index(
        "ix_h112_call_number",
        "h112_call",
        ["caller_number", sa.literal_column("offered_at DESC")],
        unique=False,
    )
    op.create_table(
        "h112_timeline",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_name", sa.Text(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["h112_incident.id"],
            name=op.f("fk_h112_timeline_incident_id_h112_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_h112_timeline")),
    )
    op.create_index("ix_h112_timeline_incident", "h112_timeline", ["incident_id", "at", "id"], unique=False)
    op.create_table(
        "h112_unit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("call_sign", sa.String(length=32), nullable=False),
        sa.Column("type_code", sa.String(length=16), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("crew", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("base_lat", sa.Double(), nullable=True),
        sa.Column("base_lon", sa.Double(), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("terminal_token_hash", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('available', 'dispatched', 'en_route', 'on_scene', 'transporting', 'at_hospital', 'back_in_service', 'out_of_service')",
            name=op.f("ck_h112_unit_status"),
        ),
        sa.CheckConstraint(
            "(lat IS NULL AND lon IS NULL) OR (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180)",
            name=op.f("ck_h112_unit_coordinates"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_h112_unit_agency_id_agency"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["h112_incident.id"],
            name=op.f("fk_h112_unit_incident_id_h112_incident"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["type_code"], ["h112_unit_type.code"], name=op.f("fk_h112_unit_type_code_h112_unit_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_h112_unit")),
        sa.UniqueConstraint("call_sign", name=op.f("uq_h112_unit_call_sign")),
        sa.UniqueConstraint("terminal_token_hash", name=op.f("uq_h112_unit_terminal_token_hash")),
    )
    op.create_index(op.f("ix_h112_unit_agency_id"), "h112_unit", ["agency_id"], unique=False)
    op.create_index(
        "ix_h112_unit_dispatchable",
        "h112_unit",
        ["type_code"],
        unique=False,
        postgresql_where=sa.text("active AND status IN ('available', 'back_in_service')"),
    )
    op.create_table(
        "h112_assignment",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("assigned_by", sa.BigInteger(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("en_route_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_scene_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transporting_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("at_hospital_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("distance_m", sa.Double(), nullable=True),
        sa.Column("eta_seconds", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "state IN ('active', 'cleared', 'cancelled')", name=op.f("ck_h112_assignment_state")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["h112_incident.id"],
            name=op.f("fk_h112_assignment_incident_id_h112_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["h112_unit.id"],
            name=op.f("fk_h112_assignment_unit_id_h112_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_h112_assignment")),
    )
    op.create_index("ix_h112_assignment_incident", "h112_assignment", ["incident_id"], unique=False)
    op.create_index(
        "uq_h112_assignment_active_unit",
        "h112_assignment",
        ["unit_id"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_table(
        "h112_call_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_key", sa.String(length=160), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["h112_call.id"],
            name=op.f("fk_h112_call_event_call_id_h112_call"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_h112_call_event")),
        sa.UniqueConstraint("event_key", name=op.f("uq_h112_call_event_event_key")),
    )
    op.create_index(op.f("ix_h112_call_event_call_id"), "h112_call_event", ["call_id"], unique=False)
    op.create_table(
        "h112_location",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("accuracy_m", sa.Double(), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("location_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hmac_ok", sa.Boolean(), nullable=True),
        sa.Column("device", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "channel IN ('aml_https', 'aml_sms', 'calltaker')", name=op.f("ck_h112_location_channel")
        ),
        sa.CheckConstraint(
            "source IN ('gps', 'wifi', 'cell', 'caller', 'map', 'unknown')",
            name=op.f("ck_h112_location_source"),
        ),
        sa.CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name=op.f("ck_h112_location_coordinates")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["h112_call.id"],
            name=op.f("fk_h112_location_call_id_h112_call"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_h112_location")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_h112_location_fingerprint")),
    )
    op.create_index(op.f("ix_h112_location_call_id"), "h112_location", ["call_id"], unique=False)
    op.create_index(
        "ix_h112_location_waiting",
        "h112_location",
        ["caller_number", sa.literal_column("received_at DESC")],
        unique=False,
        postgresql_where=sa.text("call_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_h112_location_waiting", table_name="h112_location", postgresql_where=sa.text("call_id IS NULL")
    )
    op.drop_index(op.f("ix_h112_location_call_id"), table_name="h112_location")
    op.drop_table("h112_location")
    op.drop_index(op.f("ix_h112_call_event_call_id"), table_name="h112_call_event")
    op.drop_table("h112_call_event")
    op.drop_index(
        "uq_h112_assignment_active_unit",
        table_name="h112_assignment",
        postgresql_where=sa.text("state = 'active'"),
    )
    op.drop_index("ix_h112_assignment_incident", table_name="h112_assignment")
    op.drop_table("h112_assignment")
    op.drop_index(
        "ix_h112_unit_dispatchable",
        table_name="h112_unit",
        postgresql_where=sa.text("active AND status IN ('available', 'back_in_service')"),
    )
    op.drop_index(op.f("ix_h112_unit_agency_id"), table_name="h112_unit")
    op.drop_table("h112_unit")
    op.drop_index("ix_h112_timeline_incident", table_name="h112_timeline")
    op.drop_table("h112_timeline")
    op.drop_index("ix_h112_call_number", table_name="h112_call")
    op.drop_index("ix_h112_call_live", table_name="h112_call", postgresql_where=sa.text("ended_at IS NULL"))
    op.drop_index(op.f("ix_h112_call_incident_id"), table_name="h112_call")
    op.drop_table("h112_call")
    op.drop_index(
        "ix_h112_incident_open", table_name="h112_incident", postgresql_where=sa.text("state <> 'closed'")
    )
    op.drop_table("h112_incident")
    op.drop_table("h112_incident_type")
    op.drop_table("h112_unit_type")
    op.drop_index(op.f("ix_h112_rejected_received_at"), table_name="h112_rejected")
    op.drop_table("h112_rejected")
