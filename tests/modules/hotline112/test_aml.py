"""Advanced Mobile Location over HTTPS and by SMS: every message answered 2xx, what cannot be used
kept in h112_rejected, HMAC checked when the city keeps a key, locations matched to their call by
number and time, an early AML kept until its call arrives (within the window, not after)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from hotline112_calls_support import (
    aml_body,
    aml_fields,
    calltaker,
    connect_telephony,
    event,
    new_number,
    send_aml,
    send_events,
    sms_text,
)
from sqlalchemy import select

from kotalive.modules.hotline112.models import CallerLocation, RejectedMessage

KEY = "kunci-aml-kota-uji"


@pytest.fixture
async def city(make_city: Any, database: Any, settings: Any) -> Any:
    c = await make_city("aml", region_code="3671", name="Kota Uji AML")
    await connect_telephony(database, settings, c)
    return c


async def rows(database: Any, city: Any, model: Any) -> list[Any]:
    async with database.tenant_session(city) as s:
        return list(await s.scalars(select(model).order_by(model.id)))


async def ring(client: Any, number: str) -> str:
    ref = f"cti-{uuid.uuid4().hex[:10]}"
    r = await send_events(client, event("offered", ref, number))
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    return ref


async def call_of(person: Any, ref: str) -> dict[str, Any]:
    calls = (await person.get("/api/v1/hotline112/calls/live")).json()["calls"]
    found = next(c for c in calls if c["call_ref"] == ref)
    return dict((await person.get(f"/api/v1/hotline112/calls/{found['id']}")).json())


async def test_malformed_and_truncated_aml_is_answered_ok_and_kept_as_rejected(
    client_for: Any, database: Any, city: Any
) -> None:
    cti = client_for(city.primary_host)
    good = aml_body(aml_fields(new_number()))
    cases = {
        "empty": b"",
        "truncated": good[: good.index(b"location_longitude") + 22],
        "cut before the number": good[: good.index(b"device_number")],
        "not a form": b"\x00\xff\xfe garbage",
        "latitude words": aml_body(aml_fields(new_number(), location_latitude="enam")),
        "latitude out of range": aml_body(aml_fields(new_number(), lat=-96.2)),
        "longitude out of range": aml_body(aml_fields(new_number(), lon=206.8)),
        "no number": aml_body(aml_fields(new_number(), device_number=None)),
        "number not a phone": aml_body(aml_fields("halo")),
        "accuracy negative": aml_body(aml_fields(new_number(), location_accuracy="-3")),
        "confidence over 100": aml_body(aml_fields(new_number(), location_confidence="250")),
        "nan": aml_body(aml_fields(new_number(), location_latitude="nan")),
        "json": b'{"location_latitude": -6.2}',
        "huge": b"location_latitude=1&" + b"x=" + b"a" * 20000,
    }
    for name, body in cases.items():
        r = await send_aml(cti, body)
        assert r.status_code == 200 and r.text == "ok", (name, r.status_code, r.text)
    rejected = await rows(database, city, RejectedMessage)
    assert len(rejected) == len(cases)
    assert all(r.channel == "aml_https" and r.reason for r in rejected)
    reasons = [r.reason for r in rejected]
    assert "empty message" in reasons
    assert any(r.startswith("longitude") for r in reasons)  # the truncated one
    assert any("out of range" in r for r in reasons)
    assert max(len(r.body) for r in rejected) <= 4000
    assert await rows(database, city, CallerLocation) == []
    # Another content type, or another method's body: the same rule.
    r = await cti.post("/hotline112/aml", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 200


async def test_aml_before_its_call_waits_and_is_matched_when_the_call_arrives(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await calltaker(app, client_for, database, city)
    cti = client_for(city.primary_host)
    number = new_number()
    early = aml_body(aml_fields("0" + number[3:], lat=-6.1702, lon=106.6401, location_accuracy="18"))
    assert (await send_aml(cti, early)).text == "ok"
    assert (await send_aml(cti, early)).text == "ok"  # sent twice: kept once
    waiting = await rows(database, city, CallerLocation)
    assert len(waiting) == 1 and waiting[0].call_id is None and waiting[0].caller_number == number

    ref = await ring(cti, number)
    shown = await call_of(ani, ref)
    assert shown["location"] is not None, shown
    assert (shown["location"]["lat"], shown["location"]["lon"], shown["location"]["accuracy_m"]) == (
        -6.1702,
        106.6401,
        18.0,
    )
    assert shown["location"]["source"] == "gps" and shown["location"]["confidence"] == 68

    # An AML after the call: matched at once; the older spelling of the confidence is read too.
    later = aml_fields(number, lat=-6.1705, lon=106.6405, location_confidence=None, location_certainty="77")
    assert (await send_aml(cti, aml_body(later))).text == "ok"
    shown = await call_of(ani, ref)
    assert len(shown["locations"]) == 2 and shown["location"]["confidence"] == 77

    # Another number's AML is not this call's.
    await send_aml(cti, aml_body(aml_fields(new_number())))
    assert len((await call_of(ani, ref))["locations"]) == 2


async def test_an_aml_older_than_the_window_is_not_matched_to_a_new_call(
    app: Any, client_for: Any, database: Any, settings: Any, city: Any
) -> None:
    ani = await calltaker(app, client_for, database, city)
    cti = client_for(city.primary_host)
    number = new_number()
    await send_aml(cti, aml_body(aml_fields(number)))
    minutes = settings.aml_match_minutes + 1
    async with database.tenant_session(city) as s, s.begin():
        await s.execute_sql(
            "UPDATE {city}.h112_location SET received_at = now() - make_interval(mins => :m)", {"m": minutes}
        )
    ref = await ring(cti, number)
    shown = await call_of(ani, ref)
    assert shown["locations"] == [] and shown["location"] is None
    (kept,) = await rows(database, city, CallerLocation)
    assert kept.call_id is None  # still kept, never matched
    # Within the window it would have been: one received just now is matched at once.
    await send_aml(cti, aml_body(aml_fields(number, lat=-6.2)))
    assert (await call_of(ani, ref))["location"]["lat"] == -6.2


async def test_hmac_is_checked_when_the_city_keeps_a_key(
    app: Any, client_for: Any, database: Any, settings: Any, make_city: Any
) -> None:
    city = await make_city("hmac", region_code="3671")
    await connect_telephony(database, settings, city, aml_key=KEY)
    cti = client_for(city.primary_host)
    number = new_number()
    fields = aml_fields(number)
    assert (await send_aml(cti, aml_body(fields, key=KEY))).text == "ok"
    assert (await send_aml(cti, aml_body(fields, key="kunci-lain"))).text == "ok"
    assert (await send_aml(cti, aml_body(aml_fields(number, lat=-6.3)))).text == "ok"  # unsigned
    signed = aml_body(fields, key=KEY)
    assert (await send_aml(cti, signed.replace(b"106.6297", b"106.6298"))).text == "ok"  # altered
    kept = await rows(database, city, CallerLocation)
    assert len(kept) == 1 and kept[0].hmac_ok is True
    reasons = sorted(r.reason for r in await rows(database, city, RejectedMessage))
    assert reasons == [
        "hmac: does not match",
        "hmac: does not match",
        "hmac: missing (the city keeps an AML key)",
    ]


async def test_the_sms_form_of_aml_is_parsed_and_a_cut_sms_is_rejected(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await calltaker(app, client_for, database, city)
    cti = client_for(city.primary_host)
    number = new_number()
    ref = await ring(cti, number)
    text = sms_text(-6.1811, 106.6322, radius=40)
    r = await cti.post("/hotline112/aml/sms", json={"from": number, "text": text})
    assert r.status_code == 200 and r.text == "ok"
    shown = await call_of(ani, ref)
    assert shown["location"]["channel"] == "aml_sms" and shown["location"]["accuracy_m"] == 40
    assert (shown["location"]["lat"], shown["location"]["lon"]) == (-6.1811, 106.6322)

    # The gateway's form post works the same.
    form = urlencode({"from": number, "text": sms_text(-6.1812, 106.6323)})
    r = await cti.post(
        "/hotline112/aml/sms", content=form, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 200 and len((await call_of(ani, ref))["locations"]) == 2

    for body in (
        {"from": number, "text": text[:-2]},  # the tail lost on the way: ml no longer matches
        {"from": number, "text": text[:-12]},  # cut inside a field
        {"from": number, "text": "Halo, tolong saya"},
        {"from": number, "text": 'A"ML=1;lt=-6.2;rd=50'},
        {"from": "bukan-nomor", "text": sms_text()},
        {"from": number},
        [1, 2],
    ):
        r = await cti.post("/hotline112/aml/sms", json=body)
        assert r.status_code == 200 and r.text == "ok", body
    r = await cti.post(
        "/hotline112/aml/sms", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 200
    rejected = await rows(database, city, RejectedMessage)
    assert len(rejected) == 8 and {r.channel for r in rejected} == {"aml_sms"}
    assert sum(r.reason.startswith("truncated") for r in rejected) == 2
    assert len((await call_of(ani, ref))["locations"]) == 2


def test_sms_text_helper_declares_its_own_length() -> None:
    text = sms_text()
    assert int(text.rsplit("ml=", 1)[1]) == len(text)
    assert dt.datetime.now(dt.UTC).strftime("%Y%m%d") in text


async def test_a_call_and_its_aml_arriving_at_the_same_moment_are_always_matched(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    cti = client_for(city.primary_host)
    numbers = [new_number() for _ in range(40)]
    pairs = [(ring(cti, n), send_aml(cti, aml_body(aml_fields(n)))) for n in numbers]
    # Each pair side by side, in both orders: the race between the two transactions.
    await asyncio.gather(*(c for i, pair in enumerate(pairs) for c in (pair if i % 2 else pair[::-1])))
    kept = await rows(database, city, CallerLocation)
    assert len(kept) == len(numbers)
    assert [k.caller_number for k in kept if k.call_id is None] == []
