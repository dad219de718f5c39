"""The city admin (/admin/ on a city's host): who may enter, agencies, the dashboard's next steps,
and that every change leaves an audit row.

People are real rows of the city with real login sessions (tests/laksa_support.py); the pages are
asked over ASGI with the city's Host, forms sent with the CSRF token as a browser would.
"""

from __future__ import annotations

import re
from typing import Any

from laksa_support import Person, agency_id, employee
from sqlalchemy import select

from kotalive.auth.models import AuditEntry
from kotalive.tenants.city_models import Agency

HTML = {"accept": "text/html"}


async def city_admin(app: Any, client_for: Any, database: Any, city: Any) -> Person:
    return await employee(
        app, client_for, database, city, "diskominfo", roles=("city_admin",), name="Admin Kota"
    )


async def page_form(person: Person, path: str, data: dict[str, Any], **kw: Any) -> Any:
    """POST a page's form as a browser does (urlencoded, the CSRF token in the form)."""
    return await person.client.post(
        path, data={**data, "_csrf_token": person.csrf}, headers={"accept": "text/html"}, **kw
    )


def field_error(html: str, name: str) -> str:
    """The error text shown right under the field ``name`` ('' when there is none)."""
    fid = "f-" + name.replace("[", "-").replace("]", "").replace(".", "-")
    match = re.search(rf'<p id="{re.escape(fid)}-error" class="field-error">([^<]*)</p>', html)
    return match.group(1) if match else ""


async def audit_actions(database: Any, city: Any) -> list[str]:
    async with database.tenant_session(city) as session:
        return list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all())


async def test_only_city_admins_of_this_city_enter(app, client_for, database, make_city) -> None:
    city = await make_city("adm")
    other = await make_city("adm")
    # Anonymous: the page sends to the employees' login and comes back; the API client gets 401.
    async with client_for(city.primary_host) as anonymous:
        r = await anonymous.get("/admin/", headers=HTML)
        assert r.status_code == 303
        assert r.headers["location"] == "/staff/login?next=/admin"
        assert (
            await anonymous.get("/admin/agencies", headers={"accept": "application/json"})
        ).status_code == 401
    # Another role of the city: 403.
    for role in ("employee", "agency_supervisor", "liveroom_supervisor"):
        someone = await employee(app, client_for, database, city, "pupr", roles=(role,))
        assert (await someone.client.get("/admin/", headers=HTML)).status_code == 403, role
        await someone.aclose()
    # The platform host has no city admin at all.
    async with client_for("platform.test") as platform:
        assert (await platform.get("/admin/agencies", headers=HTML)).status_code == 404
    admin = await city_admin(app, client_for, database, city)
    home = await admin.client.get("/admin/", headers=HTML)
    assert home.status_code == 200, home.text
    assert "Ringkasan kota" in home.text
    # A city admin of this city is refused on another city's host (the login names its city).
    async with client_for(other.primary_host) as elsewhere:
        elsewhere.cookies.update(admin.client.cookies)
        assert (await elsewhere.get("/admin/", headers=HTML)).status_code in (401, 403)
    await admin.aclose()


async def test_agencies_created_changed_switched_off_and_imported(
    app, client_for, database, make_city
) -> None:
    city = await make_city("adm")
    other = await make_city("adm")
    admin = await city_admin(app, client_for, database, city)

    # Each wrong field says why, next to the field; what was typed stays.
    r = await page_form(
        admin,
        "/admin/agencies",
        {"code": "Bad Code!", "name": "", "abbreviation": "", "kind": "ministry", "contact_email": "nope"},
    )
    assert r.status_code == 422
    assert "huruf kecil" in field_error(r.text, "code")
    assert field_error(r.text, "name") == "Nama wajib diisi."
    assert field_error(r.text, "abbreviation") == "Singkatan wajib diisi."
    assert "Pilih jenis" in field_error(r.text, "kind")
    assert "e-mail tidak sah" in field_error(r.text, "contact_email")
    assert 'value="Bad Code!"' in r.text
    # The same refusal to an API client: field and reason, in English when asked.
    r = await admin.post("/admin/agencies?lang=en", json={"code": "pupr", "name": "X", "abbreviation": "X"})
    assert r.status_code == 422
    assert {"field": "code", "reason": "The code \u201cpupr\u201d is taken by another agency."} in r.json()[
        "errors"
    ]

    r = await page_form(
        admin,
        "/admin/agencies",
        {
            "code": "disperkim",
            "name": "Dinas Perumahan Rakyat",
            "abbreviation": "Disperkim",
            "kind": "dinas",
            "parent_id": str(await agency_id(database, city, "pupr")),
            "contact_email": "disperkim@kota.go.id",
            "contact_phone": "+62 21 555 0101",
            "categories_sent": "1",
            "categories": "flood",
        },
    )
    assert r.status_code == 303, r.text
    new_id = int(r.headers["location"].split("?")[0].rsplit("/", 1)[1])
    page = await admin.client.get(f"/admin/agencies/{new_id}", headers=HTML)
    assert "Dinas Perumahan Rakyat" in page.text and "disperkim@kota.go.id" in page.text
    async with database.tenant_session(city) as session:
        from kotalive.modules.laksa.models import Category

        flood = await session.scalar(select(Category).where(Category.code == "flood"))
        assert flood is not None and flood.agency_id == new_id

    # A parent may not be the agency itself.
    r = await page_form(
        admin,
        f"/admin/agencies/{new_id}",
        {
            "name": "Dinas Perumahan Rakyat",
            "abbreviation": "Disperkim",
            "kind": "dinas",
            "parent_id": str(new_id),
        },
    )
    assert r.status_code == 422 and "Induk tidak boleh" in field_error(r.text, "parent_id")

    r = await page_form(admin, f"/admin/agencies/{new_id}/deactivate", {})
    assert r.status_code == 303
    async with database.tenant_session(city) as session:
        assert (await session.get(Agency, new_id)).active is False  # type: ignore[union-attr]

    # Another city's agency id is not this city's: 404, and nothing changes there.
    foreign = await agency_id(database, other, "dlh")
    assert (await admin.client.get(f"/admin/agencies/{foreign + 10_000}", headers=HTML)).status_code == 404
    assert (await page_form(admin, f"/admin/agencies/{foreign + 10_000}/deactivate", {})).status_code == 404

    # Importing the catalogue brings back what was missing and leaves the rest alone.
    async with database.tenant_session(city) as session:
        pln = await session.scalar(select(Agency).where(Agency.code == "pln"))
        assert pln is not None
        pln.code = "pln-lama"
        await session.commit()
    r = await page_form(admin, "/admin/agencies/import", {})
    assert r.status_code == 303
    async with database.tenant_session(city) as session:
        codes = set((await session.scalars(select(Agency.code))).all())
    assert {"pln", "pln-lama", "disperkim"} <= codes

    actions = await audit_actions(database, city)
    for action in ("admin.agency.created", "admin.agency.deactivated", "admin.agency.imported"):
        assert action in actions
    await admin.aclose()


async def test_the_dashboard_says_what_to_do_next(app, client_for, database, make_city) -> None:
    city = await make_city("adm")
    admin = await city_admin(app, client_for, database, city)
    page = await admin.client.get("/admin/", headers=HTML)
    assert 'id="next-boundaries"' in page.text  # a new city has no kecamatan yet
    assert 'id="next-integration_simpeg"' in page.text
    assert 'id="next-agencies"' not in page.text  # provisioning seeded the catalogue
    async with database.tenant_session(city) as session:
        from kotalive.auth.models import Employee

        for row in (await session.scalars(select(Employee))).all():
            row.agency_id = None
        from kotalive.modules.laksa.models import Category, HashtagRule

        await session.execute(HashtagRule.__table__.delete())
        await session.execute(Category.__table__.update().values(agency_id=None))
        await session.execute(Agency.__table__.delete())
        await session.commit()
    page = await admin.client.get("/admin/", headers=HTML)
    assert "Belum ada perangkat daerah" in page.text
    r = await page_form(admin, "/admin/agencies/import", {})
    assert r.status_code == 303
    page = await admin.client.get("/admin/", headers=HTML)
    assert 'id="next-agencies"' not in page.text
    await admin.aclose()


async def test_every_page_speaks_both_languages(app, client_for, database, make_city) -> None:
    """Each page answers in Indonesian and English with no text key left untranslated."""
    from laksa_support import with_boundaries

    city = await make_city("adm")
    await with_boundaries(database, city)
    admin = await city_admin(app, client_for, database, city)
    pupr = await agency_id(database, city, "pupr")
    async with database.tenant_session(city) as session:
        from kotalive.modules.laksa.models import HashtagRule

        rule = await session.scalar(select(HashtagRule.id))
    key = next(m.key for m in app.state.modules.messages())
    pages = [
        "/admin/",
        "/admin/agencies",
        "/admin/agencies/new",
        f"/admin/agencies/{pupr}",
        "/admin/categories",
        "/admin/categories/new",
        "/admin/categories/road",
        "/admin/rules",
        "/admin/rules/new",
        f"/admin/rules/{rule}",
        "/admin/sla",
        "/admin/boundaries",
        "/admin/employees",
        f"/admin/employees/{admin.id}",
        "/admin/liveroom",
        "/admin/integrations",
        *[f"/admin/integrations/{k}" for k in ("siak", "simpeg", "oidc", "sms", "smtp")],
        "/admin/branding",
        "/admin/messages",
        f"/admin/messages/{key}",
        "/admin/open311",
        "/admin/audit",
        "/admin/112",
        "/admin/112/types/fire",
    ]
    for lang, word in (("id", "Ringkasan"), ("en", "Overview")):
        for path in pages:
            r = await admin.client.get(path, params={"lang": lang}, headers=HTML)
            assert r.status_code == 200, (path, r.status_code)
            assert f'<html lang="{lang}">' in r.text
            left = sorted(set(re.findall(r"admin\.city\.[a-z0-9_.]+", r.text)))
            assert left == [], (lang, path, left)
            assert word in r.text  # the navigation, in that language
    await admin.aclose()


async def test_two_admins_creating_the_same_agency_at_once(app, client_for, database, make_city) -> None:
    """One gets the agency, the other is told the code is taken (never a 500)."""
    import asyncio

    city = await make_city("adm")
    first = await city_admin(app, client_for, database, city)
    second = await city_admin(app, client_for, database, city)
    data = {
        "code": "dispora",
        "name": "Dinas Pemuda dan Olahraga",
        "abbreviation": "Dispora",
        "kind": "dinas",
    }
    answers = await asyncio.gather(*(page_form(p, "/admin/agencies", data) for p in (first, second)))
    assert sorted(a.status_code for a in answers) == [303, 422]
    refused = next(a for a in answers if a.status_code == 422)
    assert "sudah dipakai" in field_error(refused.text, "code")
    await first.aclose()
    await second.aclose()
