"""Incidents through the API: opened from calls with the type's protocol answers checked, located
from AML or the map, changed, noted, closed, exported as NENA EIDO JSON; their events reach the Live
Room board, and a non-emergency call becomes a Laksa complaint (real worker, real events)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
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
from laksa_support import CIPONDOH, OUTSIDE, employee, with_boundaries
from sqlalchemy import select
from support import wait_until

from kotalive import live
from kotalive.context import use_tenant
from kotalive.events import wait_for_relays
from kotalive.modules.hotline112.calls import Refusal
from kotalive.modules.hotline112.incidents import IncidentTypeService
from kotalive.modules.laksa.models import Complaint


@pytest.fixture
async def city(make_city: Any, database: Any, settings: Any) -> Any:
    c = await make_city("insiden", region_code="3671", name="Kota Uji Insiden")
    await connect_telephony(database, settings, c)
    return c


async def new_call(
    client: Any, person: Any, number: str | None = None, *, with_aml: tuple[float, float] | None = None
) -> int:
    number = number or new_number()
    ref = f"cti-{uuid.uuid4().hex[:10]}"
    assert (await send_events(client, event("offered", ref, number))).status_code == 200
    if with_aml:
        await send_aml(
            client, aml_body(aml_fields(number, lat=with_aml[0], lon=with_aml[1], location_accuracy="35"))
        )
    calls = (await person.get("/api/v1/hotline112/calls/live")).json()["calls"]
    return int(next(c["id"] for c in calls if c["call_ref"] == ref))


async def test_an_incident_from_calls_with_aml_protocol_notes_close_and_eido(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await calltaker(app, client_for, database, city, name="Ani Penerima")
    cti = client_for(city.primary_host)
    number = new_number()
    call = await new_call(cti, ani, number, with_aml=(-6.1791, 106.6311))
    second = await new_call(cti, ani)

    types = (await ani.get("/api/v1/hotline112/incident-types")).json()["types"]
    fire = next(t for t in types if t["code"] == "fire")
    assert [q["key"] for q in fire["protocol"]] == ["trapped", "building", "spreading"]
    assert {t["code"] for t in types} >= {
        "medical",
        "fire",
        "crime",
        "traffic_accident",
        "disaster",
        "hearse",
        "public_order",
        "other",
    }

    url = "/api/v1/hotline112/incidents"
    base = {"call_ids": [call], "type": "fire", "location_source": "aml"}
    for body, status, field in (
        ({**base, "call_ids": []}, 422, "call_ids"),
        ({**base, "call_ids": [999999]}, 404, "call_ids[0]"),
        ({**base, "call_ids": ["x"]}, 422, "call_ids[0]"),
        ({**base, "type": "ufo"}, 422, "type"),
        ({**base, "type": None}, 422, "type"),
        ({**base, "priority": "P9"}, 422, "priority"),
        ({**base, "answers": {"alien": True}}, 422, "answers.alien"),
        ({**base, "answers": {"trapped": "mungkin"}}, 422, "answers.trapped"),
        ({**base, "answers": {"building": "kapal"}}, 422, "answers.building"),
        ({**base, "location_source": "map", "lat": -91, "lon": 106.6}, 422, "lat"),
        ({**base, "location_source": "map", "lat": -6.2, "lon": 200}, 422, "lon"),
        ({**base, "location_source": "satelit"}, 422, "location_source"),
        ({**base, "call_ids": [second]}, 422, "location_source"),  # no AML for that call
        ({**base, "callback_number": "telepon saya"}, 422, "callback_number"),
        ({"call_ids": [second], "type": "fire"}, 422, "lat"),  # no location at all
    ):
        r = await ani.post(url, json=body)
        assert r.status_code == status and r.json()["errors"][0]["field"] == field, (body, r.text)

    made = await ani.post(
        url,
        json={
            **base,
            "summary": "Kebakaran rumah dua lantai",
            "address": "Jl. Kenanga 5",
            "answers": {"trapped": "ya", "building": "rumah", "spreading": False},
        },
    )
    assert made.status_code == 201, made.text
    out = made.json()
    inc = out["incident"]
    assert (inc["lat"], inc["lon"], inc["accuracy_m"], inc["location_source"]) == (
        -6.1791,
        106.6311,
        35.0,
        "aml",
    )
    assert inc["priority"] == "P1" and inc["state"] == "open"  # the type's default priority
    assert inc["answers"] == {"trapped": True, "building": "rumah", "spreading": False}
    assert inc["callback_number"] == number
    assert out["calls"][0]["disposition"] == "emergency" and out["calls"][0]["incident_id"] == inc["id"]
    assert [e["kind"] for e in out["timeline"]] == ["opened", "call_linked", "location", "answers"]
    assert all(e["at"] and e["actor_name"] == "Ani Penerima" for e in out["timeline"])
    # A call belongs to one incident.
    again = await ani.post(url, json={**base})
    assert again.status_code == 409 and again.json()["error"] == "call_has_incident"

    iid = inc["id"]
    at_first = (await ani.get(f"/api/v1/hotline112/incidents/{iid}/eido")).json()["locationComponent"][0]
    assert "<gs:Circle" in at_first["locationByValue"] and ">35.0</gs:radius>" in at_first["locationByValue"]
    patched = await patch(
        ani,
        f"/api/v1/hotline112/incidents/{iid}",
        {
            "priority": "P2",
            "lat": -6.18,
            "lon": 106.632,
            "location_source": "map",
            "answers": {"spreading": "ya"},
        },
    )
    assert patched.status_code == 200, patched.text
    p = patched.json()["incident"]
    assert p["priority"] == "P2" and (p["lat"], p["location_source"]) == (-6.18, "map")
    assert p["answers"]["spreading"] is True and p["answers"]["trapped"] is True and p["version"] == 1
    for body, status, field in (
        ({"lat": 95, "lon": 0}, 422, "lat"),
        ({"state": "closed"}, 422, "state"),
        ({"answers": {"alien": 1}}, 422, "answers.alien"),
        ({"version": 0, "priority": "P3"}, 409, "version"),
    ):
        r = await patch(ani, f"/api/v1/hotline112/incidents/{iid}", body)
        assert r.status_code == status and r.json()["errors"][0]["field"] == field, (body, r.text)
    # Another type: only its protocol's answers stay.
    retyped = (await patch(ani, f"/api/v1/hotline112/incidents/{iid}", {"type": "disaster"})).json()[
        "incident"
    ]
    assert retyped["type"] == "disaster" and retyped["answers"] == {}

    # A newer AML fix of the caller lands in the incident's timeline (the incident keeps its place).
    await send_aml(cti, aml_body(aml_fields(number, lat=-6.1795, lon=106.6315, location_accuracy="9")))
    entries = (await ani.get(f"/api/v1/hotline112/incidents/{iid}")).json()["timeline"]
    assert entries[-1]["kind"] == "location" and entries[-1]["data"]["accuracy_m"] == 9.0
    note = await ani.post(
        f"/api/v1/hotline112/incidents/{iid}/notes", json={"body": "Penelepon di seberang jalan"}
    )
    assert note.status_code == 201 and note.json()["entry"]["kind"] == "note"
    assert (
        await ani.post(f"/api/v1/hotline112/incidents/{iid}/notes", json={"body": "  "})
    ).status_code == 422

    eido = await ani.get(f"/api/v1/hotline112/incidents/{iid}/eido")
    assert eido.status_code == 200 and "attachment" in eido.headers["content-disposition"]
    doc = eido.json()
    assert doc["eidoMessageIdentifier"].startswith(f"urn:kotalive:{city.slug}:eido:{iid}")
    (component,) = doc["incidentComponent"]
    assert component["incidentTrackingIdentifier"] == f"urn:kotalive:{city.slug}:incident:{iid}"
    assert component["incidentTypeCommonRegistryText"] == "Disaster"
    assert component["incidentStatusCommonRegistryText"] == "Received"
    assert component["locationReference"] == [{"$ref": doc["locationComponent"][0]["$id"]}]
    assert [c["$ref"] for c in component["callReference"]] == [c["$id"] for c in doc["callComponent"]]
    (location,) = doc["locationComponent"]
    assert "<gml:pos>-6.1800000 106.6320000</gml:pos>" in location["locationByValue"]
    assert "gml:Point" in location["locationByValue"] and location["civicAddressText"] == "Jl. Kenanga 5"
    assert doc["callComponent"][0]["callbackNumber"] == number
    assert doc["notesComponent"][0]["noteText"] == "Penelepon di seberang jalan"
    assert doc["extension"]["kotalive"]["priority"] == "P2"
    assert [e["kind"] for e in doc["extension"]["kotalive"]["timeline"]].count("updated") == 2

    closed = await ani.post(f"/api/v1/hotline112/incidents/{iid}/close", json={"reason": "Api padam"})
    assert closed.status_code == 200 and closed.json()["incident"]["state"] == "closed"
    assert closed.json()["timeline"][-1]["kind"] == "closed"
    assert (await ani.post(f"/api/v1/hotline112/incidents/{iid}/close", json={})).status_code == 409
    assert (await patch(ani, f"/api/v1/hotline112/incidents/{iid}", {"priority": "P1"})).status_code == 409
    closed_eido = (await ani.get(f"/api/v1/hotline112/incidents/{iid}/eido")).json()
    assert closed_eido["incidentComponent"][0]["incidentStatusCommonRegistryText"] == "Closed"
    listed = (await ani.get("/api/v1/hotline112/incidents", params={"state": "closed"})).json()["incidents"]
    assert [i["id"] for i in listed] == [iid]
    assert (await ani.get("/api/v1/hotline112/incidents", params={"state": "open"})).json()["incidents"] == []
    for path in (
        f"/api/v1/hotline112/incidents/{iid + 1000}",
        f"/api/v1/hotline112/incidents/{iid + 1000}/eido",
    ):
        assert (await ani.get(path)).status_code == 404


async def test_the_city_edits_a_types_protocol_and_answers_follow_it(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    with use_tenant(city):
        async with database.tenant_session(city) as s:
            service = IncidentTypeService(s)
            for kwargs, field in (
                ({"protocol": "x"}, "protocol"),
                ({"protocol": [{"key": "Bad Key", "text_id": "a", "text_en": "a"}]}, "protocol[0].key"),
                ({"protocol": [{"key": "a", "text_id": "", "text_en": "a"}]}, "protocol[0].text_id"),
                (
                    {"protocol": [{"key": "a", "text_id": "a", "text_en": "a", "kind": "essay"}]},
                    "protocol[0].kind",
                ),
                (
                    {
                        "protocol": [
                            {"key": "a", "text_id": "a", "text_en": "a", "kind": "choice", "choices": ["x"]}
                        ]
                    },
                    "protocol[0].choices",
                ),
                (
                    {
                        "protocol": [
                            {"key": "a", "text_id": "a", "text_en": "a"},
                            {"key": "a", "text_id": "b", "text_en": "b"},
                        ]
                    },
                    "protocol[1].key",
                ),
                ({"priority": "P0"}, "priority"),
                ({"unit_types": ["tank"]}, "unit_types"),
                ({"name_id": " "}, "name_id"),
                ({"agency_id": 999999}, "agency_id"),
            ):
                with pytest.raises(Refusal) as refused:
                    await service.update("medical", **kwargs)
                assert refused.value.field == field and refused.value.status == 422, kwargs
            with pytest.raises(Refusal) as missing:
                await service.update("nope", priority="P1")
            assert missing.value.status == 404
            await service.update(
                "medical",
                priority="P2",
                protocol=[
                    {"key": "conscious", "text_id": "Sadar?", "text_en": "Conscious?"},
                    {
                        "key": "bleeding",
                        "text_id": "Pendarahan?",
                        "text_en": "Bleeding?",
                        "kind": "choice",
                        "choices": ["ringan", "berat"],
                    },
                ],
            )
            await s.commit()
    ani = await calltaker(app, client_for, database, city)
    admin = await employee(app, client_for, database, city, None, roles=("city_admin",))
    types_url = "/api/v1/hotline112/incident-types"
    assert (await patch(ani, f"{types_url}/fire", {"priority": "P2"})).status_code == 403
    assert (await patch(admin, f"{types_url}/ufo", {"priority": "P2"})).status_code == 404
    for change, field in (
        ({"protocol": [{"key": "x", "text_id": "a", "text_en": "a", "kind": "essay"}]}, "protocol[0].kind"),
        ({"colour": "red"}, "colour"),
        ({"active": "ya"}, "active"),
    ):
        r = await patch(admin, f"{types_url}/hearse", change)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (change, r.text)
    edited = await patch(admin, f"{types_url}/hearse", {"name_en": "Hearse service", "active": False})
    assert edited.status_code == 200 and edited.json()["type"]["active"] is False
    listed = (await ani.get(types_url)).json()["types"]
    assert "hearse" not in [t["code"] for t in listed]  # switched off: not offered to call-takers
    call = await new_call(client_for(city.primary_host), ani)
    url = "/api/v1/hotline112/incidents"
    off = await ani.post(url, json={"call_ids": [call], "type": "hearse", "lat": -6.2, "lon": 106.6})
    assert off.status_code == 422 and off.json()["error"] == "type_inactive"
    body = {"call_ids": [call], "type": "medical", "lat": -6.2, "lon": 106.6, "location_source": "caller"}
    old = await ani.post(url, json={**body, "answers": {"breathing": True}})  # no longer asked
    assert old.status_code == 422 and old.json()["errors"][0]["field"] == "answers.breathing"
    made = await ani.post(url, json={**body, "answers": {"bleeding": "berat", "conscious": "tidak"}})
    assert made.status_code == 201, made.text
    assert made.json()["incident"]["priority"] == "P2"
    assert made.json()["incident"]["answers"] == {"bleeding": "berat", "conscious": False}


async def test_incident_events_reach_the_live_room_board(
    app: Any, client_for: Any, database: Any, city: Any, broker: Any, worker: Any
) -> None:
    ani = await calltaker(app, client_for, database, city)
    room = await employee(app, client_for, database, city, None, roles=("liveroom_operator",))
    call = await new_call(client_for(city.primary_host), ani)
    made = await ani.post(
        "/api/v1/hotline112/incidents",
        json={"call_ids": [call], "type": "fire", "lat": -6.17, "lon": 106.63, "summary": "Gudang terbakar"},
    )
    iid = made.json()["incident"]["id"]

    async def on_board(check: Any) -> Any:
        await wait_for_relays()
        await live.wait_for_hand_overs()
        r = await room.get("/api/v1/liveroom/items", params={"kind": "incident", "source_id": iid})
        return r.json()["item"] if r.status_code == 200 and check(r.json()["item"]) else None

    item = await wait_until(lambda: on_board(lambda i: True), "the incident on the Live Room board", 20)
    assert item["emergency"] is True and "Gudang terbakar" in item["title"] and item["lat"] == -6.17
    # The room's operators may read the incident itself, not change it.
    assert (await room.get(f"/api/v1/hotline112/incidents/{iid}")).status_code == 200
    assert (await room.post(f"/api/v1/hotline112/incidents/{iid}/close", json={})).status_code == 403
    await ani.post(f"/api/v1/hotline112/incidents/{iid}/close", json={"reason": "padam"})
    closed = await wait_until(
        lambda: on_board(lambda i: i["state"] == "closed"), "the closed incident on the board", 20
    )
    assert closed["source_state"] == "closed"


async def test_a_non_emergency_call_becomes_a_laksa_complaint(
    app: Any, client_for: Any, database: Any, city: Any, broker: Any, worker: Any
) -> None:
    await with_boundaries(database, city)
    ani = await calltaker(app, client_for, database, city, name="Ani Penerima")
    cti = client_for(city.primary_host)
    number = new_number()
    inside = await new_call(cti, ani, number, with_aml=CIPONDOH)
    outside = await new_call(cti, ani, with_aml=OUTSIDE)
    summary = "Lampu jalan mati di depan sekolah sejak kemarin #lampumati"
    for call_id in (inside, outside):
        r = await ani.post(
            f"/api/v1/hotline112/calls/{call_id}/disposition",
            json={"disposition": "non_emergency", "summary": summary},
        )
        assert r.status_code == 200 and r.json()["call"]["disposition"] == "non_emergency", r.text
    # A retried click publishes nothing more.
    assert (
        await ani.post(
            f"/api/v1/hotline112/calls/{inside}/disposition",
            json={"disposition": "non_emergency", "summary": summary},
        )
    ).status_code == 200

    async def complaints() -> list[Complaint] | None:
        await wait_for_relays()
        async with database.tenant_session(city) as s:
            found = list(await s.scalars(select(Complaint).order_by(Complaint.id)))
        return found if len(found) >= 2 else None

    made = await wait_until(complaints, "Laksa to make the complaints", 20)
    assert len(made) == 2
    first, second = made
    assert first.source == "staff" and first.description == "[112] " + summary
    assert first.contact == {"phone": number} and first.anonymous is True
    assert (first.lat, first.lon) == CIPONDOH and first.kecamatan == "Cipondoh"
    assert first.state == "forwarded"  # routed by Laksa's own hashtag rules
    assert second.lat is None and second.address is not None and "Lokasi penelepon 112" in second.address
