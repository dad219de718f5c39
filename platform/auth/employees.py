"""A city's employees: who Simpeg says works here, and who may log in as one.

The Simpeg sync (``sync_city``; the job ``core.employees.sync``, scheduled for every active city and
run on demand by ``POST /api/v1/employees/sync``) reads the whole register first and only then
writes, in one transaction: a register that fails half-way changes nothing. It creates and updates
employees by NIP, maps each Simpeg unit to the agency with the same code (or through the city's
``unit_map``), gives every current employee the default role ``employee`` scoped to their agency,
and deactivates leavers: status other than ``aktif``, or gone from the register (someone it listed
before; an employee the platform made itself, like an invited first city admin, stays). A leaver loses
every role grant and, once the transaction has committed, every login session.

The login (``employee_for_login``) accepts an OpenID identity only when it is a current employee of
this city: matched on the NIP claim, else on the subject bound at an earlier login, else on the
e-mail address. A NIP the local table does not know yet is looked up in Simpeg at once, so a new
employee need not wait for the next sync.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update

from kotalive.auth import audit
from kotalive.auth.access import roles_and_scope, roles_of
from kotalive.auth.models import Employee, RoleGrant
from kotalive.auth.principal import Principal
from kotalive.db import TenantSession
from kotalive.integrations.simpeg import StaffRecord, StaffRegistry
from kotalive.jobs import tenant_actor
from kotalive.tenants.city_models import Agency

log = logging.getLogger(__name__)

DEFAULT_ROLE = "employee"
DEFAULT_SOURCE = "default"
SYNC_ACTOR = "core.employees.sync"
SYNC_EVERY_SECONDS = 3600
# simpeg_status of someone the register no longer lists at all.
MISSING_STATUS = "tidak_terdaftar"
NIP_RE = re.compile(r"^\d{18}$")


class SyncRefused(RuntimeError):
    """The register's answer looks wrong (e.g. empty while the city has employees): nothing changed."""


class NotAnEmployee(Exception):
    """The identity is not a current employee of this city; ``reason`` picks the page's text."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason  # unknown | left | registry_unavailable
        self.detail = detail


@dataclass
class SyncReport:
    seen: int = 0
    created: int = 0
    updated: int = 0
    reactivated: int = 0
    deactivated: list[int] = field(default_factory=list)  # employee ids whose sessions must end
    unmapped_units: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "created": self.created,
            "updated": self.updated,
            "reactivated": self.reactivated,
            "deactivated": len(self.deactivated),
            "unmapped_units": sorted(self.unmapped_units),
        }


# ---- mapping --------------------------------------------------------------------------------------


async def agency_codes(session: TenantSession, unit_map: Mapping[str, str] | None = None) -> dict[str, int]:
    """Simpeg unit code -> agency id: the agency catalogue's own codes, then the city's explicit map."""
    rows = (await session.execute(select(Agency.code, Agency.id))).all()
    by_code = {code.lower(): agency_id for code, agency_id in rows}
    mapping = dict(by_code)
    for unit, code in (unit_map or {}).items():
        agency_id = by_code.get(str(code).lower())
        if agency_id is not None:
            mapping[str(unit).lower()] = agency_id
    return mapping


def _apply(employee: Employee, record: StaffRecord, agency_id: int | None, now: dt.datetime) -> bool:
    """Copy the record onto the row; True when something changed."""
    values = {
        "name": record.name,
        "agency_id": agency_id,
        "unit_code": record.unit_code,
        "unit_name": record.unit_name,
        "position": record.position or None,
        "email": record.email.lower() or None,
        "phone": record.phone or None,
        "simpeg_status": record.status,
    }
    changed = False
    for key, value in values.items():
        if getattr(employee, key) != value:
            setattr(employee, key, value)
            changed = True
    employee.synced_at = now
    return changed


# ---- the sync --------------------------------------------------------------------------------------


async def sync_from_registry(
    session: TenantSession,
    registry: StaffRegistry,
    *,
    unit_map: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> SyncReport:
    """Bring the city's employees in line with the register (in the caller's transaction)."""
    now = now or dt.datetime.now(dt.UTC)
    records = [record async for record in registry.iter_employees()]  # all of it, or an exception
    existing = {e.nip: e for e in await session.scalars(select(Employee))}
    if not records and any(e.active for e in existing.values()):
        raise SyncRefused("Simpeg answered an empty register; refusing to deactivate every employee")
    units = await agency_codes(session, unit_map)
    report = SyncReport(seen=len(records))
    seen: set[str] = set()
    for record in records:
        if record.nip in seen:
            continue
        seen.add(record.nip)
        agency_id = units.get(record.unit_code.lower())
        if agency_id is None:
            report.unmapped_units.add(record.unit_code)
        employee = existing.get(record.nip)
        if employee is None:
            employee = Employee(nip=record.nip, active=record.active, left_at=None if record.active else now)
            _apply(employee, record, agency_id, now)
            session.add(employee)
            existing[record.nip] = employee
            report.created += 1
            continue
        changed = _apply(employee, record, agency_id, now)
        if employee.active and not record.active:
            employee.active, employee.left_at = False, now
            report.deactivated.append(employee.id)
        elif not employee.active and record.active:
            employee.active, employee.left_at = True, None
            report.reactivated += 1
        elif changed:
            report.updated += 1
    for nip, employee in existing.items():
        # Gone from the register: only someone the register listed before. An employee the
        # platform made itself (the first city admin, invited from the console before the city's
        # Simpeg knows them) is not Simpeg's to switch off; a city admin revokes them.
        if nip not in seen and employee.active and employee.synced_at is not None:
            employee.active, employee.left_at, employee.simpeg_status = False, now, MISSING_STATUS
            employee.synced_at = now
            report.deactivated.append(employee.id)
    await session.flush()
    await _settle_grants(session, list(existing.values()), report)
    audit.record(session, "employees.synced", target_kind="simpeg", detail=report.summary(), system=True)
    return report


async def _settle_grants(session: TenantSession, employees: list[Employee], report: SyncReport) -> None:
    """Every current employee holds ``employee`` for their own agency; leavers hold nothing."""
    grants: dict[int, list[RoleGrant]] = {}
    for grant in await session.scalars(select(RoleGrant).where(RoleGrant.subject_kind == "employee")):
        grants.setdefault(grant.subject_id, []).append(grant)
    left = set(report.deactivated)
    for employee in employees:
        held = grants.get(employee.id, [])
        if not employee.active:
            if held:
                await session.execute(
                    delete(RoleGrant).where(
                        RoleGrant.subject_kind == "employee", RoleGrant.subject_id == employee.id
                    )
                )
                if employee.id in left:
                    audit.record(
                        session,
                        "role.revoked",
                        target_kind="employee",
                        target_id=employee.id,
                        detail={"roles": sorted({g.role for g in held}), "reason": "left (Simpeg)"},
                        system=True,
                    )
            continue
        defaults = [g for g in held if g.role == DEFAULT_ROLE and g.source == DEFAULT_SOURCE]
        stale = [g.id for g in defaults if g.agency_id != employee.agency_id]
        if stale:
            await session.execute(delete(RoleGrant).where(RoleGrant.id.in_(stale)))
        if not any(
            g.role == DEFAULT_ROLE and g.agency_id == employee.agency_id for g in held if g.id not in stale
        ):
            session.add(
                RoleGrant(
                    subject_kind="employee",
                    subject_id=employee.id,
                    role=DEFAULT_ROLE,
                    agency_id=employee.agency_id,
                    source=DEFAULT_SOURCE,
                    granted_by="simpeg",
                )
            )
    await session.flush()


def simpeg_client(merged: Mapping[str, Any]) -> tuple[Any, dict[str, str]]:
    """A Simpeg client from the city's ``simpeg`` integration, and its optional ``unit_map``."""
    from kotalive.integrations.simpeg import SimpegClient, SimpegConfig

    data = dict(merged)
    unit_map = data.pop("unit_map", None) or {}
    if not isinstance(unit_map, dict):
        unit_map = {}
    return SimpegClient(SimpegConfig.from_dict(data)), {str(k): str(v) for k, v in unit_map.items()}


async def sync_city(settings: Any, tenant: Any = None, *, redis: Any = None) -> SyncReport | None:
    """One city's sync, committed, then the leavers' sessions ended; None when Simpeg is not connected.

    ``tenant`` defaults to the city in context; ``redis`` (async) to a connection of its own."""
    from kotalive.auth.crypto import Vault
    from kotalive.auth.sessions import SessionStore
    from kotalive.context import current_tenant
    from kotalive.db import tenant_session
    from kotalive.tenants.integrations import get_integration

    tenant = tenant or current_tenant()
    async with tenant_session(tenant) as session:
        row = await get_integration(session, Vault.from_settings(settings), "simpeg", required=False)
        if row is None:
            log.info("%s: no Simpeg connected; nothing to sync", tenant.slug)
            return None
        client, unit_map = simpeg_client(row.merged())
        async with client:
            report = await sync_from_registry(session, client, unit_map=unit_map)
        await session.commit()
    if report.deactivated:
        own = redis is None
        if own:
            import redis.asyncio as aioredis

            redis = aioredis.from_url(settings.redis_url)
        try:
            store = SessionStore(redis, settings.session_max_age)
            for employee_id in report.deactivated:
                await store.revoke_subject(tenant.id, "employee", employee_id)
        finally:
            if own:
                await redis.aclose()
    log.info("%s: Simpeg sync %s", tenant.slug, report.summary())
    return report


@tenant_actor(actor_name=SYNC_ACTOR, max_retries=3, time_limit=15 * 60_000)
async def sync_employees_job() -> None:
    """The Simpeg sync of the city in context (the worker opens it from the message)."""
    from kotalive.db import get_database

    await sync_city(get_database().settings)


# ---- the login and the bearer tokens ----------------------------------------------------------------

StaffLookup = Callable[[str], Awaitable[StaffRecord | None]]


def _claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _email(claims: Mapping[str, Any]) -> str | None:
    email = _claim(claims, "email")
    # An address the provider says it has not verified identifies no one.
    if email is None or claims.get("email_verified") is False or len(email) > 254 or "@" not in email:
        return None
    return email.lower()


async def find_employee(session: TenantSession, claims: Mapping[str, Any], nip_claim: str) -> Employee | None:
    """The employee row an identity names (active or not): NIP, else bound subject, else e-mail."""
    nip = _claim(claims, nip_claim)
    if nip is not None and NIP_RE.fullmatch(nip):
        found = await session.scalar(select(Employee).where(Employee.nip == nip))
        if found is not None:
            return found
    subject = _claim(claims, "sub")
    if subject is not None:
        found = await session.scalar(select(Employee).where(Employee.oidc_subject == subject))
        if found is not None:
            return found
    email = _email(claims)
    if email is not None:
        rows = list(
            await session.scalars(
                select(Employee).where(func.lower(Employee.email) == email).order_by(Employee.active.desc())
            )
        )
        if len(rows) == 1 or (rows and rows[0].active and not rows[1].active):
            return rows[0]
    return None


async def employee_for_login(
    session: TenantSession,
    claims: Mapping[str, Any],
    *,
    nip_claim: str = "nip",
    lookup: StaffLookup | None = None,
) -> Employee:
    """The current employee behind a verified OpenID identity, bound to its subject; else
    ``NotAnEmployee``. The caller commits."""
    employee = await find_employee(session, claims, nip_claim)
    nip = _claim(claims, nip_claim)
    if employee is None and lookup is not None and nip is not None and NIP_RE.fullmatch(nip):
        record = await lookup(nip)
        if record is not None and record.active:
            employee = await _admit(session, record)
    if employee is None:
        raise NotAnEmployee("unknown", "no current Simpeg employee of this city has this identity")
    if not employee.active:
        raise NotAnEmployee("left", f"Simpeg status {employee.simpeg_status}")
    subject = _claim(claims, "sub")
    if subject is not None and employee.oidc_subject != subject:
        # The city's provider is the authority on who this subject is: move the binding here.
        await session.execute(
            update(Employee)
            .where(Employee.oidc_subject == subject, Employee.id != employee.id)
            .values(oidc_subject=None)
        )
        employee.oidc_subject = subject
    employee.last_login_at = dt.datetime.now(dt.UTC)
    await _ensure_default_grant(session, employee)
    await session.flush()
    return employee


async def _admit(session: TenantSession, record: StaffRecord) -> Employee:
    """A current employee Simpeg knows but the last sync did not (joined since)."""
    units = await agency_codes(session)
    employee = Employee(nip=record.nip, active=True)
    _apply(employee, record, units.get(record.unit_code.lower()), dt.datetime.now(dt.UTC))
    session.add(employee)
    await session.flush()
    audit.record(
        session,
        "employee.admitted",
        target_kind="employee",
        target_id=employee.id,
        detail={"nip": record.nip},
        system=True,
    )
    return employee


async def _ensure_default_grant(session: TenantSession, employee: Employee) -> None:
    held = await session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.subject_kind == "employee",
            RoleGrant.subject_id == employee.id,
            RoleGrant.role == DEFAULT_ROLE,
            RoleGrant.agency_id.is_(None)
            if employee.agency_id is None
            else RoleGrant.agency_id == employee.agency_id,
        )
    )
    if held is None:
        session.add(
            RoleGrant(
                subject_kind="employee",
                subject_id=employee.id,
                role=DEFAULT_ROLE,
                agency_id=employee.agency_id,
                source=DEFAULT_SOURCE,
                granted_by="login",
            )
        )


async def employee_principal(
    session: TenantSession, employee: Employee, *, via: str = "session"
) -> Principal:
    """Who the employee is for the guards: their roles, and the agencies their agency roles cover."""
    roles, agencies = await roles_of(session, "employee", employee.id, own_agency_id=employee.agency_id)
    return Principal(
        kind="employee",
        id=employee.id,
        tenant_id=session.tenant.id,
        name=employee.name,
        roles=roles,
        agency_ids=agencies,
        via=via,
    )


# Every bearer request looks its employee up: one round trip for the person and their grants.
BEARER_BY_NIP_SQL = """
SELECT e.id, e.name, e.agency_id, e.active,
       array_agg(g.role ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL) AS roles,
       array_agg(g.agency_id ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL) AS grant_agencies
FROM {city}.employee e
LEFT JOIN {city}.role_grant g ON g.subject_kind = 'employee' AND g.subject_id = e.id
WHERE e.nip = $1
GROUP BY e.id
"""


async def bearer_principal(
    db: Any, tenant: Any, claims: Mapping[str, Any], nip_claim: str
) -> tuple[bool, Principal | None]:
    """The employee an access token's NIP claim names, in one query (the hot path of the mobile
    app's API calls): (matched, principal). Not matched (no NIP claim, or a NIP nobody here has):
    the caller tries the subject and e-mail, as ``find_employee`` does. Matched but no longer an
    employee: (True, None)."""
    nip = _claim(claims, nip_claim)
    if nip is None or not NIP_RE.fullmatch(nip):
        return False, None
    rows = await db.city_fetch(tenant, BEARER_BY_NIP_SQL, nip)
    if not rows:
        return False, None
    row = rows[0]
    if not row["active"]:
        return True, None
    roles, agencies = roles_and_scope(
        list(zip(row["roles"] or [], row["grant_agencies"] or [], strict=True)), row["agency_id"]
    )
    return True, Principal(
        kind="employee",
        id=row["id"],
        tenant_id=tenant.id,
        name=row["name"],
        roles=roles,
        agency_ids=agencies,
        via="bearer",
    )


async def principal_for_token(
    session: TenantSession, claims: Mapping[str, Any], nip_claim: str
) -> Principal | None:
    """The current employee an access token's claims name, as a bearer principal; None if none."""
    employee = await find_employee(session, claims, nip_claim)
    if employee is None or not employee.active:
        return None
    return await employee_principal(session, employee, via="bearer")


def simpeg_lookup(client: Any) -> StaffLookup:
    """``lookup`` for ``employee_for_login`` from a Simpeg client: None when the NIP is unknown;
    a failing Simpeg raises ``NotAnEmployee("registry_unavailable")``."""
    from kotalive.integrations.http import IntegrationError, NotFound

    async def lookup(nip: str) -> StaffRecord | None:
        try:
            record: StaffRecord = await client.get(nip)
            return record
        except NotFound:
            return None
        except IntegrationError as exc:
            raise NotAnEmployee("registry_unavailable", str(exc)) from exc

    return lookup
