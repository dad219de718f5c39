"""Recommendation and assignment over the app's HTTP interface: nearest suitable available units
with distance and ETA at the city's speeds; two dispatchers sending the same unit at once (one wins,
the other is told who took it); the cycle moving the assignment's moments, the incident's state
and timeline and the events; another city's incident (404); the agency told of its dispatched unit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from h112_dispatch_support import CENTRE, add_incident, dispatcher, incident_row, make_unit, north_of
from laksa_support import employee
from notify_support import SmtpServer, settle, wire, with_contact
from sqlalchemy import select
from support import wait_until

from kotalive.events import wait_for_relays
from kotalive.geo import distance_m
from kotalive.modules.hotline112.domain import eta_seconds
from kotalive.modules.hotline112.models import Assignment, TimelineEntry
from kotalive.notify.models import Notification

API = "/api/v1/hotline112"


@pytest.fixture
async def city(make_city: Any) -> Any:
    return await make_city("h112d", region_code="3671", name="Kota Uji Dispatch")


async def test_recommendation_nearest_suitable_available_with_eta(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    incident = await add_incident(database, city, type_code="fire")
    far = await make_unit(dewi, database, city, "DMK-FAR", "fire_engine", "damkar", north_of(CENTRE, 3000))
    near = await make_unit(dewi, database, city, "DMK-NEAR", "fire_engine", "damkar", north_of(CENTRE, 1000))
    amb = await make_unit(dewi, database, city, "AMB-1", "ambulance", "dinkes", north_of(CENTRE, 1500))
    await make_unit(
        dewi, database, city, "POL-1", "police", "polres", north_of(CENTRE, 200)
    )  # not for a fire
    await make_unit(dewi, database, city, "DMK-NOPOS", "fire_engine", "damkar")  # no position
    off = await make_unit(dewi, database, city, "DMK-OFF", "fire_engine", "damkar", north_of(CENTRE, 100))
    assert (
        await dewi.post(f"{API}/units/{off['id']}/status", json={"status": "out_of_service"})
    ).status_code == 200

    r = await dewi.get(f"{API}/incidents/{incident}/recommendations")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unit_types"] == ["fire_engine", "ambulance"]
    recs = body["recommendations"]
    # Fire engines at 35 km/h, ambulances at 40 km/h (the seeded speeds), ordered by ETA.
    assert [x["call_sign"] for x in recs] == ["DMK-NEAR", "AMB-1", "DMK-FAR"]
    for rec, unit, speed in ((recs[0], near, 35.0), (recs[1], amb, 40.0), (recs[2], far, 35.0)):
        expected = distance_m(unit["lat"], unit["lon"], *CENTRE)
        assert rec["distance_m"] == pytest.approx(expected, abs=0.2)
        assert rec["eta_seconds"] == eta_seconds(expected, speed)
    assert recs[0]["distance_m"] == pytest.approx(1000, abs=0.5)

    # A city that drives its fire engines slower: the ambulance now comes first.
    slow = await dewi.client.patch(
        f"{API}/unit-types/fire_engine", json={"avg_speed_kmh": 20}, headers=dewi.headers()
    )
    assert slow.status_code == 200, slow.text
    bad = await dewi.client.patch(
        f"{API}/unit-types/fire_engine", json={"avg_speed_kmh": 0}, headers=dewi.headers()
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "avg_speed_kmh"
    again = (await dewi.get(f"{API}/incidents/{incident}/recommendations")).json()["recommendations"]
    assert [x["call_sign"] for x in again] == ["AMB-1", "DMK-NEAR", "DMK-FAR"]
    assert again[1]["eta_seconds"] == eta_seconds(distance_m(near["lat"], near["lon"], *CENTRE), 20.0)
    one = (await dewi.get(f"{API}/incidents/{incident}/recommendations", params={"per_type": 1})).json()
    assert [x["call_sign"] for x in one["recommendations"]] == ["AMB-1", "DMK-NEAR"]
    assert (
        await dewi.get(f"{API}/incidents/{incident}/recommendations", params={"per_type": 0})
    ).status_code == 422

    police = (await dewi.get(f"{API}/incidents/{incident}/recommendations", params={"type": "police"})).json()
    assert (police["unit_types"], [x["call_sign"] for x in police["recommendations"]]) == (
        ["police"],
        ["POL-1"],
    )
    unknown = await dewi.get(f"{API}/incidents/{incident}/recommendations", params={"type": "tank"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "type"

    nowhere = await add_incident(database, city, type_code="medical", lat=None, lon=None)
    r = await dewi.get(f"{API}/incidents/{nowhere}/recommendations")
    assert r.status_code == 409 and r.json()["error"] == "incident_without_location"


async def test_two_dispatchers_sending_the_same_unit_at_once_one_wins(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    dewi = await dispatcher(app, client_for, database, city, "Dewi Dispatcher")
    eko = await dispatcher(app, client_for, database, city, "Eko Dispatcher")
    first = await add_incident(database, city, type_code="medical", summary="Pingsan")
    second = await add_incident(database, city, type_code="traffic_accident", priority="P2")
    amb = await make_unit(dewi, database, city, "AMB-7", "ambulance", "dinkes", north_of(CENTRE, 800))
    spare = await make_unit(dewi, database, city, "AMB-8", "ambulance", "dinkes", north_of(CENTRE, 900))

    a, b = await asyncio.gather(
        dewi.post(f"{API}/incidents/{first}/assignments", json={"unit_ids": [amb["id"]]}),
        eko.post(f"{API}/incidents/{second}/assignments", json={"unit_ids": [spare["id"], amb["id"]]}),
    )
    assert sorted([a.status_code, b.status_code]) == [201, 409], (a.text, b.text)
    won, lost = (a, b) if a.status_code == 201 else (b, a)
    winner = "Dewi Dispatcher" if won is a else "Eko Dispatcher"
    won_incident = first if won is a else second
    refusal = lost.json()
    assert refusal["error"] == "unit_taken" and refusal["errors"][0]["field"] == "unit_ids"
    assert refusal["context"]["call_sign"] == "AMB-7" and refusal["context"]["by"] == winner
    assert refusal["context"]["incident_id"] == won_incident
    assert "AMB-7" in refusal["detail"] and winner in refusal["detail"]
    async with database.tenant_session(city) as session:
        active = (await session.scalars(select(Assignment).where(Assignment.state == "active"))).all()
    # All or nothing: the losing request sent neither of its units.
    assert sorted((x.unit_id, x.incident_id) for x in active) == (
        [(amb["id"], first)] if won is a else sorted([(spare["id"], second), (amb["id"], second)])
    )


async def test_the_cycle_moves_assignment_incident_timeline_and_events(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    incident = await add_incident(database, city, type_code="medical")
    amb = await make_unit(dewi, database, city, "AMB-3", "ambulance", "dinkes", north_of(CENTRE, 2000))
    token = (await dewi.post(f"{API}/units/{amb['id']}/terminal-token")).json()["token"]
    empty = await dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": []})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "unit_ids"
    ghost = await dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [987654]})
    assert ghost.status_code == 404

    made = await dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [amb["id"]]})
    assert made.status_code == 201, made.text
    assignment = made.json()["assignments"][0]
    assert made.json()["state"] == "dispatched" and assignment["unit"]["status"] == "dispatched"
    expected = distance_m(amb["lat"], amb["lon"], *CENTRE)
    assert assignment["distance_m"] == pytest.approx(2000, abs=0.5)
    assert assignment["eta_seconds"] == eta_seconds(expected, 40.0)
    row = await incident_row(database, city, incident)
    assert (row.state, row.first_dispatch_at is not None) == ("dispatched", True)
    first_dispatch = row.first_dispatch_at
    # The dispatched unit no longer shows among the recommendations.
    recs = (await dewi.get(f"{API}/incidents/{incident}/recommendations")).json()["recommendations"]
    assert recs == []

    auth = {"authorization": f"Bearer {token}"}
    async with client_for(city.primary_host) as terminal:
        shown = (await terminal.get(f"{API}/terminal", headers=auth)).json()
        assert shown["assignment"]["incident"]["id"] == incident
        for status in ("en_route", "on_scene"):
            r = await terminal.post(f"{API}/terminal/status", json={"status": status}, headers=auth)
            assert r.status_code == 200, r.text
    assert (await incident_row(database, city, incident)).state == "on_scene"
    for status in ("transporting", "at_hospital", "back_in_service"):
        r = await dewi.post(f"{API}/units/{amb['id']}/status", json={"status": status})
        assert r.status_code == 200, r.text
    listed = (await dewi.get(f"{API}/incidents/{incident}/assignments")).json()["assignments"]
    [done] = listed
    assert done["state"] == "cleared" and done["unit"]["incident_id"] is None
    moments = [
        done[k]
        for k in (
            "assigned_at",
            "en_route_at",
            "on_scene_at",
            "transporting_at",
            "at_hospital_at",
            "cleared_at",
        )
    ]
    assert None not in moments and moments == sorted(moments)
    row = await incident_row(database, city, incident)
    assert row.state == "on_scene" and row.first_dispatch_at == first_dispatch

    async with database.tenant_session(city) as session:
        kinds = (
            await session.execute(
                select(TimelineEntry.kind, TimelineEntry.data["status"].astext, TimelineEntry.actor_name)
                .where(TimelineEntry.incident_id == incident)
                .order_by(TimelineEntry.at, TimelineEntry.id)
            )
        ).all()
        outbox = (
            await session.execute_sql(
                "SELECT event_type, payload FROM {city}.outbox_event WHERE event_type LIKE 'hotline112.%' ORDER BY id"
            )
        ).all()
    assert [(k, s) for k, s, _ in kinds] == [
        ("dispatched", None),
        ("unit_status", "en_route"),
        ("unit_status", "on_scene"),
        ("unit_status", "transporting"),
        ("unit_status", "at_hospital"),
        ("unit_status", "back_in_service"),
    ]
    assert kinds[1][2] == "AMB-3" and kinds[3][2] == "Dewi"  # the terminal, then the dispatcher
    statuses = [p["status"] for t, p in outbox if t == "hotline112.unit_status_changed"]
    assert statuses == [
        "dispatched",
        "en_route",
        "on_scene",
        "transporting",
        "at_hospital",
        "back_in_service",
    ]
    changed = [p for t, p in outbox if t == "hotline112.unit_status_changed"][0]
    assert set(changed) >= {
        "unit_id",
        "call_sign",
        "type",
        "status",
        "incident_id",
        "lat",
        "lon",
        "agency_id",
    }
    assert changed["incident_id"] == incident
    updates = [p for t, p in outbox if t == "hotline112.incident_updated"]
    assert updates[0]["state"] == "dispatched" and updates[0]["units"][0]["call_sign"] == "AMB-3"
    assert [t for t, _ in outbox].count("hotline112.units_dispatched") == 1

    # Cancelled before arriving: back to open when no other unit works it.
    second = await add_incident(database, city, type_code="medical")
    await dewi.post(f"{API}/units/{amb['id']}/status", json={"status": "available"})
    assert (
        await dewi.post(f"{API}/incidents/{second}/assignments", json={"unit_ids": [amb["id"]]})
    ).status_code == 201
    assert (
        await dewi.post(f"{API}/units/{amb['id']}/status", json={"status": "available"})
    ).status_code == 200
    after = await incident_row(database, city, second)
    assert after.state == "open" and after.first_dispatch_at is not None
    closed = await add_incident(database, city, state="closed")
    r = await dewi.post(f"{API}/incidents/{closed}/assignments", json={"unit_ids": [amb["id"]]})
    assert r.status_code == 409 and r.json()["error"] == "incident_closed"


async def test_another_citys_incident_is_not_found(
    app: Any, client_for: Any, database: Any, city: Any, make_city: Any
) -> None:
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    incident = await add_incident(database, city)
    mine = await make_unit(dewi, database, city, "DMK-5", "fire_engine", "damkar", CENTRE)
    other = await make_city("h112e", region_code="3275", name="Kota Uji Seberang")
    eko = await dispatcher(app, client_for, database, other, "Eko")
    theirs = await make_unit(eko, database, other, "DMK-5", "fire_engine", "damkar", CENTRE)
    assert (await eko.get(f"{API}/incidents/{incident}/recommendations")).status_code == 404
    assert (await eko.get(f"{API}/incidents/{incident}/assignments")).status_code == 404
    r = await eko.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [theirs["id"]]})
    assert r.status_code == 404
    # A unit id of the other city is no unit here.
    r = await dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [theirs["id"] + 10_000]})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "unit_ids"
    assert (await dewi.get(f"{API}/units/{mine['id']}")).json()["unit"]["status"] == "available"


async def test_the_agency_hears_its_unit_was_dispatched(
    app: Any, client_for: Any, database: Any, settings: Any, city: Any, broker: Any, worker: Any
) -> None:
    smtp = SmtpServer().start()
    try:
        await wire(database, settings, city, smtp=smtp)
        dewi = await dispatcher(app, client_for, database, city, "Dewi Dispatcher")
        pemadam = await employee(app, client_for, database, city, "damkar", name="Pak Pemadam")
        await with_contact(database, city, pemadam, email="pemadam@kota.test")
        perawat = await employee(app, client_for, database, city, "dinkes", name="Bu Perawat")
        incident = await add_incident(database, city, type_code="fire", address="Jl. Merdeka 10")
        engine = await make_unit(
            dewi, database, city, "DMK-21", "fire_engine", "damkar", north_of(CENTRE, 500)
        )
        r = await dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [engine["id"]]})
        assert r.status_code == 201

        async def bell() -> Any:
            await wait_for_relays()
            got = (await pemadam.get("/api/v1/notifications")).json()
            return [n for n in got["items"] if n["message"] == "hotline112.units_dispatched"]

        [note] = await wait_until(bell, "the agency's bell", 20)
        assert "DMK-21" in note["title"] and note["link"] == f"/112/insiden/{incident}"
        await settle(broker)
        mails = await wait_until(lambda: smtp.mailbox.to("pemadam@kota.test"), "the e-mail", 20)
        assert "DMK-21" in mails[0]["Subject"]
        # Another agency's people hear nothing of it.
        async with database.tenant_session(city) as session:
            theirs = (
                await session.scalars(
                    select(Notification).where(
                        Notification.recipient_id == perawat.id,
                        Notification.message == "hotline112.units_dispatched",
                    )
                )
            ).all()
        assert theirs == []
    finally:
        smtp.stop()


async def test_dispatch_screens_hear_units_and_incidents_live(
    app: Any, client_for: Any, database: Any, settings: Any, city: Any, broker: Any
) -> None:
    import msgspec
    import redis.asyncio as aioredis

    from kotalive import live

    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    incident = await add_incident(database, city, type_code="medical")
    amb = await make_unit(dewi, database, city, "AMB-L", "ambulance", "dinkes", north_of(CENTRE, 700))
    channel = live.topic_channel(city, "hotline112.dispatch")
    redis = aioredis.from_url(settings.redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel)
    heard: list[dict[str, Any]] = []

    async def drain() -> list[dict[str, Any]]:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if message is None:
                return heard
            heard.append(msgspec.json.decode(message["data"]))

    try:
        assert (
            await dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [amb["id"]]})
        ).status_code == 201
        moved = await dewi.post(f"{API}/units/{amb['id']}/position", json={"lat": -6.18, "lon": 106.63})
        assert moved.status_code == 200

        async def got_all() -> bool:
            await live.wait_for_hand_overs()
            await drain()
            return any(m["event"] == "unit" and m["data"]["lat"] == -6.18 for m in heard)

        await wait_until(got_all, "the dispatch channel to carry the dispatch and the position", 10)
        units = [m["data"] for m in heard if m["event"] == "unit" and m["data"]["status"] == "dispatched"]
        assert units[0]["incident_id"] == incident
        assert units[0]["call_sign"] == "AMB-L" and units[0]["agency_id"] == amb["agency_id"]
        incidents = [m["data"] for m in heard if m["event"] == "incident"]
        assert (
            incidents
            and incidents[0]["state"] == "dispatched"
            and incidents[0]["units"][0]["call_sign"] == "AMB-L"
        )
    finally:
        await pubsub.unsubscribe(channel)
        await pubsub.aclose()
        await redis.aclose()


async def test_terminal_and_dispatcher_acting_at_once_never_fail(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    """The terminal moving a unit while a dispatcher presses the same status, or sends the same
    unit again: each applied in turn against what the other left (200 and 409), never a 500."""
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    incident = await add_incident(database, city, type_code="medical")
    amb = await make_unit(dewi, database, city, "AMB-C", "ambulance", "dinkes", north_of(CENTRE, 600))
    token = (await dewi.post(f"{API}/units/{amb['id']}/terminal-token")).json()["token"]
    assert (
        await dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [amb["id"]]})
    ).status_code == 201
    auth = {"authorization": f"Bearer {token}"}
    async with client_for(city.primary_host) as terminal:
        a, b = await asyncio.gather(
            terminal.post(f"{API}/terminal/status", json={"status": "en_route"}, headers=auth),
            dewi.post(f"{API}/units/{amb['id']}/status", json={"status": "en_route"}),
        )
        assert sorted([a.status_code, b.status_code]) == [200, 409], (a.text, b.text)
        lost = a if a.status_code == 409 else b
        assert lost.json()["context"]["current"] == "en_route"
        c, d = await asyncio.gather(
            terminal.post(f"{API}/terminal/status", json={"status": "on_scene"}, headers=auth),
            dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [amb["id"]]}),
        )
    assert (c.status_code, d.status_code) == (200, 409), (c.text, d.text)
    assert d.json()["error"] == "unit_taken" and d.json()["context"]["by"] == "Dewi"
    async with database.tenant_session(city) as session:
        rows = (await session.scalars(select(Assignment).where(Assignment.unit_id == amb["id"]))).all()
    assert [(r.state, r.en_route_at is not None, r.on_scene_at is not None) for r in rows] == [
        ("active", True, True)
    ]


async def test_an_incident_with_a_unit_still_on_it_cannot_be_closed(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    incident = await add_incident(database, city, type_code="fire")
    unit = await make_unit(dewi, database, city, "DMK-9", "fire_engine", "damkar", north_of(CENTRE, 600))
    sent = await dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [unit["id"]]})
    assert sent.status_code == 201, sent.text

    refused = await dewi.post(f"{API}/incidents/{incident}/close", json={"reason": "selesai"})
    assert refused.status_code == 409, refused.text
    assert "DMK-9" in refused.text
    assert (await incident_row(database, city, incident)).state != "closed"

    back = await dewi.post(f"{API}/units/{unit['id']}/status", json={"status": "available"})
    assert back.status_code == 200, back.text
    closed = await dewi.post(f"{API}/incidents/{incident}/close", json={"reason": "selesai"})
    assert closed.status_code == 200, closed.text
    assert (await incident_row(database, city, incident)).state == "closed"
