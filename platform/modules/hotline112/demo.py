"""Demo data of 112 for the demo cities `make run` seeds (ModuleSpec.demo).

- The telephony integration, pointing at the telephony simulator, with the demo webhook secret and
  AML key (``kotalive_simulators.telephony.demo_webhook_secret`` / ``demo_aml_key``), so
  ``kotalive-simulators telephony play --demo <city>`` rings calls into the city. A city that
  connected a telephony system of its own keeps it.
- Units at stations inside the city (fire engines, ambulances, police patrols, a hearse, Dishub
  patrols), with crews, base positions and terminal tokens, from
  ``kotalive_simulators.units.DEMO_UNITS``. The demo tokens are derivable from the city and call
  sign (``demo_terminal_token``: development only) so ``kotalive-simulators units drive --demo
  <city>`` drives them; only their hashes are stored, as for every terminal token.
- A call-taker and a dispatcher per city: employees of the city's Simpeg simulator, given the
  ``calltaker`` / ``dispatcher`` roles, who sign in through its OpenID provider.

Idempotent: what is already there (a unit, a role, an integration) is left as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kotalive.auth.access import grant_role
from kotalive.auth.crypto import Vault
from kotalive.auth.models import Employee
from kotalive.db import TenantSession, get_database
from kotalive.modules.hotline112.models import Unit
from kotalive.modules.hotline112.units import UnitService, hash_token
from kotalive.tenants.city_models import Agency
from kotalive.tenants.integrations import get_integration, set_integration

# Simpeg simulator usernames (the OpenID login hint) -> 112 role, per demo city.
STAFF: dict[str, tuple[tuple[str, str], ...]] = {
    "tangerang": (("ratih.kumalasari", "calltaker"), ("yoga.pratama", "dispatcher")),
    "bekasi": (("melati.kusumawardani", "calltaker"), ("rizal.fahmi", "dispatcher")),
}
LABELS = {"calltaker": "112 call-taker", "dispatcher": "112 dispatcher"}
PAGES = {"calltaker": "/112", "dispatcher": "/112/dispatch"}


def _simulators() -> Any:
    """The simulators' package (development tooling from the checkout)."""
    import importlib

    from kotalive.integrations.simulators import load

    sims = load()
    importlib.import_module("kotalive_simulators.telephony")
    importlib.import_module("kotalive_simulators.units")
    return sims


async def _telephony(session: TenantSession, sims: Any, slug: str) -> list[str]:
    vault = Vault.from_settings(get_database().settings)
    existing = await get_integration(session, vault, "telephony", required=False)
    if existing is not None and not existing.config.get("demo"):
        return ["telephony: the city's own integration kept"]
    await set_integration(
        session,
        vault,
        "telephony",
        config={"provider": "kotalive-simulators", "demo": True},
        secrets={
            "webhook_secret": sims.telephony.demo_webhook_secret(slug),
            "aml_hmac_key": sims.telephony.demo_aml_key(slug),
        },
    )
    return [] if existing is not None else ["telephony: demo integration (webhook secret and AML key)"]


async def _units(session: TenantSession, sims: Any, slug: str) -> list[str]:
    agencies = dict((await session.execute(select(Agency.code, Agency.id))).tuples().all())
    have = set(await session.scalars(select(Unit.call_sign)))
    service = UnitService(session)
    added = 0
    for demo in sims.units.DEMO_UNITS.get(slug, ()):
        if demo.call_sign in have or demo.agency not in agencies:
            continue
        lat, lon = demo.base
        unit = await service.create(
            {
                "call_sign": demo.call_sign,
                "type": demo.type,
                "agency_id": agencies[demo.agency],
                "name": demo.name,
                "crew": demo.crew_json(),
                "base_lat": lat,
                "base_lon": lon,
                "lat": lat,
                "lon": lon,
            }
        )
        unit.terminal_token_hash = hash_token(sims.units.demo_terminal_token(slug, demo.call_sign))
        added += 1
    await session.flush()
    if not added:
        return []
    return [f"{added} demo units (kotalive-simulators units drive --demo {slug})"]


async def _staff(session: TenantSession, sims: Any, slug: str) -> list[str]:
    records = {e.username: e for e in sims.demo_cities()[slug].employees}
    agencies = {a.code: a for a in await session.scalars(select(Agency))}
    said = []
    for username, role in STAFF.get(slug, ()):
        record = records.get(username)
        if record is None:
            continue
        employee = await session.scalar(select(Employee).where(Employee.nip == record.nip))
        agency = agencies.get(record.unit_kode)
        if employee is None:
            # The hook runs before `make run` first syncs the staff from Simpeg: the row the sync
            # would write, by NIP; the sync keeps it current.
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
        said.append(f"{LABELS[role]} {PAGES[role]}: /staff/login?login_hint={username} ({record.nama})")
    return said


async def seed_demo(session: TenantSession, slug: str) -> list[str]:
    try:
        sims = _simulators()
    except Exception as exc:  # an installed wheel has no simulators: no 112 demo then
        return [f"no 112 demo data ({type(exc).__name__}: {exc})"]
    if slug not in sims.units.DEMO_UNITS:
        return []
    said = await _telephony(session, sims, slug)
    said += await _units(session, sims, slug)
    said += await _staff(session, sims, slug)
    await session.commit()
    return said
