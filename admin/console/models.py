"""The console's own platform table: onboardings and rollouts, with their progress.

One row per piece of work the console started: an onboarding (the wizard's answers, step by step,
then provisioning and the first city admin's invitation) or a rollout (a migration of a wave).
The work itself runs in a platform job; the row is what the pages show while it runs, and what a
retry resumes from. Created by the platform migration ``0003_console``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kotalive.db import PlatformBase

TASK_KINDS = ("onboarding", "rollout")
TASK_STATUSES = ("draft", "queued", "running", "failed", "done")


class ConsoleTask(PlatformBase):
    __tablename__ = "console_task"
    __table_args__ = (
        CheckConstraint(f"kind IN {TASK_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {TASK_STATUSES!r}", name="status"),
        Index("ix_console_task_kind_status", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    step: Mapped[int] = mapped_column(SmallInteger, default=1)  # the wizard's furthest step
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    progress: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("platform.tenant.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
