"""Role grants and the audit log: the city admin's identity tools (services; routes beside)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from kotalive.auth import audit
from kotalive.auth.models import SUBJECT_KINDS, AuditEntry, Citizen, Employee, RoleGrant
from kotalive.auth.roles import AGENCY_SCOPED_ROLES, CITY_ROLES
from kotalive.auth.sessions import SessionStore
from kotalive.db import TenantSession
from kotalive.tenants.city_models import Agency


class AccessInputError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class GrantNotFound(LookupError):
    pass


def roles_and_scope(
    grants: Sequence[tuple[str, int | None]], own_agency_id: int | None = None
) -> tuple[frozenset[str], frozenset[int]]:
    """Roles from (role, agency_id) grants, and the agencies the agency-scoped ones cover; an
    agency role granted without an agency means the person's own agency."""
    agencies = {a for r, a in grants if a is not None and r in AGENCY_SCOPED_ROLES}
    if own_agency_id is not None and any(r in AGENCY_SCOPED_ROLES and a is None for r, a in grants):
        agencies.add(own_agency_id)
    return frozenset(r for r, _ in grants), frozenset(agencies)


async def roles_of(
    session: TenantSession, kind: str, subject_id: int, *, own_agency_id: int | None = None
) -> tuple[frozenset[str], frozenset[int]]:
    """A person's roles and the agencies their agency-scoped roles cover (one query)."""
    rows = (
        await session.execute(
            select(RoleGrant.role, RoleGrant.agency_id).where(
                RoleGrant.subject_kind == kind, RoleGrant.subject_id == subject_id
            )
        )
    ).all()
    return roles_and_scope([(r.role, r.agency_id) for r in rows], own_agency_id)


async def grant_role(
    session: TenantSession,
    sessions: SessionStore | None,
    *,
    subject_kind: str,
    subject_id: int,
    role: str,
    agency_id: int | None = None,
    source: str = "admin",
    granted_by: str | None = None,
    ip: str | None = None,
) -> RoleGrant:
    if subject_kind not in SUBJECT_KINDS:
        raise AccessInputError("subject_kind", f"must be one of {', '.join(SUBJECT_KINDS)}")
    if role not in CITY_ROLES:
        raise AccessInputError("role", f"unknown role {role!r}; roles: {', '.join(CITY_ROLES)}")
    model = Citizen if subject_kind == "citizen" else Employee
    if await session.get(model, subject_id) is None:
        raise AccessInputError("subject_id", f"no {subject_kind} {subject_id} in this city")
    if agency_id is not None and await session.get(Agency, agency_id) is None:
        raise AccessInputError("agency_id", f"no agency {agency_id} in this city")
    if agency_id is not None and role not in AGENCY_SCOPED_ROLES:
        raise AccessInputError("agency_id", f"{role} covers the whole city; give no agency")
    stmt = (
        insert(RoleGrant)
        .values(
            subject_kind=subject_kind,
            subject_id=subject_id,
            role=role,
            agency_id=agency_id,
            source=source,
            granted_by=granted_by,
        )
        .on_conflict_do_nothing()
        .returning(RoleGrant.id)
    )
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    if new_id is None:  # already held: idempotent
        existing = await session.scalar(
            select(RoleGrant).where(
                RoleGrant.subject_kind == subject_kind,
                RoleGrant.subject_id == subject_id,
                RoleGrant.role == role,
                RoleGrant.agency_id.is_(None) if agency_id is None else RoleGrant.agency_id == agency_id,
            )
        )
        assert existing is not None
        return existing
    audit.record(
        session,
        "role.granted",
        target_kind=subject_kind,
        target_id=subject_id,
        detail={"role": role, "agency_id": agency_id, "source": source},
        ip=ip,
        system=source != "admin",
        actor_label=granted_by,
    )
    grant = await session.get(RoleGrant, new_id)
    assert grant is not None
    # Sessions carry roles: end them so the next request logs in with the new ones.
    if sessions is not None:
        await sessions.revoke_subject(session.tenant.id, subject_kind, subject_id)
    return grant


async def revoke_grant(
    session: TenantSession, sessions: SessionStore | None, grant_id: int, *, ip: str | None = None
) -> None:
    grant = await session.get(RoleGrant, grant_id)
    if grant is None:
        raise GrantNotFound(f"no role grant {grant_id} in this city")
    await session.execute(delete(RoleGrant).where(RoleGrant.id == grant_id))
    audit.record(
        session,
        "role.revoked",
        target_kind=grant.subject_kind,
        target_id=grant.subject_id,
        detail={"role": grant.role, "agency_id": grant.agency_id},
        ip=ip,
    )
    if sessions is not None:
        await sessions.revoke_subject(session.tenant.id, grant.subject_kind, grant.subject_id)


async def list_grants(
    session: TenantSession, subject_kind: str | None = None, subject_id: int | None = None
) -> Sequence[RoleGrant]:
    q = select(RoleGrant).order_by(RoleGrant.id)
    if subject_kind:
        q = q.where(RoleGrant.subject_kind == subject_kind)
    if subject_id is not None:
        q = q.where(RoleGrant.subject_id == subject_id)
    return (await session.scalars(q)).all()


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None  # exact, or a prefix ending in '.' ("login." = every login event)
    actor_kind: str | None = None
    actor_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    before_id: int | None = None  # keyset paging: newest first


def _audit_query(f: AuditFilter):
    conds = []
    if f.action:
        conds.append(
            AuditEntry.action.startswith(f.action)
            if f.action.endswith(".")
            else AuditEntry.action == f.action
        )
    if f.actor_kind:
        conds.append(AuditEntry.actor_kind == f.actor_kind)
    if f.actor_id is not None:
        conds.append(AuditEntry.actor_id == f.actor_id)
    if f.since:
        conds.append(AuditEntry.at >= f.since)
    if f.until:
        conds.append(AuditEntry.at < f.until)
    if f.before_id is not None:
        conds.append(AuditEntry.id < f.before_id)
    return select(AuditEntry).where(*conds).order_by(AuditEntry.id.desc())


async def audit_page(session: TenantSession, f: AuditFilter, limit: int = 50) -> list[AuditEntry]:
    return list(await session.scalars(_audit_query(f).limit(limit)))


async def audit_stream(
    session: TenantSession, f: AuditFilter, batch: int = 1000
) -> AsyncIterator[AuditEntry]:
    """Every matching row, newest first, in keyset batches (exports stay flat in memory)."""
    before = f.before_id
    while True:
        rows = list(
            await session.scalars(
                _audit_query(AuditFilter(f.action, f.actor_kind, f.actor_id, f.since, f.until, before)).limit(
                    batch
                )
            )
        )
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        before = rows[-1].id
