"""Demo data of the Live Room for the demo cities `make run` seeds (ModuleSpec.demo): the room's
people. Two operators and a supervisor per city, each an employee of the city's Simpeg simulator
(so they sign in through its OpenID provider like every demo employee) with a home agency, given
the Live Room roles. Idempotent: an employee or a role already there is left as it is.

The hook runs before `make run` first syncs the city's staff from Simpeg, so it writes the
employee rows itself, by NIP, the way the sync would; the sync then keeps them current.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kotalive.auth.access import grant_role
from kotalive.auth.models import Employee
from kotalive.db import TenantSession
from kotalive.tenants.city_models import Agency

# Simpeg simulator usernames (the OpenID login hint) -> Live Room role, per demo city.
ROOM: dict[str, tuple[tuple[str, str], ...]] = {
    "tangerang": (
        ("rina.apriliani", "liveroom_operator"),
        ("fikri.maulana", "liveroom_operator"),
        ("wahyu.hidayat", "liveroom_supervisor"),
    ),
    "bekasi": (
        ("putri.wulandari", "liveroom_operator"),
        ("bagus.prakoso", "liveroom_operator"),
        ("heru.prasetyo", "liveroom_supervisor"),
    ),
}
LABELS = {"liveroom_operator": "operator", "liveroom_supervisor": "supervisor"}


def _simulated_staff(slug: str) -> dict[str, Any]:
    """The demo city's Simpeg records by username (development tooling from the checkout)."""
    from kotalive.integrations.simulators import load

    city = load().demo_cities()[slug]
    return {e.username: e for e in city.employees}


async def seed_demo(session: TenantSession, slug: str) -> list[str]:
    if slug not in ROOM:
        return []
    try:
        staff = _simulated_staff(slug)
    except Exception as exc:  # an installed wheel has no simulators: no demo people then
        return [f"no demo operators ({type(exc).__name__}: {exc})"]
    agencies = {a.code: a for a in await session.scalars(select(Agency))}
    said: list[str] = []
    for username, role in ROOM[slug]:
        record = staff.get(username)
        if record is None:
            continue
        employee = await session.scalar(select(Employee).where(Employee.nip == record.nip))
        agency = agencies.get(record.unit_kode)
        if employee is None:
            employee = Employee(
                nip=record.nip,
                name=record.nama,
                agency_id=agency.id if agency else None,
                unit_code=record.unit_kode,
                unit_name=record.unit_nama,
                position=record.jabatan,
                email=record.email,
                phone=record.telepon,
                simpeg_status=record.status,
                active=record.status == "aktif",
            )
            session.add(employee)
            await session.flush()
        await grant_role(
            session,
            None,
            subject_kind="employee",
            subject_id=employee.id,
            role=role,
            source="demo",
            granted_by="make run",
        )
        home = agency.abbreviation if agency else "-"
        said.append(
            f"Live Room {LABELS[role]:<10} /staff/login?login_hint={username}  ({record.nama}, {home})"
        )
    await session.commit()
    return said
