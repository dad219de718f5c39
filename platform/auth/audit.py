"""The audit log: append-only rows in the city's schema (and the platform's for platform staff)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kotalive.auth.models import AuditEntry, PlatformAuditEntry
from kotalive.auth.principal import Principal, current_principal
from kotalive.db import TenantSession


def _actor(principal: Principal | None, fallback_label: str | None) -> dict[str, Any]:
    if principal is None:
        return {"actor_kind": "anonymous", "actor_id": None, "actor_label": fallback_label}
    return {"actor_kind": principal.kind, "actor_id": principal.id, "actor_label": principal.name}


def record(
    session: TenantSession,
    action: str,
    *,
    target_kind: str | None = None,
    target_id: object = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    actor: Principal | None = None,
    actor_label: str | None = None,
    system: bool = False,
) -> AuditEntry:
    """Add an audit row to the caller's transaction (committed with the change it describes)."""
    who = (
        {"actor_kind": "system", "actor_id": None, "actor_label": actor_label or "system"}
        if system
        else _actor(actor or current_principal(), actor_label)
    )
    entry = AuditEntry(
        action=action,
        target_kind=target_kind,
        target_id=None if target_id is None else str(target_id),
        detail=detail or {},
        ip=ip,
        **who,
    )
    session.add(entry)
    return entry


def record_platform(
    session: AsyncSession,
    action: str,
    *,
    tenant_id: int | None = None,
    target_kind: str | None = None,
    target_id: object = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    actor: Principal | None = None,
    actor_label: str | None = None,
) -> PlatformAuditEntry:
    entry = PlatformAuditEntry(
        action=action,
        tenant_id=tenant_id,
        target_kind=target_kind,
        target_id=None if target_id is None else str(target_id),
        detail=detail or {},
        ip=ip,
        **_actor(actor or current_principal(), actor_label),
    )
    session.add(entry)
    return entry
