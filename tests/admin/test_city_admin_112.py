"""The city admin's 112 pages, through the hotline112 module's own services: units (a taken call
sign, an unknown agency, a position out of range), unit types' speeds, and an incident type's
question protocol (a choice question without choices is refused beside its row)."""

from __future__ import annotations

from laksa_support import agency_id
from sqlalchemy import select
from test_city_admin import HTML, audit_actions, city_admin, field_error, page_form


async def test_units_speeds_and_incident_protocols(app, client_for, database, make_city) -> None:
    from kotalive.modules.hotline112.models import IncidentType, Unit, UnitType

    city = await make_city("adm112")
    admin = await city_admin(app, client_for, database, city)
    page = await admin.client.get("/admin/112", headers=HTML)
    assert page.status_code == 200 and 'id="units-empty"' in page.text and "Kebakaran" in page.text
    dinkes = await agency_id(database, city, "dinkes")

    bad = await page_form(
        admin,
        "/admin/112/units",
        {"call_sign": "", "type": "spaceship", "agency_id": "", "base_lat": "95", "base_lon": "106.6"},
    )
    assert bad.status_code == 422
    assert (
        field_error(bad.text, "call_sign")
        and field_error(bad.text, "type")
        and field_error(bad.text, "agency_id")
    )
    assert "-90" in field_error(bad.text, "base_lat")
    ok = await page_form(
        admin,
        "/admin/112/units",
        {
            "call_sign": "AMB-01",
            "type": "ambulance",
            "agency_id": str(dinkes),
            "base_lat": "-6.17",
            "base_lon": "106.63",
        },
    )
    assert ok.status_code == 303, ok.text
    unit_id = int(ok.headers["location"].split("?")[0].rsplit("/", 1)[1])
    taken = await page_form(
        admin, "/admin/112/units", {"call_sign": "amb-01", "type": "ambulance", "agency_id": str(dinkes)}
    )
    assert taken.status_code == 409 and "amb-01" in field_error(
        taken.text, "call_sign"
    )  # case does not count
    renamed = await page_form(
        admin,
        f"/admin/112/units/{unit_id}",
        {
            "call_sign": "AMB-02",
            "type": "ambulance",
            "agency_id": str(dinkes),
            "name": "Ambulans Puskesmas",
            "base_lat": "-6.17",
            "base_lon": "106.63",
        },
    )
    assert renamed.status_code == 303
    assert (await admin.client.get(f"/admin/112/units/{unit_id + 999}", headers=HTML)).status_code == 404
    assert (await page_form(admin, f"/admin/112/units/{unit_id}/deactivate", {})).status_code == 303
    async with database.tenant_session(city) as session:
        unit = await session.get(Unit, unit_id)
        assert (
            unit is not None
            and unit.call_sign == "AMB-02"
            and unit.active is False
            and unit.base_lat == -6.17
        )

    slow = await page_form(admin, "/admin/112/unit-types/ambulance", {"ambulance_avg_speed_kmh": "0"})
    assert slow.status_code == 422 and field_error(slow.text, "ambulance_avg_speed_kmh")
    assert (
        await page_form(admin, "/admin/112/unit-types/ambulance", {"ambulance_avg_speed_kmh": "32,5"})
    ).status_code == 303
    assert (
        await page_form(admin, "/admin/112/unit-types/rocket", {"rocket_avg_speed_kmh": "10"})
    ).status_code == 404

    form = await admin.client.get("/admin/112/types/fire", headers=HTML)
    assert form.status_code == 200 and "Apakah api menjalar?" in form.text
    fire = {
        "name_id": "Kebakaran",
        "name_en": "Fire",
        "priority": "P1",
        "unit_types": ["fire_engine", "ambulance"],
        "active": "on",
        "position": "1",
        "q_key": ["trapped", "smoke"],
        "q_kind": ["yes_no", "choice"],
        "q_text_id": ["Ada orang terjebak?", "Warna asapnya?"],
        "q_text_en": ["Is anyone trapped?", "What colour is the smoke?"],
        "q_choices": ["", ""],
    }
    bad = await admin.client.post(
        "/admin/112/types/fire", data={**fire, "_csrf_token": admin.csrf}, headers=HTML
    )
    assert bad.status_code == 422 and 'id="q-error-1"' in bad.text  # the choice question without choices
    assert 'value="Warna asapnya?"' in bad.text
    fire["q_choices"] = ["", "putih\nhitam"]
    ok = await admin.client.post(
        "/admin/112/types/fire", data={**fire, "_csrf_token": admin.csrf}, headers=HTML
    )
    assert ok.status_code == 303, ok.text
    async with database.tenant_session(city) as session:
        row = await session.get(IncidentType, "fire")
        speed = await session.get(UnitType, "ambulance")
    assert row is not None and [q["key"] for q in row.protocol] == ["trapped", "smoke"]
    assert row.protocol[1]["choices"] == ["putih", "hitam"]
    assert speed is not None and speed.avg_speed_kmh == 32.5
    assert (await admin.client.get("/admin/112/types/no-such", headers=HTML)).status_code == 404
    actions = set(await audit_actions(database, city))
    assert {
        "admin.h112.unit_created",
        "admin.h112.unit_deactivated",
        "admin.h112.incident_type_changed",
    } <= actions
    async with database.tenant_session(city) as session:
        assert len((await session.scalars(select(Unit))).all()) == 1
    await admin.aclose()


async def test_the_112_section_is_gone_when_the_module_is_off(app, client_for, database, make_city) -> None:
    city = await make_city("adm112", modules=["laksa", "liveroom"])
    admin = await city_admin(app, client_for, database, city)
    home = await admin.client.get("/admin/", headers=HTML)
    assert 'href="/admin/112"' not in home.text
    assert (await admin.client.get("/admin/112", headers=HTML)).status_code == 404
    await admin.aclose()
