"""The city admin's Laksa settings through the API: hashtag rules (validation, precedence, kecamatan
restriction, copies) with the preview that explains the match, categories with Open311 attributes,
boundaries from GeoJSON, SLA policies and holidays, Open311 keys; every change audited."""

from __future__ import annotations

from laksa_support import CILEDUG, CIPONDOH, agency_id, citizen, employee, submit
from sqlalchemy import select

from kotalive.auth.models import AuditEntry
from kotalive.modules.laksa.demo import demo_boundaries


async def admin_of(app, client_for, database, city):
    return await employee(app, client_for, database, city, None, roles=("city_admin",))


async def test_a_new_rule_routes_and_the_preview_says_why(app, client_for, database, city) -> None:
    admin = await admin_of(app, client_for, database, city)
    pupr, dlh, pdam = [await agency_id(database, city, c) for c in ("pupr", "dlh", "pdam")]
    bad = await admin.post(
        "/api/v1/laksa/admin/rules",
        json={
            "code": "Pipa Bocor",
            "hashtags": ["123", "#ok"],
            "agency_id": 999_999,
            "sla_hours": 0,
            "kecamatan_codes": ["99.99"],
            "category_code": "nope",
        },
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {
        "code",
        "hashtags",
        "agency_id",
        "sla_hours",
        "kecamatan_codes",
        "category_code",
    }
    made = await admin.post(
        "/api/v1/laksa/admin/rules",
        json={
            "code": "pipa-bocor",
            "hashtags": ["#PipaBocor", "air_mati"],
            "agency_id": pdam,
            "copy_agency_ids": [pupr, pdam],
            "priority": "high",
            "sla_hours": 6,
            "precedence": 50,
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["hashtags"] == ["pipabocor", "airmati"] and made.json()["copy_agency_ids"] == [pupr]
    local = await admin.post(
        "/api/v1/laksa/admin/rules",
        json={
            "code": "pipa-ciledug",
            "hashtags": ["pipabocor"],
            "agency_id": dlh,
            "precedence": 10,
            "kecamatan_codes": ["36.71.06"],
        },
    )
    assert local.status_code == 201, local.text
    public = client_for(city.primary_host)
    text = {"description": "Air mati dan #pipa-bocor di gang 3"}
    here = (
        await public.post(
            "/api/v1/laksa/routing/preview", json={**text, "lat": CIPONDOH[0], "lon": CIPONDOH[1]}
        )
    ).json()
    assert (
        here["rule"] == "pipa-bocor"
        and here["agency"]["id"] == pdam
        and here["matched_tags"] == ["pipabocor"]
    )
    assert {c["rule"]: c["outcome"] for c in here["considered"]} == {
        "pipa-ciledug": "other_kecamatan",
        "pipa-bocor": "matched",
    }
    there = (
        await public.post(
            "/api/v1/laksa/routing/preview", json={**text, "lat": CILEDUG[0], "lon": CILEDUG[1]}
        )
    ).json()
    assert there["rule"] == "pipa-ciledug" and there["kecamatan"] == "Ciledug"
    siti = await citizen(app, client_for, database, city)
    complaint = (
        await submit(siti, description=text["description"], lat=CIPONDOH[0], lon=CIPONDOH[1])
    ).json()["complaint"]
    assert complaint["agency_id"] == pdam and complaint["priority"] == "high"
    assert complaint["copy_agencies"] == ["Dinas Pekerjaan Umum dan Penataan Ruang"]
    # switched off: no longer routes, still listed for the admin
    rule_id = made.json()["id"]
    off = await admin.put(f"/api/v1/laksa/admin/rules/{rule_id}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    assert "pipa-bocor" not in [r["code"] for r in (await public.get("/api/v1/laksa/rules")).json()]
    assert "pipa-bocor" in [r["code"] for r in (await admin.get("/api/v1/laksa/admin/rules")).json()]
    gone = await admin.delete(f"/api/v1/laksa/admin/rules/{rule_id}")
    assert gone.status_code == 200
    assert (await admin.delete(f"/api/v1/laksa/admin/rules/{rule_id}")).status_code == 404
    async with database.tenant_session(city) as s:
        actions = list(await s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("laksa.%"))))
    assert actions.count("laksa.rule.create") == 2 and "laksa.rule.delete" in actions


async def test_categories_with_open311_attributes(app, client_for, database, city) -> None:
    admin = await admin_of(app, client_for, database, city)
    bad = await admin.post(
        "/api/v1/laksa/admin/categories",
        json={
            "code": "pohon",
            "name": "Pohon",
            "attributes": [{"code": "jenis", "datatype": "singlevaluelist"}],
        },
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "attributes.values"
    made = await admin.post(
        "/api/v1/laksa/admin/categories",
        json={
            "code": "pohon",
            "name": "Pohon perlu dipangkas",
            "agency_id": await agency_id(database, city, "dlh"),
            "attributes": [
                {"code": "tinggi", "datatype": "number", "required": True, "description": "Tinggi pohon (m)"},
                {
                    "code": "jenis",
                    "datatype": "singlevaluelist",
                    "values": [{"key": "mangga", "name": "Mangga"}],
                },
            ],
        },
    )
    assert made.status_code == 201, made.text
    taken = await admin.post("/api/v1/laksa/admin/categories", json={"code": "pohon", "name": "x"})
    assert taken.status_code == 422 and taken.json()["errors"][0]["code"] == "code.taken"
    siti = await citizen(app, client_for, database, city)
    base = {
        "description": "Dahan pohon menutup kabel listrik",
        "lat": CIPONDOH[0],
        "lon": CIPONDOH[1],
        "category": "pohon",
    }
    missing = await submit(siti, **base)
    assert missing.status_code == 422 and "Tinggi pohon (m)" in missing.json()["errors"][0]["reason"]
    ok = await submit(siti, **base, attributes={"tinggi": "7.5", "jenis": "mangga"})
    assert ok.status_code == 201 and ok.json()["complaint"]["agency"] == "Dinas Lingkungan Hidup"
    assert ok.json()["complaint"]["routing"] is None  # the citizen's own view has no routing internals
    listed = {c["code"] for c in (await client_for(city.primary_host).get("/api/v1/laksa/categories")).json()}
    assert "pohon" in listed


async def test_boundaries_upload_is_checked_and_replaces_the_old_ones(
    app, client_for, database, city
) -> None:
    admin = await admin_of(app, client_for, database, city)
    cases = [
        (b"not json", "not_json"),
        (b'{"type": "Point", "coordinates": [1, 2]}', "invalid"),
        (
            b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"kecamatan": "X"},'
            b' "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}]}',
            "invalid",
        ),
        (
            b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"kecamatan": "X"},'
            b' "geometry": {"type": "Polygon", "coordinates": [[[500, 0], [501, 1], [501, 0], [500, 0]]]}}]}',
            "invalid",
        ),
    ]
    for body, code in cases:
        r = await admin.put(
            "/api/v1/laksa/admin/areas", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == f"areas.{code}", r.text
    self_crossing = r.json()["errors"][0]["reason"]
    assert "[longitude, latitude]" in self_crossing
    bekasi = demo_boundaries("bekasi")
    saved = await admin.put("/api/v1/laksa/admin/areas", json=bekasi)
    assert saved.status_code == 200 and saved.json()["kecamatan"] == 12
    areas = (await client_for(city.primary_host).get("/api/v1/laksa/areas")).json()
    assert {f["properties"]["name"] for f in areas["features"] if f["properties"]["kind"] == "kecamatan"} >= {
        "Bekasi Barat",
        "Rawalumbu",
    }
    siti = await citizen(app, client_for, database, city)
    moved = await submit(siti, description="Lampu jalan mati #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1])
    assert moved.status_code == 422 and moved.json()["errors"][0]["code"] == "location.outside_city"


async def test_sla_policies_and_holidays(app, client_for, database, city) -> None:
    admin = await admin_of(app, client_for, database, city)
    ok = await admin.put("/api/v1/laksa/admin/sla/policies/normal", json={"hours": 24, "calendar": "always"})
    assert ok.status_code == 200 and ok.json()["hours"] == 24
    bad = await admin.put(
        "/api/v1/laksa/admin/sla/policies/normal",
        json={"hours": 0, "calendar": "lunar", "at_risk_percent": 100},
    )
    assert bad.status_code == 422 and len(bad.json()["errors"]) == 3
    assert (await admin.put("/api/v1/laksa/admin/sla/policies/urgent", json={"hours": 1})).status_code == 404
    added = await admin.post("/api/v1/laksa/admin/sla/holidays", json={"day": "2026-12-25", "name": "Natal"})
    assert added.status_code == 201
    assert (
        await admin.post("/api/v1/laksa/admin/sla/holidays", json={"day": "25/12", "name": "x"})
    ).status_code == 422
    sla = (await admin.get("/api/v1/laksa/admin/sla")).json()
    assert sla["policies"]["normal"] == {"hours": 24, "calendar": "always", "at_risk_percent": 75}
    assert sla["holidays"] == [{"day": "2026-12-25", "name": "Natal"}]
    assert (await admin.delete("/api/v1/laksa/admin/sla/holidays/2026-12-25")).status_code == 200
    # a complaint routed by category (no rule hours) now gets the policy's 24 hours around the clock
    siti = await citizen(app, client_for, database, city)
    r = await submit(
        siti,
        description="Ada masalah di taman, mohon dicek",
        category="public-order",
        lat=CIPONDOH[0],
        lon=CIPONDOH[1],
    )
    assert r.status_code == 201 and r.json()["routing"]["via"] == "category"


async def test_open311_keys_are_shown_once_and_revocable(app, client_for, database, city) -> None:
    admin = await admin_of(app, client_for, database, city)
    made = await admin.post("/api/v1/laksa/admin/open311-keys", json={"name": "Aplikasi Warga"})
    assert made.status_code == 201 and made.json()["api_key"].startswith("kl311_")
    listed = (await admin.get("/api/v1/laksa/admin/open311-keys")).json()
    assert [k["name"] for k in listed] == ["Aplikasi Warga"] and "api_key" not in listed[0]
    assert made.json()["api_key"] not in str(listed)
    assert (await admin.delete(f"/api/v1/laksa/admin/open311-keys/{made.json()['id']}")).status_code == 200
    assert (await admin.get("/api/v1/laksa/admin/open311-keys")).json()[0]["revoked"] is True
