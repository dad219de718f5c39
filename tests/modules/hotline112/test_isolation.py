"""112 isolation: calls, caller locations, rejected messages and incidents written in city A are
invisible and unreachable from city B through the API, the stream, the pages, the webhooks and raw
SQL under B's session."""

from __future__ import annotations

import uuid
from typing import Any

from hotline112_calls_support import (
    aml_body,
    aml_fields,
    calltaker,
    connect_telephony,
    event,
    new_number,
    patch,
    send_aml,
    send_events,
)

from kotalive.auth.sessions import COOKIE_NAME

SECRET_B = "rahasia-kota-b"


async def test_what_city_a_writes_city_b_never_sees(
    app: Any, client_for: Any, database: Any, settings: Any, make_city: Any
) -> None:
    a = await make_city("iso-a", region_code="3671", name="Kota A")
    b = await make_city("iso-b", region_code="3275", name="Kota B")
    await connect_telephony(database, settings, a)
    await connect_telephony(database, settings, b, secret=SECRET_B)
    ani = await calltaker(app, client_for, database, a)
    budi = await calltaker(app, client_for, database, b)
    cti_a, cti_b = client_for(a.primary_host), client_for(b.primary_host)

    number = new_number()
    ref = f"cti-rahasia-{uuid.uuid4().hex[:6]}"
    assert (await send_events(cti_a, event("offered", ref, number))).json()["accepted"] == 1
    await send_aml(cti_a, aml_body(aml_fields(number, lat=-6.1111, lon=106.1111)))
    await send_aml(cti_a, b"location_latitude=rusak")  # rejected in A
    call_id = (await ani.get("/api/v1/hotline112/calls/live")).json()["calls"][0]["id"]
    made = await ani.post(
        "/api/v1/hotline112/incidents",
        json={"call_ids": [call_id], "type": "crime", "location_source": "aml", "summary": "Rahasia kota A"},
    )
    assert made.status_code == 201
    incident_id = made.json()["incident"]["id"]
    await ani.post(f"/api/v1/hotline112/incidents/{incident_id}/notes", json={"body": "Catatan rahasia A"})

    # B's webhooks: A's secret does not sign for B, and B's AML from A's caller matches nothing of A.
    assert (await send_events(cti_b, event("answered", ref, number))).status_code == 401
    await send_aml(cti_b, aml_body(aml_fields(number, lat=-6.2222, lon=106.2222)))

    # The API: lists empty, ids unknown.
    assert (await budi.get("/api/v1/hotline112/calls/live")).json()["calls"] == []
    assert (await budi.get("/api/v1/hotline112/incidents")).json()["incidents"] == []
    for path in (
        f"/api/v1/hotline112/calls/{call_id}",
        f"/api/v1/hotline112/incidents/{incident_id}",
        f"/api/v1/hotline112/incidents/{incident_id}/eido",
    ):
        r = await budi.get(path)
        assert r.status_code == 404 and "Rahasia" not in r.text, path
    for path, body in (
        (f"/api/v1/hotline112/calls/{call_id}/disposition", {"disposition": "prank"}),
        (f"/api/v1/hotline112/calls/{call_id}/location", {"lat": -6.2, "lon": 106.2}),
        (f"/api/v1/hotline112/incidents/{incident_id}/notes", {"body": "masuk"}),
        (f"/api/v1/hotline112/incidents/{incident_id}/close", {}),
        ("/api/v1/hotline112/incidents", {"call_ids": [call_id], "type": "crime", "lat": -6.2, "lon": 106.2}),
    ):
        assert (await budi.post(path, json=body)).status_code == 404, path
    assert (
        await patch(budi, f"/api/v1/hotline112/incidents/{incident_id}", {"priority": "P4"})
    ).status_code == 404
    stream = await budi.client.get(
        "/api/v1/hotline112/calls/stream?once=true", headers={"accept": "text/event-stream"}
    )
    assert stream.status_code == 200 and ref not in stream.text and number not in stream.text

    # The pages.
    screen = await budi.client.get(f"/112?panggilan={call_id}", headers={"accept": "text/html"})
    assert screen.status_code == 404 and number not in screen.text and ref not in screen.text
    page = await budi.client.get(f"/112/insiden/{incident_id}", headers={"accept": "text/html"})
    assert page.status_code == 404 and "Rahasia" not in page.text
    form = await budi.client.post(
        f"/112/insiden/{incident_id}/catatan",
        data={"body": "x", "_csrf_token": budi.csrf},
        headers={"accept": "text/html"},
    )
    assert form.status_code == 404

    # A's session cookie is refused on B's host.
    stolen = client_for(b.primary_host)
    stolen.cookies.set(COOKIE_NAME, ani.client.cookies[COOKIE_NAME])
    assert (
        await stolen.get("/api/v1/hotline112/calls/live", headers={"accept": "application/json"})
    ).status_code == 401

    # Raw SQL under B's session reads B's schema only.
    async with database.tenant_session(b) as s:
        counts = dict(
            (
                await s.execute_sql(
                    "SELECT 'h112_call', count(*) FROM {city}.h112_call"
                    " UNION ALL SELECT 'h112_call_event', count(*) FROM {city}.h112_call_event"
                    " UNION ALL SELECT 'h112_incident', count(*) FROM {city}.h112_incident"
                    " UNION ALL SELECT 'h112_timeline', count(*) FROM {city}.h112_timeline"
                    " UNION ALL SELECT 'h112_rejected', count(*) FROM {city}.h112_rejected"
                )
            ).all()
        )
        located = (await s.execute_sql("SELECT call_id, lat FROM {city}.h112_location")).all()
    assert len(counts) == 5 and counts == dict.fromkeys(counts, 0)
    assert [(r.call_id, r.lat) for r in located] == [(None, -6.2222)]  # B's own AML, waiting, unmatched
    async with database.tenant_session(a) as s:
        a_locations = (
            (await s.execute_sql("SELECT lat FROM {city}.h112_location ORDER BY id")).scalars().all()
        )
        a_rejected = (await s.execute_sql("SELECT count(*) FROM {city}.h112_rejected")).scalar_one()
    assert list(a_locations) == [-6.1111] and a_rejected == 1
