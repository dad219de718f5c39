"""Laksa's events tell the right people by the right channels, once: the agency's staff (bell and
e-mail through a real SMTP server), the citizen (bell, and an SMS through the gateway simulator when
it is resolved), the Live Room for emergencies (urgent, whatever the hour)."""

from __future__ import annotations

from laksa_support import CIPONDOH, citizen, employee, submit
from notify_support import settle, with_contact
from sqlalchemy import select

from kotalive import events
from kotalive.events import OutboxEvent
from kotalive.notify.models import Delivery, Notification


async def bell(person) -> list[dict]:
    r = await person.get("/api/v1/notifications")
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_a_tagged_complaint_tells_the_agency_and_its_resolution_tells_the_citizen(
    app, client_for, database, city, smtp, sims, broker, worker
) -> None:
    agus = await employee(app, client_for, database, city, "pupr", name="Agus Setiawan")
    await with_contact(database, city, agus, email="agus@pupr.kota.test")
    dlh = await employee(app, client_for, database, city, "dlh")
    siti = await citizen(app, client_for, database, city, "Siti Rahmawati")
    await with_contact(database, city, siti, phone="+6281210000001")

    made = await submit(
        siti, description="Lampu jalan mati di depan gang #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    cid = made.json()["complaint"]["id"]
    await settle(broker)

    items = await bell(agus)
    assert [(i["message"], i["link"], i["read"]) for i in items] == [
        ("laksa.routed", f"/staff/laksa/{cid}", False)
    ]
    assert f"#{cid}" in items[0]["title"] and "Cipondoh" in items[0]["body"]
    assert (await agus.get("/api/v1/notifications/unread")).json() == {"unread": 1}
    assert await bell(dlh) == []  # another agency hears nothing
    mails = smtp.mailbox.to("agus@pupr.kota.test")
    assert len(mails) == 1 and f"#{cid}" in mails[0]["Subject"]
    assert "Lampu jalan mati" in mails[0].get_payload()

    resolved = await agus.post(
        f"/api/v1/laksa/complaints/{cid}/resolve", json={"note": "Lampu sudah diganti"}
    )
    assert resolved.status_code == 200
    await settle(broker)
    mine = await bell(siti)
    assert [i["message"] for i in mine] == ["laksa.resolved"]
    texts = [m.text for m in sims.sms_messages("tangerang", "+6281210000001")]
    assert any(f"#{cid}" in t and "Lampu sudah diganti" in t for t in texts), texts
    async with database.tenant_session(city) as s:
        rows = list(await s.scalars(select(Delivery).order_by(Delivery.id)))
    assert [(d.channel, d.status, d.attempts) for d in rows] == [("email", "sent", 1), ("sms", "sent", 1)]

    # marking read
    read = await siti.post("/api/v1/notifications/read", json={})
    assert read.json() == {"marked": 1, "unread": 0}


async def test_an_event_delivered_twice_tells_nobody_twice(
    app, client_for, database, city, smtp, broker, worker
) -> None:
    agus = await employee(app, client_for, database, city, "pupr")
    await with_contact(database, city, agus, email="agus@pupr.kota.test")
    siti = await citizen(app, client_for, database, city)
    await submit(
        siti, description="Lampu jalan mati di depan gang #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    await settle(broker)
    async with database.tenant_session(city) as s:
        routed = await s.scalar(select(OutboxEvent).where(OutboxEvent.event_type == "laksa.complaint_routed"))
    assert routed is not None
    # the same event again, as a redelivery after a lost acknowledgement would bring it, under a
    # consumer name that has no receipt yet (so the handler really runs again)
    with events.subscribed(routed.event_type, "kotalive.modules.laksa.subscribers:on_routed", name="again"):
        assert await events.deliver(city, routed.id, "again", routed.event_type, routed.payload)
    await settle(broker)
    assert len(await bell(agus)) == 1
    assert len(smtp.mailbox.to("agus@pupr.kota.test")) == 1
    async with database.tenant_session(city) as s:
        assert len(list(await s.scalars(select(Notification)))) == 1


async def test_an_emergency_reaches_the_live_room_at_once_even_in_quiet_hours(
    app, client_for, database, city, sims, broker, worker
) -> None:
    rina = await employee(app, client_for, database, city, None, roles=("liveroom_operator",), name="Rina")
    await with_contact(database, city, rina, phone="081220000003")
    all_day = await rina.put(
        "/api/v1/notifications/preferences", json={"quiet_from": "00:00", "quiet_until": "23:59"}
    )
    assert all_day.status_code == 200, all_day.text
    siti = await citizen(app, client_for, database, city)
    await submit(siti, description="Air sudah masuk rumah warga #banjir", lat=CIPONDOH[0], lon=CIPONDOH[1])
    untagged = await submit(
        siti, description="Ada yang aneh di taman, mohon dicek", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    await settle(broker)
    items = await bell(rina)
    kinds = sorted((i["message"], i["urgent"]) for i in items)
    assert kinds == [("laksa.emergency", True), ("laksa.triage", False)]
    assert any("DARURAT" in m.text for m in sims.sms_messages("tangerang", "+6281220000003"))
    assert untagged.status_code == 201
