"""The city admin's Laksa pages: categories with attributes, hashtag rules and the test box (Laksa's
own routing), SLA policies and the calendar, GeoJSON boundaries, Open311 keys; each refusal shown
next to its field, each change audited, another city's ids 404, and the section gone when Laksa is
switched off for the city."""

from __future__ import annotations

import json

from laksa_support import agency_id, with_boundaries
from sqlalchemy import select
from test_city_admin import HTML, audit_actions, city_admin, field_error, page_form

from kotalive.modules.laksa.demo import demo_boundaries
from kotalive.modules.laksa.models import Area, Category, HashtagRule, Holiday, SlaPolicy


async def test_categories_with_attributes(app, client_for, database, make_city) -> None:
    city = await make_city("adml")
    admin = await city_admin(app, client_for, database, city)
    listing = await admin.client.get("/admin/categories", headers=HTML)
    assert listing.status_code == 200 and "Lampu jalan" in listing.text

    bad = await page_form(
        admin,
        "/admin/categories",
        {
            "code": "Pohon Tumbang",
            "name": "",
            "priority": "urgent",
            "attr_code": "Ukuran!",
            "attr_description": "Seberapa besar?",
            "attr_datatype": "singlevaluelist",
        },
    )
    assert bad.status_code == 422
    assert "huruf kecil" in field_error(bad.text, "code")
    assert "Nama wajib diisi" in field_error(bad.text, "name")
    assert "Prioritas harus" in field_error(bad.text, "priority")
    assert 'id="attr-error-0"' in bad.text  # the bad attribute row says why, beside the row
    assert 'value="Seberapa besar?"' in bad.text

    ok = await page_form(
        admin,
        "/admin/categories",
        {
            "code": "pohon-tumbang",
            "name": "Pohon tumbang",
            "priority": "high",
            "agency_id": str(await agency_id(database, city, "dlh")),
            "active": "on",
            "attr_code": "ukuran",
            "attr_description": "Seberapa besar pohonnya?",
            "attr_datatype": "singlevaluelist",
            "attr_values": "kecil: Kecil\nbesar: Besar",
            "attr_required": "0",
        },
    )
    assert ok.status_code == 303, ok.text
    async with database.tenant_session(city) as session:
        row = await session.scalar(select(Category).where(Category.code == "pohon-tumbang"))
    assert row is not None and row.priority == "high"
    assert row.attributes[0]["code"] == "ukuran" and row.attributes[0]["required"] is True
    assert [v["key"] for v in row.attributes[0]["values"]] == ["kecil", "besar"]
    # Open311 shows the new service with its attribute.
    service = await admin.client.get("/open311/v2/services/pohon-tumbang.json")
    assert service.status_code == 200 and service.json()["attributes"][0]["code"] == "ukuran"
    assert "admin.category.created" in await audit_actions(database, city)
    assert (await admin.client.get("/admin/categories/no-such", headers=HTML)).status_code == 404
    await admin.aclose()


async def test_rules_and_the_test_box(app, client_for, database, make_city) -> None:
    city = await make_city("adml")
    other = await make_city("adml")
    await with_boundaries(database, city)
    admin = await city_admin(app, client_for, database, city)
    dlh = await agency_id(database, city, "dlh")

    bad = await page_form(
        admin,
        "/admin/rules",
        {"code": "pohon", "hashtags": "#123", "agency_id": "", "sla_hours": "0", "precedence": "-4"},
    )
    assert bad.status_code == 422
    assert "tidak sah" in field_error(bad.text, "hashtags")
    assert field_error(bad.text, "agency_id") == "Pilih perangkat daerah."
    assert "1 sampai 8760" in field_error(bad.text, "sla_hours")
    assert field_error(bad.text, "precedence")
    # The same refusal to an API client: each field with its reason, 422.
    asked = await admin.post("/admin/rules?lang=en", json={"code": "x", "hashtags": "#123", "agency_id": ""})
    assert asked.status_code == 422
    fields = {e["field"]: e["reason"] for e in asked.json()["errors"]}
    assert fields["agency_id"] == "Choose an agency." and "hashtags" in fields

    async with database.tenant_session(city) as session:
        cipondoh = await session.scalar(
            select(Area.code).where(Area.kind == "kecamatan", Area.name == "Cipondoh")
        )
    ok = await page_form(
        admin,
        "/admin/rules",
        {
            "code": "pohon-tumbang",
            "hashtags": "#pohontumbang, #Pohon_Roboh",
            "agency_id": str(dlh),
            "priority": "high",
            "sla_hours": "6",
            "precedence": "5",
            "kecamatan_codes": cipondoh,
            "active": "on",
        },
    )
    assert ok.status_code == 303, ok.text
    rule_id = int(ok.headers["location"].split("?")[0].rsplit("/", 1)[1])

    # The test box: Laksa's own routing, with the reason. In Cipondoh the new rule wins over the
    # default #pohontumbang rule (precedence 5 < 40); elsewhere it does not apply.
    here = await page_form(
        admin,
        "/admin/rules/test",
        {"description": "Ada #pohon_roboh menutup jalan", "kecamatan_code": cipondoh},
    )
    assert here.status_code == 200
    assert "pohon-tumbang" in here.text and "DLH" in here.text
    asked = await admin.post(
        "/admin/rules/test", json={"description": "Ada #PohonTumbang menutup jalan", "kecamatan_code": "x"}
    )
    body = asked.json()
    assert body["rule"] == "bencana" and body["via"] == "rule"
    outcomes = {c["rule"]: c["outcome"] for c in body["considered"]}
    assert outcomes == {"pohon-tumbang": "other_kecamatan", "bencana": "matched"}
    htmx = await admin.client.post(
        "/admin/rules/test",
        data={"description": "tidak ada tagar", "_csrf_token": admin.csrf},
        headers={"hx-request": "true", "accept": "text/html"},
    )
    assert htmx.text.lstrip().startswith('<div id="rule-test-result"')  # a fragment for htmx
    assert "antrean verifikasi" in htmx.text

    # Change it, then delete it; another city's rule id is not here.
    changed = await page_form(
        admin,
        f"/admin/rules/{rule_id}",
        {"code": "pohon-tumbang", "hashtags": "pohonroboh", "agency_id": str(dlh), "precedence": "7"},
    )
    assert changed.status_code == 303
    async with database.tenant_session(city) as session:
        rule = await session.get(HashtagRule, rule_id)
        assert rule is not None and rule.hashtags == ["pohonroboh"] and rule.active is False
    async with database.tenant_session(other) as session:
        foreign = await session.scalar(select(HashtagRule.id).order_by(HashtagRule.id.desc()))
    assert foreign is not None
    missing = max(foreign, rule_id) + 1000
    assert (await admin.client.get(f"/admin/rules/{missing}", headers=HTML)).status_code == 404
    assert (await page_form(admin, f"/admin/rules/{missing}/delete", {})).status_code == 404
    assert (await page_form(admin, f"/admin/rules/{rule_id}/delete", {})).status_code == 303
    actions = await audit_actions(database, city)
    assert {"admin.rule.created", "admin.rule.changed", "admin.rule.deleted"} <= set(actions)
    await admin.aclose()


async def test_sla_policies_hours_and_holidays(app, client_for, database, make_city) -> None:
    city = await make_city("adml")
    admin = await city_admin(app, client_for, database, city)
    page = await admin.client.get("/admin/sla", headers=HTML)
    assert page.status_code == 200 and "Jam kerja" in page.text

    bad = await page_form(
        admin,
        "/admin/sla/policies/high",
        {"high_hours": "0", "high_calendar": "moon", "high_at_risk_percent": "100"},
    )
    assert bad.status_code == 422
    assert "8760" in field_error(bad.text, "high_hours")
    assert "working" in field_error(bad.text, "high_calendar")
    assert "1 sampai 99" in field_error(bad.text, "high_at_risk_percent")
    ok = await page_form(
        admin,
        "/admin/sla/policies/high",
        {"high_hours": "12", "high_calendar": "always", "high_at_risk_percent": "60"},
    )
    assert ok.status_code == 303
    assert (await page_form(admin, "/admin/sla/policies/someday", {})).status_code == 404

    hours = {f"open_{d}": "on" for d in range(1, 6)}
    hours.update({f"opens_{d}": "08:00" for d in range(1, 6)})
    hours.update({f"closes_{d}": "16:00" for d in range(1, 6)})
    hours["closes_3"] = "07:00"  # Wednesday closes before it opens
    bad = await page_form(admin, "/admin/sla/hours", hours)
    assert bad.status_code == 422 and 'id="f-hours_3-error"' in bad.text
    hours["closes_3"] = "15:00"
    assert (await page_form(admin, "/admin/sla/hours", hours)).status_code == 303

    bad = await page_form(admin, "/admin/sla/holidays", {"day": "17-08-2026", "name": "HUT RI"})
    assert bad.status_code == 422 and "Tanggal tidak sah" in field_error(bad.text, "day")
    assert (
        await page_form(admin, "/admin/sla/holidays", {"day": "2026-08-17", "name": "HUT RI"})
    ).status_code == 303
    async with database.tenant_session(city) as session:
        policy = await session.get(SlaPolicy, "high")
        assert policy is not None and (policy.hours, policy.calendar, policy.at_risk_percent) == (
            12,
            "always",
            60,
        )
        assert (await session.scalar(select(Holiday.name))) == "HUT RI"
    assert (await page_form(admin, "/admin/sla/holidays/2026-08-17/delete", {})).status_code == 303
    assert (await page_form(admin, "/admin/sla/holidays/2026-08-18/delete", {})).status_code == 404
    assert {"admin.sla.policy", "admin.sla.working_hours", "admin.sla.holiday"} <= set(
        await audit_actions(database, city)
    )
    await admin.aclose()


async def upload(admin, content: bytes, name: str = "batas.geojson"):  # type: ignore[no-untyped-def]
    return await admin.client.post(
        "/admin/boundaries",
        data={"_csrf_token": admin.csrf},
        files={"file": (name, content, "application/geo+json")},
        headers=HTML,
    )


async def test_boundaries_upload_is_validated(app, client_for, database, make_city) -> None:
    city = await make_city("adml")
    admin = await city_admin(app, client_for, database, city)
    page = await admin.client.get("/admin/boundaries", headers=HTML)
    assert 'id="boundaries-empty"' in page.text and 'id="boundary-map"' in page.text

    cases = {
        b"{not json": "bukan JSON",
        json.dumps(
            {"type": "Polygon", "coordinates": [[[106.6, -6.2], [106.7, -6.2], [106.7, -6.1], [106.6, -6.2]]]}
        ).encode(): "satu geometri",
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"kecamatan": "A"},
                        "geometry": {"type": "LineString", "coordinates": [[106.6, -6.2], [106.7, -6.2]]},
                    }
                ],
            }
        ).encode(): "Polygon or MultiPolygon",
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"kecamatan": "A"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[200, -6.2], [201, -6.2], [201, -6.1], [200, -6.2]]],
                        },
                    }
                ],
            }
        ).encode(): "out of range",
        b" " * 10 + b"{" + b" " * (20 * 1024 * 1024) + b"}": "terlalu besar",
    }
    for content, expected in cases.items():
        r = await upload(admin, content)
        assert r.status_code == 422, (expected, r.status_code)
        assert expected in field_error(r.text, "file"), (expected, field_error(r.text, "file"))
    asked = await admin.client.post(
        "/admin/boundaries",
        content=b"{not json",
        headers={**admin.headers(), "content-type": "application/geo+json"},
    )
    assert asked.status_code == 422 and asked.json()["errors"][0]["field"] == "file"
    async with database.tenant_session(city) as session:
        assert (await session.scalar(select(Area.id))) is None  # nothing refused was kept

    good = json.dumps(demo_boundaries("tangerang")).encode()
    r = await upload(admin, good)
    assert r.status_code == 303, field_error(r.text, "file")
    page = await admin.client.get("/admin/boundaries", headers=HTML)
    assert "Cipondoh" in page.text and 'id="boundaries-empty"' not in page.text
    assert "admin.boundaries.replaced" in await audit_actions(database, city)
    await admin.aclose()


async def test_open311_keys_are_shown_once(app, client_for, database, make_city) -> None:
    city = await make_city("adml")
    admin = await city_admin(app, client_for, database, city)
    assert "Belum ada kunci" in (await admin.client.get("/admin/open311", headers=HTML)).text
    bad = await page_form(admin, "/admin/open311", {"name": ""})
    assert bad.status_code == 422 and field_error(bad.text, "name")
    r = await page_form(admin, "/admin/open311", {"name": "Aplikasi Kelurahan"})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    key = r.text.split('id="new-key">')[1].split("<")[0]
    assert key.startswith("kl311_")
    listing = await admin.client.get("/admin/open311", headers=HTML)
    assert key not in listing.text and key[:12] in listing.text  # the prefix only, from now on
    services = await admin.client.get(f"/open311/v2/services.json?api_key={key}")
    assert services.status_code == 200
    from kotalive.modules.laksa.models import ApiKey

    async with database.tenant_session(city) as session:
        key_id = await session.scalar(select(ApiKey.id))
    assert (await page_form(admin, f"/admin/open311/{key_id}/revoke", {})).status_code == 303
    assert (await page_form(admin, f"/admin/open311/{(key_id or 0) + 999}/revoke", {})).status_code == 404
    assert {"admin.open311.key_issued", "admin.open311.key_revoked"} <= set(
        await audit_actions(database, city)
    )
    await admin.aclose()


async def test_laksa_sections_are_gone_when_laksa_is_off(
    app, client_for, database, make_city, wait_for_status
) -> None:
    city = await make_city("adml", modules=["liveroom", "hotline112"])
    admin = await city_admin(app, client_for, database, city)
    home = await admin.client.get("/admin/", headers=HTML)
    assert home.status_code == 200
    assert 'href="/admin/rules"' not in home.text and 'href="/admin/agencies"' in home.text
    for path in ("/admin/rules", "/admin/categories", "/admin/sla", "/admin/boundaries", "/admin/open311"):
        assert (await admin.client.get(path, headers=HTML)).status_code == 404, path
    await admin.aclose()
