"""liveroom: a 112 incident's units on its board item (call sign, type, status), as the incident's
last event listed them.

Revision ID: 0010_liveroom_units
Revises: 0009_admin
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_liveroom_units"
down_revision: str | Sequence[str] | None = "0009_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "liveroom_item",
        sa.Column(
            "units",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("liveroom_item", "units")
