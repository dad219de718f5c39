"""The Simpeg sync: employees created with their agency mapped, leavers deactivated with their roles
and sessions gone, the job running inside its own city only, on demand and on the schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from staff_support import Connected, connect_city, login
from support import settled, wait_until

from kotalive.auth.employees import (
    MISSING_STATUS,
    SYNC_ACTOR,
    SyncRefused,
    sync_city,
    sync_employees_job,
    sync_from_registry,
)
from kotalive.auth.models import AuditEntry, Employee, RoleGrant
from kotalive.auth.principal import Principal
from kotalive.auth.sessions import COOKIE_NAME
from kotalive.context import NoTenantContext
from kotalive.integrations.simpeg import StaffRecord
from kotalive.tenants.city_models import Agency


@pytest.fixture
async def city(app, database, settings, make_city, sims) -> Connected:
    return await connect_city(database, settings, sims, await make_city("sync"), "tangerang")


@pytest.fixture
async def restored_register(sims) -> AsyncIterator[Any]:
    """The shared Simpeg simulator, put back as it was after the test changed it."""
    yield sims.staff("tangerang")
    async with httpx.AsyncClient() as http:
        await http.post(f"{sims.base_url('simpeg', 'tangerang')}/_control/reset")


async def employees_of(database, city) -> dict[str, Employee]:
    async with database.tenant_session(city) as session:
        return {e.nip: e for e in await session.scalars(select(Employee))}


async def test_sync_creates_employees_with_their_agencies(
    app, database, settings, sims, city: Connected
) -> None:
    report = await sync_city(settings, city.city, redis=app.state.redis)
    assert report is not None and report.created == 16 and report.unmapped_units == set()
    staff = await employees_of(database, city.city)
    demo = sims.cities["tangerang"]
    async with database.tenant_session(city.city) as session:
        agencies = {a.code: a.id for a in await session.scalars(select(Agency))}
        grants = (await session.scalars(select(RoleGrant).where(RoleGrant.subject_kind == "employee"))).all()
        audit_rows = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "employees.synced"))
        ).all()
    for record in demo.employees:
        row = staff[record.nip]
        assert row.name == record.nama and row.agency_id == agencies[record.unit_kode]
        assert row.position == record.jabatan and row.email == record.email and row.phone == record.telepon
        assert row.active == (record.status == "aktif") and row.simpeg_status == record.status
    active = {e.id: e for e in staff.values() if e.active}
    assert {(g.subject_id, g.role, g.agency_id) for g in grants} == {
        (e.id, "employee", e.agency_id) for e in active.values()
    }
    assert audit_rows and audit_rows[0].detail["created"] == 16
    again = await sync_city(settings, city.city, redis=app.state.redis)  # idempotent
    assert again is not None and (again.created, again.updated, again.deactivated) == (0, 0, [])


async def test_a_leaver_is_deactivated_and_their_sessions_end(
    app, client_for, database, settings, city: Connected, restored_register
) -> None:
    await sync_city(settings, city.city, redis=app.state.redis)
    nip = next(e.nip for e in restored_register.ordered() if e.username == "endang.susanti")
    async with client_for(city.city.primary_host) as c:
        assert (await login(c, city.redirect_uri, "endang.susanti")).status_code == 303
        assert (await c.get("/api/v1/me")).status_code == 200
        restored_register.set_status(nip, "berhenti")
        report = await sync_city(settings, city.city, redis=app.state.redis)
        assert report is not None and len(report.deactivated) == 1
        assert (await c.get("/api/v1/me")).status_code == 401  # the session was revoked
        again = await login(c, city.redirect_uri, "endang.susanti")
        assert again.status_code == 403 and "not_employee_left" in again.text
    endang = (await employees_of(database, city.city))[nip]
    assert not endang.active and endang.left_at is not None and endang.simpeg_status == "berhenti"
    async with database.tenant_session(city.city) as session:
        left = await session.scalar(
            select(func.count()).select_from(RoleGrant).where(RoleGrant.subject_id == endang.id)
        )
        assert left == 0


async def test_someone_gone_from_simpeg_is_deactivated_and_a_returner_comes_back(
    app, database, settings, city: Connected, restored_register
) -> None:
    await sync_city(settings, city.city, redis=app.state.redis)
    nip = next(e.nip for e in restored_register.ordered() if e.username == "teguh.santoso")
    sessions = app.state.auth.sessions
    teguh = (await employees_of(database, city.city))[nip]
    token = await sessions.create(
        Principal(
            kind="employee",
            id=teguh.id,
            tenant_id=city.city.id,
            name=teguh.name,
            roles=frozenset({"employee"}),
        )
    )
    gone = restored_register.employees.pop(nip)
    report = await sync_city(settings, city.city, redis=app.state.redis)
    assert report is not None and report.deactivated == [teguh.id]
    assert await sessions.load(token) is None
    assert (await employees_of(database, city.city))[nip].simpeg_status == MISSING_STATUS
    restored_register.employees[nip] = gone
    back = await sync_city(settings, city.city, redis=app.state.redis)
    assert back is not None and back.reactivated == 1
    assert (await employees_of(database, city.city))[nip].active


async def test_an_empty_register_changes_nothing(app, database, settings, city: Connected) -> None:
    await sync_city(settings, city.city, redis=app.state.redis)

    class EmptyRegister:
        async def iter_employees(
            self, *, updated_since: datetime | None = None
        ) -> AsyncIterator[StaffRecord]:
            return
            yield  # pragma: no cover

        async def get(self, nip: str) -> StaffRecord:
            raise AssertionError("not used")

    async with database.tenant_session(city.city) as session:
        with pytest.raises(SyncRefused):
            await sync_from_registry(session, EmptyRegister())
    assert all(
        e.active for e in (await employees_of(database, city.city)).values() if e.simpeg_status == "aktif"
    )


async def test_a_unit_map_links_simpeg_units_to_agencies(app, database, settings, sims, make_city) -> None:
    from staff_support import set_city_integrations

    made = await make_city("sync-map")
    simpeg = {**sims.city_settings("tangerang")["simpeg"], "unit_map": {"diskominfo": "perkim"}}
    await set_city_integrations(database, settings, made, simpeg=simpeg)
    report = await sync_city(settings, made, redis=app.state.redis)
    assert report is not None and report.created == 16
    async with database.tenant_session(made) as session:
        perkim = await session.scalar(select(Agency.id).where(Agency.code == "perkim"))
    rina = next(e for e in (await employees_of(database, made)).values() if e.email.startswith("rina."))
    assert rina.unit_code == "diskominfo" and rina.agency_id == perkim


async def test_the_sync_job_runs_inside_its_own_city_only(
    app, broker, worker, database, settings, sims, make_city
) -> None:
    a = await connect_city(database, settings, sims, await make_city("sync-a"), "tangerang")
    b = await connect_city(database, settings, sims, await make_city("sync-b"), "bekasi")
    with pytest.raises(NoTenantContext):
        sync_employees_job.send()  # no city in context: refused at the door
    sync_employees_job.send_for(a.city)
    await wait_until(settled(broker, "default"), "the sync job to finish", 20)
    staff_a, staff_b = await employees_of(database, a.city), await employees_of(database, b.city)
    assert len(staff_a) == 16 and staff_b == {}
    tangerang_nips = {e.nip for e in sims.cities["tangerang"].employees}
    assert set(staff_a) == tangerang_nips
    sync_employees_job.send_for(b.city)
    await wait_until(settled(broker, "default"), "the second sync", 20)
    staff_b = await employees_of(database, b.city)
    assert set(staff_b) == {e.nip for e in sims.cities["bekasi"].employees}
    assert set(await employees_of(database, a.city)) == tangerang_nips


async def test_the_city_admin_runs_the_sync_on_demand(
    app, broker, worker, client_for, database, settings, sims, city: Connected
) -> None:
    sessions = app.state.auth.sessions
    admin = Principal(
        kind="employee", id=1, tenant_id=city.city.id, name="Admin", roles=frozenset({"city_admin"})
    )
    plain = Principal(
        kind="employee", id=2, tenant_id=city.city.id, name="Staff", roles=frozenset({"employee"})
    )
    async with client_for(city.city.primary_host) as c:
        csrf = (await c.get("/")).cookies.get("kl_csrf") or c.cookies.get("kl_csrf")
        c.cookies.set(COOKIE_NAME, await sessions.create(plain))
        assert (await c.post("/api/v1/employees/sync", headers={"x-csrftoken": csrf})).status_code == 403
        c.cookies.set(COOKIE_NAME, await sessions.create(admin))
        r = await c.post("/api/v1/employees/sync", headers={"x-csrftoken": csrf})
        assert r.status_code == 202 and r.json()["status"] == "queued"
    await wait_until(settled(broker, "default"), "the on-demand sync", 20)
    assert len(await employees_of(database, city.city)) == 16


async def test_on_demand_sync_without_simpeg_says_so(app, client_for, make_city) -> None:
    bare = await make_city("sync-none")
    admin = Principal(kind="employee", id=1, tenant_id=bare.id, name="Admin", roles=frozenset({"city_admin"}))
    async with client_for(bare.primary_host) as c:
        csrf = (await c.get("/")).cookies.get("kl_csrf") or c.cookies.get("kl_csrf")
        c.cookies.set(COOKIE_NAME, await app.state.auth.sessions.create(admin))
        r = await c.post("/api/v1/employees/sync", headers={"x-csrftoken": csrf})
        assert r.status_code == 409 and r.json()["status"] == "not_configured"


def test_the_scheduler_syncs_every_active_city(settings, modules) -> None:
    from kotalive.scheduler import periodic_work

    work = {p.name: p for p in periodic_work(settings, modules)}
    sync = work["core.simpeg_sync"]
    assert sync.job.name == SYNC_ACTOR and sync.job.is_tenant_job and sync.module is None
    assert sync.every_seconds >= 60


async def test_an_employee_the_platform_made_itself_is_not_switched_off_by_the_sync(
    app, database, settings, city: Connected
) -> None:
    """The first city admin, invited from the console before the city's Simpeg knows their NIP,
    keeps their access: the register can only take back whom it listed."""
    async with database.tenant_session(city.city) as session:
        session.add(
            Employee(nip="199001012026011001", name="Admin Undangan", email="admin@kota.test", active=True)
        )
        await session.commit()
    report = await sync_city(settings, city.city, redis=app.state.redis)
    assert report is not None
    invited = (await employees_of(database, city.city))["199001012026011001"]
    assert invited.active and invited.left_at is None and invited.id not in report.deactivated
