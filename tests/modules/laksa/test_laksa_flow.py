"""A complaint from citizen to agency and back, end to end through the real app: a dark street lamp
with a photo and #lampumati routes to PUPR by rule; an employee acknowledges, works and resolves it
with a photo; the citizen sees every step in the city's time zone and rates it. An untagged complaint
lands in triage."""

from __future__ import annotations

import pytest
from laksa_support import CIPONDOH, agency_id, citizen, employee, jpeg, submit
from sqlalchemy import select
from support import settled, wait_until

from kotalive.events import OutboxEvent, wait_for_relays
from kotalive.modules.laksa.models import Media


async def test_street_lamp_from_citizen_to_pupr_and_back(
    app, client_for, database, city, broker, worker
) -> None:
    siti = await citizen(app, client_for, database, city)
    pupr = await agency_id(database, city, "pupr")
    answer = await submit(
        siti,
        description="Lampu jalan di depan gang mati sejak tiga hari #LampuMati",
        lat=CIPONDOH[0],
        lon=CIPONDOH[1],
        photos=[("lampu.jpg", jpeg(gps=True))],
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    complaint = body["complaint"]
    cid = complaint["id"]
    assert complaint["state"] == "forwarded"
    assert complaint["agency_id"] == pupr
    assert complaint["kecamatan"] == "Cipondoh"
    assert complaint["hashtags"] == ["lampumati"]
    assert body["routing"]["via"] == "rule" and body["routing"]["rule"] == "pju"
    assert complaint["due_at"] is not None and complaint["submitted_at"].endswith("+07:00")

    # The photo is re-encoded by a worker: EXIF (GPS, camera serial) gone, a thumbnail made.
    await wait_for_relays()

    async def photo_ready() -> bool:
        async with database.tenant_session(city) as s:
            media = await s.scalar(select(Media).where(Media.complaint_id == cid))
        return media is not None and media.status == "ready"

    await wait_until(photo_ready, "the photo to be processed", 15)
    mine = (await siti.get(f"/api/v1/laksa/complaints/{cid}")).json()
    assert mine["audience"] == "owner"
    photo = mine["photos"][0]
    image = await siti.get(photo["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert b"SERIAL-12345" not in image.content and b"Exif" not in image.content[:200]
    assert (await siti.get(photo["thumbnail_url"])).status_code == 200

    worker_pupr = await employee(app, client_for, database, city, "pupr")
    inbox = (await worker_pupr.get("/api/v1/laksa/inbox")).json()
    assert "items" in inbox, inbox
    assert [i["id"] for i in inbox["items"]] == [cid]
    for step, extra in (("acknowledge", {}), ("start", {"note": "Tim berangkat"})):
        r = await worker_pupr.post(f"/api/v1/laksa/complaints/{cid}/{step}", json=extra)
        assert r.status_code == 200, r.text
    resolved = await worker_pupr.post(
        f"/api/v1/laksa/complaints/{cid}/resolve",
        data={"note": "Lampu sudah diganti dengan LED baru"},
        files=[("photos", ("bukti.jpg", jpeg(color="white"), "image/jpeg"))],
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved"

    # Acting twice is refused with the reason (409), nothing changes.
    again = await worker_pupr.post(f"/api/v1/laksa/complaints/{cid}/acknowledge", json={})
    assert again.status_code == 409 and again.json()["error"] == "invalid_transition"

    seen = (await siti.get(f"/api/v1/laksa/complaints/{cid}")).json()
    kinds = [e["kind"] for e in seen["timeline"]]
    assert kinds == ["submitted", "routed", "acknowledged", "started", "resolved"]
    assert all(e["at"].endswith("+07:00") for e in seen["timeline"])
    assert seen["timeline"][-1]["body"] == "Lampu sudah diganti dengan LED baru"
    assert seen["timeline"][-1]["actor"] == "Dinas Pekerjaan Umum dan Penataan Ruang"

    rated = await siti.post(f"/api/v1/laksa/complaints/{cid}/rating", json={"rating": 5, "comment": "Cepat!"})
    assert rated.status_code == 200 and rated.json()["rating"] == 5
    closed = await siti.post(f"/api/v1/laksa/complaints/{cid}/close", json={})
    assert closed.json()["state"] == "closed"

    await wait_for_relays()
    await wait_until(settled(broker), "events to be delivered", 15)
    async with database.tenant_session(city) as s:
        types = list(await s.scalars(select(OutboxEvent.event_type).order_by(OutboxEvent.id)))
    assert types[:3] == ["laksa.complaint_submitted", "laksa.complaint_routed", "laksa.photos_uploaded"]
    assert types.count("laksa.complaint_status_changed") == 4


async def test_an_untagged_complaint_lands_in_triage(app, client_for, database, city) -> None:
    budi = await citizen(app, client_for, database, city, "Budi Santoso")
    r = await submit(
        budi, description="Ada kabel menjuntai rendah di atas jalan", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    assert r.status_code == 201, r.text
    complaint = r.json()["complaint"]
    assert complaint["state"] == "triage" and complaint["agency_id"] is None
    operator = await employee(app, client_for, database, city, None, roles=("liveroom_operator",))
    queue = (await operator.get("/api/v1/laksa/inbox", params={"queue": "triage"})).json()
    assert complaint["id"] in [i["id"] for i in queue["items"]]
    pupr = await agency_id(database, city, "pupr")
    forwarded = await operator.post(
        f"/api/v1/laksa/complaints/{complaint['id']}/forward", json={"agency_id": pupr, "note": "Cek kabel"}
    )
    assert forwarded.status_code == 200, forwarded.text
    assert forwarded.json()["state"] == "forwarded" and forwarded.json()["agency_id"] == pupr


@pytest.mark.parametrize("step", ["acknowledge", "start"])
async def test_another_agency_cannot_act(app, client_for, database, city, step) -> None:
    siti = await citizen(app, client_for, database, city)
    r = await submit(
        siti, description="Sampah menumpuk di pinggir jalan #sampah", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    cid = r.json()["complaint"]["id"]
    pupr = await employee(app, client_for, database, city, "pupr")
    refused = await pupr.post(f"/api/v1/laksa/complaints/{cid}/{step}", json={})
    assert refused.status_code == 404  # not theirs to see
