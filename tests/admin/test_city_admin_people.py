"""The city admin's people pages against the simulators over real HTTP: Simpeg connected in the
pages (secret never shown back), "test connection", "sync from Simpeg now", role grants with their
refusals next to the field, and the Live Room's shifts and roster."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from test_city_admin import HTML, audit_actions, city_admin, field_error, page_form

from kotalive.auth.models import Employee, RoleGrant


async def test_simpeg_connected_tested_and_synced_then_roles_granted(
    app, client_for, database, make_city, sims
) -> None:
    city = await make_city("admp")
    admin = await city_admin(app, client_for, database, city)
    simpeg = sims.city_settings("tangerang")["simpeg"]

    # Before Simpeg: the page says what to do; asking for a sync is refused with the reason.
    page = await admin.client.get("/admin/employees", headers=HTML)
    assert "Simpeg belum terhubung" in page.text
    r = await page_form(admin, "/admin/employees/sync", {})
    assert r.status_code == 409 and "Simpeg belum terhubung" in r.text

    # Wrong settings are refused next to the field, by the adapter that would use them.
    bad = await page_form(
        admin,
        "/admin/integrations/simpeg",
        {"base_url": "ftp://simpeg", "api_key": "k", "timeout_seconds": "lama"},
    )
    assert bad.status_code == 422
    assert field_error(bad.text, "timeout_seconds") == "Isikan angka."
    bad = await page_form(admin, "/admin/integrations/simpeg", {"base_url": "ftp://simpeg", "api_key": "k"})
    assert bad.status_code == 422 and "http://" in field_error(bad.text, "base_url")
    bad = await page_form(
        admin,
        "/admin/integrations/simpeg",
        {"base_url": simpeg["base_url"], "api_key": "k", "unit_map": "[1]"},
    )
    assert bad.status_code == 422 and "objek JSON" in field_error(bad.text, "unit_map")

    # A wrong key is saved, and "test connection" (a real call) says it is refused.
    ok = await page_form(
        admin,
        "/admin/integrations/simpeg",
        {"base_url": simpeg["base_url"], "api_key": "wrong-key", "enabled": "on"},
    )
    assert ok.status_code == 303, ok.text
    tested = await page_form(admin, "/admin/integrations/simpeg/test", {})
    assert tested.status_code == 502 and "Koneksi gagal" in tested.text
    # The right key; the stored secret is never shown back, and an empty field keeps it.
    assert (
        await page_form(
            admin,
            "/admin/integrations/simpeg",
            {"base_url": simpeg["base_url"], "api_key": simpeg["api_key"], "enabled": "on"},
        )
    ).status_code == 303
    form = await admin.client.get("/admin/integrations/simpeg", headers=HTML)
    assert simpeg["api_key"] not in form.text and "Tersimpan (tidak ditampilkan)" in form.text
    assert (
        await page_form(
            admin,
            "/admin/integrations/simpeg",
            {"base_url": simpeg["base_url"], "api_key": "", "timeout_seconds": "8", "enabled": "on"},
        )
    ).status_code == 303
    tested = await page_form(admin, "/admin/integrations/simpeg/test", {})
    assert tested.status_code == 200 and "Koneksi berhasil" in tested.text

    synced = await page_form(admin, "/admin/employees/sync", {})
    assert synced.status_code == 200, synced.text
    seen = int(re.search(r"Sinkron selesai: (\d+) pegawai", synced.text).group(1))  # type: ignore[union-attr]
    async with database.tenant_session(city) as session:
        employees = list(
            (await session.scalars(select(Employee).where(Employee.nip != "0").order_by(Employee.id))).all()
        )
    assert seen > 0 and len(employees) >= seen
    # The sync switches off only whom Simpeg listed before: the test's admin, made here and never in
    # the register (like a first admin invited from the console), keeps access. One of the synced
    # employees is made a city admin too.
    assert (await admin.client.get("/admin/", headers=HTML)).status_code == 200
    await admin.aclose()
    from laksa_support import signed_in

    from kotalive.auth.principal import Principal

    chief, someone = [e for e in employees if e.active and e.synced_at is not None][:2]
    async with database.tenant_session(city) as session:
        session.add(
            RoleGrant(subject_kind="employee", subject_id=chief.id, role="city_admin", source="admin")
        )
        await session.commit()
    admin = await signed_in(
        app,
        client_for,
        city,
        Principal("employee", chief.id, city.id, chief.name, frozenset({"city_admin", "employee"})),
    )
    found = await admin.client.get("/admin/employees", params={"q": someone.name.split()[0]}, headers=HTML)
    assert someone.name in found.text
    nothing = await admin.client.get("/admin/employees", params={"q": "zzz-nobody"}, headers=HTML)
    assert 'id="employees-empty"' in nothing.text

    # Role grants: refusals next to the field, then a grant and its revocation.
    bad = await page_form(admin, f"/admin/employees/{someone.id}/roles", {"role": "superuser"})
    assert bad.status_code == 422 and field_error(bad.text, "role") == "Pilih peran dari daftar."
    async with database.tenant_session(city) as session:
        from kotalive.tenants.city_models import Agency

        pupr = await session.scalar(select(Agency.id).where(Agency.code == "pupr"))
    bad = await page_form(
        admin, f"/admin/employees/{someone.id}/roles", {"role": "liveroom_operator", "agency_id": str(pupr)}
    )
    assert bad.status_code == 422 and "seluruh kota" in field_error(bad.text, "agency_id")
    granted = await page_form(admin, f"/admin/employees/{someone.id}/roles", {"role": "liveroom_operator"})
    assert granted.status_code == 303
    scoped = await page_form(
        admin, f"/admin/employees/{someone.id}/roles", {"role": "agency_supervisor", "agency_id": str(pupr)}
    )
    assert scoped.status_code == 303
    async with database.tenant_session(city) as session:
        grants = {
            g.role: g
            for g in (
                await session.scalars(
                    select(RoleGrant).where(
                        RoleGrant.subject_id == someone.id, RoleGrant.subject_kind == "employee"
                    )
                )
            ).all()
        }
    assert {"liveroom_operator", "agency_supervisor"} <= set(grants) and grants[
        "agency_supervisor"
    ].agency_id == pupr
    missing = max(e.id for e in employees) + 1000
    assert (await admin.client.get(f"/admin/employees/{missing}", headers=HTML)).status_code == 404
    assert (
        await page_form(admin, f"/admin/employees/{missing}/roles", {"role": "employee"})
    ).status_code == 404
    # A grant of another person cannot be revoked through this person's page.
    other = next(e for e in employees if e.id != someone.id)
    wrong = await page_form(
        admin, f"/admin/employees/{other.id}/roles/{grants['agency_supervisor'].id}/revoke", {}
    )
    assert wrong.status_code == 404
    revoked = await page_form(
        admin, f"/admin/employees/{someone.id}/roles/{grants['agency_supervisor'].id}/revoke", {}
    )
    assert revoked.status_code == 303

    actions = await audit_actions(database, city)
    for action in (
        "admin.integration.saved",
        "admin.integration.tested",
        "admin.employees.synced",
        "role.granted",
        "role.revoked",
    ):
        assert action in actions, action
    async with database.tenant_session(city) as session:
        from kotalive.auth.models import AuditEntry

        details = (
            await session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == "admin.integration.saved")
            )
        ).all()
    assert all(simpeg["api_key"] not in str(d) for d in details)  # a secret never reaches the log
    await admin.aclose()


async def test_live_room_shifts_and_roster(app, client_for, database, make_city) -> None:
    from laksa_support import employee

    city = await make_city("admp")
    admin = await city_admin(app, client_for, database, city)
    page = await admin.client.get("/admin/liveroom", headers=HTML)
    assert page.status_code == 200 and 'id="operators-empty"' in page.text
    operator = await employee(
        app, client_for, database, city, "dishub", roles=("liveroom_operator",), name="Wati Operator"
    )
    page = await admin.client.get("/admin/liveroom", headers=HTML)
    assert "Wati Operator" in page.text

    from kotalive.modules.liveroom.models import Shift

    async with database.tenant_session(city) as session:
        shifts = list((await session.scalars(select(Shift).order_by(Shift.position))).all())
    assert len(shifts) == 3

    def form(rows: list[tuple[str, str, str, str]]) -> dict[str, object]:
        """The shift rows as the page sends them: each field repeated, row by row."""
        return {
            "_csrf_token": admin.csrf,
            **{
                f"shift_{key}": [row[i] for row in rows]
                for i, key in enumerate(("id", "name", "starts", "hours"))
            },
        }

    # A gap in the 24 hours is refused, said next to the shift that starts late.
    rows = [(str(s.id), s.name, s.starts.strftime("%H:%M"), str(s.hours)) for s in shifts]
    gap = [*rows[:2], (rows[2][0], rows[2][1], "23:30", "7")]
    r = await admin.client.post("/admin/liveroom/shifts", data=form(gap), headers=HTML)
    assert r.status_code == 422 and 'id="shift-starts-2-error"' in r.text
    renamed = [(rows[0][0], "Pagi", rows[0][2], rows[0][3]), *rows[1:]]
    r = await admin.client.post("/admin/liveroom/shifts", data=form(renamed), headers=HTML)
    assert r.status_code == 303
    # Two shifts of twelve hours: the third row cleared switches that shift off (kept on record).
    two = [(rows[0][0], "Siang", "07:00", "12"), (rows[1][0], "Malam", "19:00", "12"), ("", "", "", "")]
    r = await admin.client.post("/admin/liveroom/shifts", data=form(two), headers=HTML)
    assert r.status_code == 303
    async with database.tenant_session(city) as session:
        active = {s.name: s.active for s in (await session.scalars(select(Shift))).all()}
    assert active == {"Siang": True, "Malam": True, shifts[2].name: False}

    day = dt.date.today().isoformat()
    bad = await page_form(
        admin,
        "/admin/liveroom/roster",
        {"day": "besok", "shift_id": str(shifts[0].id), "employee_id": str(admin.id)},
    )
    assert bad.status_code == 422 and field_error(bad.text, "day")
    notop = await page_form(
        admin,
        "/admin/liveroom/roster",
        {"day": day, "shift_id": str(shifts[0].id), "employee_id": str(admin.id)},
    )
    assert notop.status_code == 422 and "tidak memegang peran operator" in field_error(
        notop.text, "employee_id"
    )
    planned = await page_form(
        admin,
        "/admin/liveroom/roster",
        {"day": day, "shift_id": str(shifts[0].id), "employee_id": str(operator.id)},
    )
    assert planned.status_code == 303
    page = await admin.client.get(planned.headers["location"], headers=HTML)
    assert "Operator dijadwalkan" in page.text and "Wati Operator" in page.text
    from kotalive.modules.liveroom.models import RosterEntry

    async with database.tenant_session(city) as session:
        entry = await session.scalar(select(RosterEntry.id))
    assert (await page_form(admin, f"/admin/liveroom/roster/{entry}/delete", {})).status_code == 303
    assert (await page_form(admin, f"/admin/liveroom/roster/{entry}/delete", {})).status_code == 404
    assert {"liveroom.shifts.changed", "liveroom.roster.planned", "liveroom.roster.removed"} <= set(
        await audit_actions(database, city)
    )
    await operator.aclose()
    await admin.aclose()
