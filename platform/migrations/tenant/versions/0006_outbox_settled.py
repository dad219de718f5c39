"""outbox reconciliation: an event is *settled* once every consumer's receipt is seen; until then
the sweep sends it again to the consumers without one (``resends`` counts those sends). Events sent
before this revision count as settled: their consumers of the time have had their chance, and
consumers added since must not hear of old events.

Revision ID: 0006_outbox_settled
Revises: 0005_notify
Create Date: 2026-12-01 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_outbox_settled"
down_revision: str | Sequence[str] | None = "0005_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox_event", sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "outbox_event", sa.Column("resends", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.execute("UPDATE outbox_event SET settled_at = sent_at WHERE sent_at IS NOT NULL")
    op.create_index(
        "ix_outbox_event_unsettled",
        "outbox_event",
        ["id"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NOT NULL AND settled_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_outbox_event_unsettled",
        table_name="outbox_event",
        postgresql_where=sa.text("sent_at IS NOT NULL AND settled_at IS NULL"),
    )
    op.drop_column("outbox_event", "resends")
    op.drop_column("outbox_event", "settled_at")
