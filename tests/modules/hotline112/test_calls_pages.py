"""The call-taker's pages without scripts: the empty screen, a call with its history and AML
location, the "open incident" form (refusals next to their field), dispositions, and the incident
page with its note and close forms, in Indonesian and English."""

from __future__ import annotations

import re
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
    send_aml,
    send_events,
)


@pytest.fixture
async def city(make_city: Any, database: Any, settings: Any) -> Any:
    c = await make_city("layar", region_code="3671", name="Kota Uji Layar 112")
    await connect_telephony(database, settings, c)
    return c


async def form(person: Any, path: str, data: dict[str, Any]) -> Any:
    return await person.client.post(
        path,
        data={**data, "_csrf_token": person.csrf},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )


async def html(person: Any, path: str) -> Any:
    return await person.client.get(path, headers={"accept": "text/html"})


async def test_the_calltaker_screen_from_empty_to_an_incident_page(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await calltaker(app, client_for, database, city, name="Ani Penerima")
    empty = await html(ani, "/112")
    assert empty.status_code == 200 and "Tidak ada panggilan." in empty.text
    assert "No calls." in (await html(ani, "/112?lang=en")).text

    cti = client_for(city.primary_host)
    number = new_number()
    ref = f"cti-{uuid.uuid4().hex[:8]}"
    await send_events(cti, event("offered", ref, number, line="112-3"))
    await send_aml(cti, aml_body(aml_fields(number, lat=-6.1799, lon=106.6299, location_accuracy="42")))
    listed = await html(ani, "/112?lang=id")  # the English page set the language cookie
    assert (
        number in listed.text and "Berdering" in listed.text and "Tidak ada panggilan." in listed.text
    )  # hidden empty note
    call_id = int(re.search(r'data-call-id="(\d+)"', listed.text).group(1))  # type: ignore[union-attr]

    shown = await html(ani, f"/112?panggilan={call_id}")
    assert shown.status_code == 200
    assert 'data-lat="-6.1799"' in shown.text and 'data-accuracy="42.0"' in shown.text
    assert "akurasi ±42 m" in shown.text and "Belum pernah menelepon." in shown.text
    assert "Apakah ada orang terjebak?" in shown.text  # the fire protocol's question
    assert (await html(ani, "/112?panggilan=99999999")).status_code == 404

    # A refusal comes back next to its field, with what was typed.
    bad = await form(
        ani,
        "/112/insiden",
        {
            "call_ids": str(call_id),
            "type": "fire",
            "location_source": "map",
            "lat": "95",
            "lon": "106.6",
            "summary": "Api besar",
        },
    )
    assert bad.status_code == 422 and 'id="err-lat"' in bad.text and "Api besar" in bad.text
    bad = await form(
        ani,
        "/112/insiden",
        {
            "call_ids": str(call_id),
            "type": "fire",
            "location_source": "aml",
            "answer.fire.trapped": "mungkin",
        },
    )
    assert bad.status_code == 422 and 'id="err-answer-fire-trapped"' in bad.text

    made = await form(
        ani,
        "/112/insiden",
        {
            "call_ids": str(call_id),
            "type": "fire",
            "location_source": "aml",
            "summary": "Ruko terbakar",
            "answer.fire.trapped": "ya",
            "answer.fire.building": "gedung",
            "answer.medical.conscious": "ya",  # another type's question: not this incident's
            "priority": "",
        },
    )
    assert made.status_code == 303, made.text
    location = made.headers["location"]
    incident_id = int(location.rsplit("/", 1)[1])
    page = await html(ani, location)
    assert page.status_code == 200 and "Ruko terbakar" in page.text and "Kebakaran" in page.text
    assert 'data-lat="-6.1799"' in page.text and "Ya" in page.text and "gedung" in page.text
    assert f"/api/v1/hotline112/incidents/{incident_id}/eido" in page.text
    detail = (await ani.get(f"/api/v1/hotline112/incidents/{incident_id}")).json()
    assert detail["incident"]["answers"] == {"trapped": True, "building": "gedung"}

    refused = await form(ani, f"/112/insiden/{incident_id}/catatan", {"body": "  "})
    assert refused.status_code == 422 and 'id="err-note-body"' in refused.text
    noted = await form(ani, f"/112/insiden/{incident_id}/catatan", {"body": "Tangga darurat terhalang"})
    assert noted.status_code == 303
    assert "Tangga darurat terhalang" in (await html(ani, f"/112/insiden/{incident_id}")).text
    closed = await form(ani, f"/112/insiden/{incident_id}/tutup", {"reason": "Api padam"})
    assert closed.status_code == 303
    final = await html(ani, f"/112/insiden/{incident_id}?lang=en")
    assert (
        "Closed" in final.text and "Api padam" in final.text and "Close incident</button>" not in final.text
    )
    assert (await html(ani, "/112/insiden/99999999")).status_code == 404


async def test_disposition_buttons_and_their_refusals(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await calltaker(app, client_for, database, city)
    cti = client_for(city.primary_host)
    ids = []
    for _ in range(2):
        ref = f"cti-{uuid.uuid4().hex[:8]}"
        await send_events(cti, event("offered", ref, new_number()))
        calls = (await ani.get("/api/v1/hotline112/calls/live")).json()["calls"]
        ids.append(next(c["id"] for c in calls if c["call_ref"] == ref))
    short = await form(
        ani, f"/112/panggilan/{ids[0]}/keputusan", {"disposition": "non_emergency", "summary": "x"}
    )
    assert short.status_code == 422 and 'id="err-summary"' in short.text
    done = await form(ani, f"/112/panggilan/{ids[0]}/keputusan", {"disposition": "prank"})
    assert done.status_code == 303 and "ok=calls.decided" in done.headers["location"]
    shown = await html(ani, done.headers["location"])
    assert "Keputusan disimpan." in shown.text and "Iseng" in shown.text
    again = await form(ani, f"/112/panggilan/{ids[0]}/keputusan", {"disposition": "abandoned"})
    assert again.status_code == 409 and "sudah diputuskan" in again.text
    placed = await form(
        ani, f"/112/panggilan/{ids[1]}/lokasi", {"lat": "-6.2", "lon": "999", "source": "map"}
    )
    assert placed.status_code == 422 and 'id="err-lon"' in placed.text
    placed = await form(
        ani, f"/112/panggilan/{ids[1]}/lokasi", {"lat": "-6.2", "lon": "106.7", "source": "caller"}
    )
    assert placed.status_code == 303
    assert 'data-lat="-6.2"' in (await html(ani, f"/112?panggilan={ids[1]}")).text
