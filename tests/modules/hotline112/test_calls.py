"""112 calls through the telephony webhook and the call-taker API: signed, idempotent, out of order,
live on the call-taker's stream with the caller's history; the call-taker's dispositions."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from hotline112_calls_support import (
    SseScreen,
    calltaker,
    connect_telephony,
    event,
    new_number,
    now,
    send_events,
    signature,
)
from sqlalchemy import func, select
from support import wait_until

from kotalive import live
from kotalive.auth.sessions import COOKIE_NAME
from kotalive.modules.hotline112.models import CallEvent


@pytest.fixture
async def city(make_city: Any, database: Any, settings: Any) -> Any:
    c = await make_city("panggilan", region_code="3671", name="Kota Uji 112")
    await connect_telephony(database, settings, c)
    return c


async def offered(client: Any, caller: str | None = None, **more: Any) -> str:
    ref = more.pop("call_ref", f"cti-{uuid.uuid4().hex[:10]}")
    r = await send_events(client, event("offered", ref, caller or new_number(), **more))
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0}, r.text
    return ref


async def call_id_of(person: Any, ref: str) -> int:
    live_calls = (await person.get("/api/v1/hotline112/calls/live")).json()["calls"]
    return next(c["id"] for c in live_calls if c["call_ref"] == ref)


async def test_a_ringing_call_reaches_the_calltaker_stream_with_the_callers_history(
    app: Any, client_for: Any, database: Any, city: Any, broker: Any
) -> None:
    ani = await calltaker(app, client_for, database, city, name="Ani Penerima")
    cti = client_for(city.primary_host)
    number = new_number()
    # The number called twice before: once a prank, once a fire (an incident).
    prank_ref = await offered(cti, number, at=now() - dt.timedelta(days=3))
    prank = await call_id_of(ani, prank_ref)
    assert (
        await ani.post(f"/api/v1/hotline112/calls/{prank}/disposition", json={"disposition": "prank"})
    ).status_code == 200
    fire_ref = await offered(cti, number, at=now() - dt.timedelta(hours=5))
    fire = await call_id_of(ani, fire_ref)
    made = await ani.post(
        "/api/v1/hotline112/incidents",
        json={"call_ids": [fire], "type": "fire", "lat": -6.17, "lon": 106.63, "summary": "Rumah terbakar"},
    )
    assert made.status_code == 201, made.text
    incident_id = made.json()["incident"]["id"]

    async with SseScreen(
        app,
        city.primary_host,
        "/api/v1/hotline112/calls/stream",
        {COOKIE_NAME: ani.client.cookies[COOKIE_NAME]},
    ) as screen:
        await wait_until(lambda: "event: calls" in screen.text, "the stream's first snapshot", 5)
        assert screen.status == 200
        ref = await offered(cti, number, line="112-2")
        await live.wait_for_hand_overs()

        def heard() -> Any:
            for block in screen.text.replace("\r\n", "\n").split("\n\n"):
                if "event: call\n" in block + "\n" and ref in block:
                    return json.loads(block.split("data: ", 1)[1])
            return None

        shown = await wait_until(heard, "the ringing call on the call-taker's stream", 5)
    assert shown["ringing"] is True and shown["stage"] == "offered" and shown["line"] == "112-2"
    assert shown["caller_number"] == number
    history = shown["history"]
    assert history["earlier_calls"] == 2
    assert [c["id"] for c in history["calls"]] == [fire, prank]
    assert [i["id"] for i in history["incidents"]] == [incident_id]

    # The same history when the call-taker opens the call.
    new_id = shown["id"]
    detail = (await ani.get(f"/api/v1/hotline112/calls/{new_id}")).json()
    assert detail["history"]["earlier_calls"] == 2 and detail["history"]["incidents"][0]["type"] == "fire"
    assert detail["call"]["caller_number"] == number and detail["locations"] == []


async def test_duplicate_and_out_of_order_events_leave_one_call_with_every_moment(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await calltaker(app, client_for, database, city)
    cti = client_for(city.primary_host)
    ref, number = f"cti-{uuid.uuid4().hex[:8]}", new_number()
    t0 = now() - dt.timedelta(minutes=2)
    offer = event("offered", ref, number, at=t0)
    answer = event("answered", ref, number, at=t0 + dt.timedelta(seconds=7), agent="ext-101")
    transfer = event("transferred", ref, at=t0 + dt.timedelta(seconds=40), to="damkar-1")
    end = event("ended", ref, at=t0 + dt.timedelta(seconds=95), reason="caller_hangup")
    # Ended first, then answered, then the offer: each applied, the call ends up whole.
    for e in (end, answer, transfer, offer):
        r = await send_events(cti, e)
        assert r.json() == {"accepted": 1, "duplicates": 0}, r.text
    # Replayed, alone and as a batch: nothing changes twice.
    assert (await send_events(cti, offer)).json() == {"accepted": 0, "duplicates": 1}
    again = await send_events(cti, [end, answer, transfer, offer])
    assert again.status_code == 200 and again.json() == {"accepted": 0, "duplicates": 4}
    # Without an event id the key is (call, type, moment): the same offer twice is one.
    bare = {
        k: v
        for k, v in event("offered", ref, number, at=t0 - dt.timedelta(seconds=1)).items()
        if k != "event_id"
    }
    assert (await send_events(cti, bare)).json() == {"accepted": 1, "duplicates": 0}
    assert (await send_events(cti, bare)).json() == {"accepted": 0, "duplicates": 1}

    async with database.tenant_session(city) as s:
        from kotalive.modules.hotline112.models import Call

        call = await s.scalar(select(Call).where(Call.call_ref == ref))
        assert call is not None
        kept = await s.scalar(select(func.count()).select_from(CallEvent).where(CallEvent.call_id == call.id))
    assert kept == 5
    detail = (await ani.get(f"/api/v1/hotline112/calls/{call.id}")).json()["call"]
    # The earliest offer heard counts (the bare one, a second earlier).
    assert dt.datetime.fromisoformat(detail["offered_at"]) == t0 - dt.timedelta(seconds=1)
    assert dt.datetime.fromisoformat(detail["answered_at"]) == t0 + dt.timedelta(seconds=7)
    assert (
        detail["stage"] == "ended" and detail["transferred_to"] == "damkar-1" and detail["agent"] == "ext-101"
    )
    assert detail["ringing"] is False and detail["caller_number"] == number
    # Ended and undecided: still on the call-taker's list, to decide about.
    assert call.id in [c["id"] for c in (await ani.get("/api/v1/hotline112/calls/live")).json()["calls"]]


async def test_the_webhook_checks_its_signature_configuration_and_fields(
    app: Any, client_for: Any, database: Any, settings: Any, city: Any, make_city: Any
) -> None:
    cti = client_for(city.primary_host)
    good = event("offered", "cti-sig", new_number())
    body = json.dumps(good).encode()
    for headers in (
        {},
        {"x-kotalive-signature": "sha256=" + "0" * 64},
        {"x-kotalive-signature": signature(body, "other")},
    ):
        r = await cti.post("/hotline112/telephony/events", content=body, headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "bad_signature", r.text
    # A signature over another body does not carry over.
    tampered = body.replace(b"cti-sig", b"cti-sih")
    r = await cti.post(
        "/hotline112/telephony/events", content=tampered, headers={"x-kotalive-signature": signature(body)}
    )
    assert r.status_code == 401

    bare_city = await make_city("tanpa-cti", region_code="3275")
    r = await send_events(client_for(bare_city.primary_host), good)
    assert r.status_code == 503 and r.json()["error"] == "telephony_not_configured"

    bad: list[tuple[Any, str]] = [
        ({**good, "type": "ringing"}, "type"),
        ({k: v for k, v in good.items() if k != "type"}, "type"),
        ({k: v for k, v in good.items() if k != "call_id"}, "call_id"),
        ({**good, "call_id": 42}, "call_id"),
        ({**good, "at": "2026-12-01T13:05:00"}, "at"),
        ({**good, "at": "kemarin"}, "at"),
        ({**good, "caller": "bukan nomor"}, "caller"),
        ({**good, "call_id": "x" * 200}, "call_id"),
        ([good, {**good, "event_id": "b", "at": None}], "[1].at"),
        ([good, "offered"], "[1]"),
        ([], "body"),
        ("offered", "body"),
    ]
    for payload, field in bad:
        r = await send_events(cti, payload)
        assert r.status_code == 422, (payload, r.text)
        assert r.json()["errors"][0]["field"] == field, (payload, r.text)
    r = await send_events(cti, None, raw=b'{"type": "offered", "call_id"')
    assert r.status_code == 400 and r.json()["error"] == "not_json"
    # Nothing of a refused batch was applied: the good first event is still new.
    assert (await send_events(cti, good)).json() == {"accepted": 1, "duplicates": 0}
    # A withheld number is a call all the same.
    assert (await send_events(cti, event("offered", "cti-anon", "anonymous"))).json()["accepted"] == 1


async def test_dispositions_prank_duplicate_and_their_refusals(
    app: Any, client_for: Any, database: Any, city: Any, make_city: Any, settings: Any
) -> None:
    ani = await calltaker(app, client_for, database, city)
    cti = client_for(city.primary_host)
    first = await call_id_of(ani, await offered(cti))
    second = await call_id_of(ani, await offered(cti))
    third = await call_id_of(ani, await offered(cti))
    url = f"/api/v1/hotline112/calls/{third}/disposition"

    for body, status, field in (
        ({}, 422, "disposition"),
        ({"disposition": "bohong"}, 422, "disposition"),
        ({"disposition": "duplicate"}, 422, "incident_id"),
        ({"disposition": "duplicate", "incident_id": "satu"}, 422, "incident_id"),
        ({"disposition": "duplicate", "incident_id": 987654}, 404, "incident_id"),
        ({"disposition": "non_emergency", "summary": "pendek"}, 422, "summary"),
    ):
        r = await ani.post(url, json=body)
        assert r.status_code == status and r.json()["errors"][0]["field"] == field, (body, r.text)
    assert (await ani.post(url, json=[1, 2])).status_code == 422

    prank = await ani.post(url, json={"disposition": "prank"})
    assert prank.status_code == 200 and prank.json()["call"]["disposition"] == "prank"
    assert (await ani.post(url, json={"disposition": "prank"})).status_code == 200  # a retried click
    changed = await ani.post(url, json={"disposition": "abandoned"})
    assert changed.status_code == 409 and changed.json()["error"] == "already_decided"

    made = await ani.post(
        "/api/v1/hotline112/incidents",
        json={"call_ids": [first], "type": "traffic_accident", "lat": -6.2, "lon": 106.6},
    )
    incident_id = made.json()["incident"]["id"]
    merged = await ani.post(
        f"/api/v1/hotline112/calls/{second}/disposition",
        json={"disposition": "duplicate", "incident_id": incident_id},
    )
    assert merged.status_code == 200 and merged.json()["call"]["incident_id"] == incident_id
    detail = (await ani.get(f"/api/v1/hotline112/incidents/{incident_id}")).json()
    assert sorted(c["id"] for c in detail["calls"]) == [first, second]
    assert [e["kind"] for e in detail["timeline"]].count("call_merged") == 1

    closed = await ani.post(f"/api/v1/hotline112/incidents/{incident_id}/close", json={"reason": "selesai"})
    assert closed.status_code == 200
    hung_up = await call_id_of(ani, await offered(cti))
    gone = await ani.post(
        f"/api/v1/hotline112/calls/{hung_up}/disposition", json={"disposition": "abandoned"}
    )
    assert gone.status_code == 200 and gone.json()["call"]["disposition"] == "abandoned"
    late = await call_id_of(ani, await offered(cti))
    r = await ani.post(
        f"/api/v1/hotline112/calls/{late}/disposition",
        json={"disposition": "duplicate", "incident_id": incident_id},
    )
    assert r.status_code == 409 and r.json()["error"] == "incident_closed"

    # Another city's call-taker: neither the calls nor the incident are theirs.
    other = await make_city("lain", region_code="3275")
    await connect_telephony(database, settings, other)
    budi = await calltaker(app, client_for, database, other)
    assert (await budi.post(url, json={"disposition": "prank"})).status_code == 404
    mine = await call_id_of(budi, await offered(client_for(other.primary_host)))
    r = await budi.post(
        f"/api/v1/hotline112/calls/{mine}/disposition",
        json={"disposition": "duplicate", "incident_id": incident_id},
    )
    assert r.status_code == 404 and r.json()["error"] == "incident_not_found"


async def test_the_calltaker_places_the_caller_and_coordinates_are_checked(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await calltaker(app, client_for, database, city)
    call = await call_id_of(ani, await offered(client_for(city.primary_host)))
    url = f"/api/v1/hotline112/calls/{call}/location"
    for body, field in (
        ({"lat": 91, "lon": 106.6}, "lat"),
        ({"lat": -6.2, "lon": 181}, "lon"),
        ({"lat": -6.2, "lon": -180.5}, "lon"),
        ({"lat": "utara", "lon": 106.6}, "lat"),
        ({"lat": -6.2}, "lon"),
        ({}, "lat"),
        ({"lat": True, "lon": 106.6}, "lat"),
        ({"lat": -6.2, "lon": 106.6, "source": "aml"}, "source"),
        ({"lat": -6.2, "lon": 106.6, "accuracy_m": -5}, "accuracy_m"),
    ):
        r = await ani.post(url, json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (body, r.text)
    placed = await ani.post(url, json={"lat": -6.2, "lon": 106.6, "accuracy_m": 100, "source": "caller"})
    assert placed.status_code == 201 and placed.json()["location"]["channel"] == "calltaker"
    detail = (await ani.get(f"/api/v1/hotline112/calls/{call}")).json()
    assert detail["location"]["source"] == "caller" and detail["location"]["accuracy_m"] == 100
    assert (
        await ani.post("/api/v1/hotline112/calls/99999999/location", json={"lat": 0, "lon": 0})
    ).status_code == 404


async def test_the_same_event_delivered_twice_at_once_is_kept_once(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await calltaker(app, client_for, database, city)
    ref, number = f"cti-{uuid.uuid4().hex[:8]}", new_number()
    offer = event("offered", ref, number)
    answer = event("answered", ref, number, agent="ext-7")
    # Two deliveries of the offer and the answer of a call nobody has heard of, all at once.
    answers = await asyncio.gather(
        *(send_events(client_for(city.primary_host), e) for e in (offer, offer, answer, answer, offer))
    )
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert sum(r.json()["accepted"] for r in answers) == 2
    assert sum(r.json()["duplicates"] for r in answers) == 3
    calls = [
        c for c in (await ani.get("/api/v1/hotline112/calls/live")).json()["calls"] if c["call_ref"] == ref
    ]
    assert len(calls) == 1 and calls[0]["stage"] == "answered" and calls[0]["agent"] == "ext-7"
