"""people roles audit integrations

Revision ID: 0002_people
Revises: 0001_city_core
Create Date: 2026-11-28 21:07:38.753589
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_people"
down_revision: str | Sequence[str] | None = "0001_city_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_label", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.Text(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    op.create_index("ix_audit_entry_action_at", "audit_entry", ["action", "at"], unique=False)
    op.create_index(op.f("ix_audit_entry_at"), "audit_entry", ["at"], unique=False)
    op.create_table(
        "citizen",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("nik_hash", sa.String(length=64), nullable=True),
        sa.Column("nik_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("phone_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("kecamatan", sa.Text(), nullable=True),
        sa.Column("kelurahan", sa.Text(), nullable=True),
        sa.Column("region_code", sa.String(length=4), nullable=True),
        sa.Column("resident", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deletion_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("sex IN ('L', 'P')", name=op.f("ck_citizen_sex")),
        sa.CheckConstraint("status IN ('pending', 'active', 'deleted')", name=op.f("ck_citizen_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen")),
        sa.UniqueConstraint("nik_hash", name=op.f("uq_citizen_nik_hash")),
        sa.UniqueConstraint("phone", name=op.f("uq_citizen_phone")),
    )
    op.create_table(
        "integration_setting",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("secrets_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('siak', 'simpeg', 'sms', 'oidc', 'smtp', 'webhook', 'telephony')",
            name=op.f("ck_integration_setting_kind"),
        ),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_integration_setting")),
    )
    op.create_table(
        "employee",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("nip", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=True),
        sa.Column("unit_code", sa.String(length=64), nullable=True),
        sa.Column("unit_name", sa.Text(), nullable=True),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("simpeg_status", sa.String(length=32), nullable=True),
        sa.Column("oidc_subject", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_employee_agency_id_agency"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employee")),
        sa.UniqueConstraint("nip", name=op.f("uq_employee_nip")),
        sa.UniqueConstraint("oidc_subject", name=op.f("uq_employee_oidc_subject")),
    )
    op.create_index(op.f("ix_employee_agency_id"), "employee", ["agency_id"], unique=False)
    op.create_table(
        "role_grant",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("granted_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "role IN ('citizen', 'employee', 'agency_supervisor', 'liveroom_operator', 'liveroom_supervisor', 'calltaker', 'dispatcher', 'city_admin')",
            name=op.f("ck_role_grant_role"),
        ),
        sa.CheckConstraint(
            "subject_kind IN ('citizen', 'employee')", name=op.f("ck_role_grant_subject_kind")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_role_grant_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grant")),
        sa.UniqueConstraint(
            "subject_kind",
            "subject_id",
            "role",
            "agency_id",
            name=op.f("uq_role_grant_subject_kind_subject_id_role_agency_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index("ix_role_grant_subject", "role_grant", ["subject_kind", "subject_id"], unique=False)

    # The function lives in the platform schema (platform revision 0002_staff).
    op.execute(
        "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entry "
        "FOR EACH STATEMENT EXECUTE FUNCTION platform.kotalive_append_only()"
    )


def downgrade() -> None:
    op.drop_index("ix_role_grant_subject", table_name="role_grant")
    op.drop_table("role_grant")
    op.drop_index(op.f("ix_employee_agency_id"), table_name="employee")
    op.drop_table("employee")
    op.drop_table("integration_setting")
    op.drop_table("citizen")
    op.drop_index(op.f("ix_audit_entry_at"), table_name="audit_entry")
    op.drop_index("ix_audit_entry_action_at", table_name="audit_entry")
    op.drop_table("audit_entry")
