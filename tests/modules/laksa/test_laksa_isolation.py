"""ARCHITECTURE §9: a complaint written in city A is invisible and unreachable from city B through
the API, the public map and statistics, the photos, the jobs and raw SQL; a login of A is refused
on B's host. (Open311 is covered in test_laksa_open311.py, the pages in test_laksa_pages.py.)"""

from __future__ import annotations

import datetime as dt

import pytest
from laksa_support import CIPONDOH, citizen, employee, jpeg, submit, with_boundaries
from sqlalchemy import select, update
from support import wait_until

from kotalive.context import CrossTenantError, use_tenant
from kotalive.events import wait_for_relays
from kotalive.modules.laksa import services
from kotalive.modules.laksa.models import Complaint, Media

SECRET = "Rahasia kota A: lampu mati di Jl. Kenanga #lampumati"


@pytest.fixture
async def two_cities(make_city, database):
    a = await make_city("laksa-a", name="Kota A")
    b = await make_city("laksa-b", name="Kota B")
    for c in (a, b):
        await with_boundaries(database, c)
    return a, b


async def test_a_complaint_of_a_is_nowhere_in_b(
    app, client_for, database, two_cities, broker, worker
) -> None:
    a, b = two_cities
    siti = await citizen(app, client_for, database, a)
    made = await submit(
        siti, description=SECRET, lat=CIPONDOH[0], lon=CIPONDOH[1], photos=[("x.jpg", jpeg())]
    )
    assert made.status_code == 201
    cid = made.json()["complaint"]["id"]
    await wait_for_relays()

    async def photo_ready() -> int | None:
        async with database.tenant_session(a) as s:
            return await s.scalar(select(Media.id).where(Media.complaint_id == cid, Media.status == "ready"))

    media_id = await wait_until(photo_ready, "the photo", 15)
    # B has complaints of its own with other ids, so "not found" is not the only reason to see nothing
    budi = await citizen(app, client_for, database, b, "Budi")
    for _ in range(3):
        await submit(budi, description="Sampah di kota B menumpuk #sampah", lat=CIPONDOH[0], lon=CIPONDOH[1])

    b_staff = {
        role: await employee(app, client_for, database, b, agency, roles=roles)
        for role, agency, roles in (
            ("pupr", "pupr", ("employee",)),
            ("operator", None, ("liveroom_operator",)),
            ("admin", None, ("city_admin",)),
        )
    }
    anonymous_b = client_for(b.primary_host)
    readers = [budi.client, anonymous_b, *(p.client for p in b_staff.values())]
    paths = [
        "/api/v1/laksa/inbox",
        "/api/v1/laksa/inbox?queue=triage",
        "/api/v1/laksa/inbox?state=forwarded&state=resolved",
        "/api/v1/laksa/complaints/mine",
        "/api/v1/laksa/public/complaints",
        "/api/v1/laksa/public/complaints.csv",
        "/api/v1/laksa/public/complaints.geojson",
        "/api/v1/laksa/public/statistics?by=agency",
        "/api/v1/laksa/public/statistics?by=kecamatan",
        f"/api/v1/laksa/nearby?lat={CIPONDOH[0]}&lon={CIPONDOH[1]}",
    ]
    for client in readers:
        for path in paths:
            r = await client.get(path, headers={"accept": "application/json"})
            assert "Rahasia kota A" not in r.text and "Kenanga" not in r.text, (path, r.status_code)
        one = await client.get(f"/api/v1/laksa/complaints/{cid}", headers={"accept": "application/json"})
        assert "Rahasia" not in one.text
        photo = await client.get(f"/api/v1/laksa/photos/{media_id}")
        assert photo.status_code == 404
    # B's statistics count B's complaints only
    stats = (await anonymous_b.get("/api/v1/laksa/public/statistics?by=agency")).json()
    assert sum(i["total"] for i in stats["items"]) == 3
    # acting on A's id from B's host is refused
    for step in ("acknowledge", "start"):
        r = await b_staff["pupr"].post(f"/api/v1/laksa/complaints/{cid}/{step}", json={})
        assert r.status_code in (404, 409) and "Rahasia" not in r.text


async def test_a_login_of_a_is_refused_on_bs_host(app, client_for, database, two_cities) -> None:
    a, b = two_cities
    siti = await citizen(app, client_for, database, a)
    made = await submit(siti, description=SECRET, lat=CIPONDOH[0], lon=CIPONDOH[1])
    cid = made.json()["complaint"]["id"]
    stray = client_for(b.primary_host)
    stray.cookies.set("kl_session", siti.client.cookies.get("kl_session"))
    for method, path in (
        ("GET", "/api/v1/laksa/complaints/mine"),
        ("GET", f"/api/v1/laksa/complaints/{cid}"),
    ):
        r = await stray.request(method, path, headers={"accept": "application/json"})
        assert r.status_code == 401 and "Rahasia" not in r.text


async def test_jobs_and_sql_of_b_never_touch_a(app, client_for, database, two_cities) -> None:
    a, b = two_cities
    siti = await citizen(app, client_for, database, a)
    made = await submit(siti, description=SECRET, lat=CIPONDOH[0], lon=CIPONDOH[1])
    cid = made.json()["complaint"]["id"]
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    async with database.tenant_session(a) as s:
        await s.execute(
            update(Complaint).where(Complaint.id == cid).values(due_at=long_ago, at_risk_at=long_ago)
        )
        await s.commit()
    with use_tenant(b):
        async with database.tenant_session(b) as s:
            assert await services.scan_sla(s) == {"at_risk": 0, "breached": 0, "escalated": 0}
            rows = (await s.execute_sql("SELECT description FROM {city}.laksa_complaint")).all()
            assert all("Rahasia" not in r[0] for r in rows)
    async with database.tenant_session(a) as s:
        row = await s.get(Complaint, cid)
    assert row is not None and row.sla_breached_flagged_at is None
    # a session of A refuses to run while B is in context (the scan of B cannot borrow it)
    async with database.tenant_session(a) as s:
        with use_tenant(b), pytest.raises(CrossTenantError):
            await services.scan_sla(s)
