"""admin: the city's branding (display name, colours, logo), kept by the city admin.

Revision ID: 0009_admin
Revises: 0008_hotline112
Create Date: 2026-12-01 13:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_admin"
down_revision: str | Sequence[str] | None = "0008_hotline112"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "city_branding",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("primary_colour", sa.String(length=7), nullable=False),
        sa.Column("accent_colour", sa.String(length=7), nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=16), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_city_branding_one_row")),
        sa.CheckConstraint("primary_colour ~ '^#[0-9a-f]{6}$'", name=op.f("ck_city_branding_primary_colour")),
        sa.CheckConstraint("accent_colour ~ '^#[0-9a-f]{6}$'", name=op.f("ck_city_branding_accent_colour")),
        sa.CheckConstraint(
            "logo_type IS NULL OR logo_type IN ('image/png', 'image/jpeg', 'image/webp')",
            name=op.f("ck_city_branding_logo_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_city_branding")),
    )


def downgrade() -> None:
    op.drop_table("city_branding")
