"""laksa inbox indexes: one agency's open complaints by due time and by priority, and the open
complaints copied to agencies (the inbox reads held and copied complaints as two index scans).

Revision ID: 0004_laksa_inbox
Revises: 0003_laksa
Create Date: 2026-12-01 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_laksa_inbox"
down_revision: str | Sequence[str] | None = "0003_laksa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_laksa_complaint_agency_due",
        "laksa_complaint",
        ["agency_id", "due_at", "id"],
        unique=False,
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened')"
        ),
    )
    op.create_index(
        "ix_laksa_complaint_agency_priority",
        "laksa_complaint",
        ["agency_id", "priority_rank", sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened')"
        ),
    )
    op.create_index(
        "ix_laksa_complaint_copies_open",
        "laksa_complaint",
        ["copied_agency_ids"],
        unique=False,
        postgresql_using="gin",
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened')"
        ),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_laksa_complaint_copies_open",
        table_name="laksa_complaint",
        postgresql_using="gin",
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened')"
        ),
    )
    op.drop_index(
        "ix_laksa_complaint_agency_priority",
        table_name="laksa_complaint",
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened')"
        ),
    )
    op.drop_index(
        "ix_laksa_complaint_agency_due",
        table_name="laksa_complaint",
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened')"
        ),
    )
