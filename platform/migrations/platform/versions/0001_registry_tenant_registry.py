"""tenant registry

Revision ID: 0001_registry
Revises:
Create Date: 2026-11-28 20:46:55.533712
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_registry"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registry_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_version")),
        schema="platform",
    )
    op.create_table(
        "tenant",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=4), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("centre_lat", sa.Float(), nullable=True),
        sa.Column("centre_lon", sa.Float(), nullable=True),
        sa.Column("boundary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mou_number", sa.Text(), nullable=True),
        sa.Column("mou_signed_on", sa.Date(), nullable=True),
        sa.Column("mou_expires_on", sa.Date(), nullable=True),
        sa.Column("wave", sa.String(length=63), nullable=True),
        sa.Column("provisioning_step", sa.String(length=32), nullable=True),
        sa.Column("schema_revision", sa.String(length=64), nullable=True),
        sa.Column("last_migration_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_migration_ok", sa.Boolean(), nullable=True),
        sa.Column("last_migration_error", sa.Text(), nullable=True),
        sa.Column("last_migration_ms", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('kota', 'kabupaten', 'provinsi')", name=op.f("ck_tenant_kind")),
        sa.CheckConstraint("region_code ~ '^[0-9]{2}([0-9]{2})?$'", name=op.f("ck_tenant_region_code")),
        sa.CheckConstraint("slug ~ '^[a-z][a-z0-9-]{1,62}$'", name=op.f("ck_tenant_slug")),
        sa.CheckConstraint(
            "status IN ('provisioning', 'active', 'suspended', 'archived')", name=op.f("ck_tenant_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenant_slug")),
        schema="platform",
    )
    op.create_table(
        "domain",
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("host = lower(host)", name=op.f("ck_domain_host_lower")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["platform.tenant.id"], name=op.f("fk_domain_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_domain")),
        schema="platform",
    )
    op.create_index(op.f("ix_domain_tenant_id"), "domain", ["tenant_id"], unique=False, schema="platform")
    op.create_index(
        "uq_domain_primary_per_tenant",
        "domain",
        ["tenant_id"],
        unique=True,
        schema="platform",
        postgresql_where=sa.text("is_primary"),
    )
    op.create_table(
        "migration_run",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("wave", sa.String(length=63), nullable=True),
        sa.Column("from_revision", sa.String(length=64), nullable=True),
        sa.Column("to_revision", sa.String(length=64), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenant.id"],
            name=op.f("fk_migration_run_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migration_run")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_migration_run_run_id"), "migration_run", ["run_id"], unique=False, schema="platform"
    )
    op.create_index(
        op.f("ix_migration_run_tenant_id"), "migration_run", ["tenant_id"], unique=False, schema="platform"
    )
    op.create_table(
        "tenant_module",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("module", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenant.id"],
            name=op.f("fk_tenant_module_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "module", name=op.f("pk_tenant_module")),
        schema="platform",
    )

    op.execute("INSERT INTO platform.registry_version (id, version) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("tenant_module", schema="platform")
    op.drop_index(op.f("ix_migration_run_tenant_id"), table_name="migration_run", schema="platform")
    op.drop_index(op.f("ix_migration_run_run_id"), table_name="migration_run", schema="platform")
    op.drop_table("migration_run", schema="platform")
    op.drop_index(
        "uq_domain_primary_per_tenant",
        table_name="domain",
        schema="platform",
        postgresql_where=sa.text("is_primary"),
    )
    op.drop_index(op.f("ix_domain_tenant_id"), table_name="domain", schema="platform")
    op.drop_table("domain", schema="platform")
    op.drop_table("tenant", schema="platform")
    op.drop_table("registry_version", schema="platform")
