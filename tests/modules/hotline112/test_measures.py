"""NFPA 1225 measures from calls, incidents and assignments with known moments: answer,
processing, turnout and travel times (count, median, p90, share within the 10 s / 60 s targets)
for the whole centre, per shift (07-15, 15-23, 23-07 city time) and per call-taker; the CSV and
the dashboard page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from h112_dispatch_support import add_incident, dispatcher
from laksa_support import agency_id, employee

from kotalive.modules.hotline112.models import Assignment, Call, Unit

WIB = ZoneInfo("Asia/Jakarta")
API = "/api/v1/hotline112"


def s(seconds: float) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)


@pytest.fixture
async def measured(app: Any, client_for: Any, database: Any, make_city: Any) -> dict[str, Any]:
    city = await make_city("h112m", region_code="3671", name="Kota Uji Ukuran")
    rina = await employee(app, client_for, database, city, None, roles=("calltaker",), name="Rina")
    budi = await employee(app, client_for, database, city, None, roles=("calltaker",), name="Budi")
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    day = dt.datetime.now(WIB).date() - dt.timedelta(days=1)

    def at(hour: int, minute: int = 0, on: dt.date = day) -> dt.datetime:
        return dt.datetime.combine(on, dt.time(hour, minute), tzinfo=WIB)

    c1, c2, c3, c4, c5 = at(8), at(9), at(16), at(23, 30), at(9, 5)
    a = await add_incident(database, city, first_dispatch_at=c1 + s(5 + 40))
    b = await add_incident(database, city, first_dispatch_at=c2 + s(12 + 90))
    c = await add_incident(database, city, first_dispatch_at=c3 + s(8 + 50))
    dinkes = await agency_id(database, city, "dinkes")
    async with database.tenant_session(city) as session:

        def call(offered: dt.datetime, answer: float | None, **fields: Any) -> Call:
            return Call(
                call_ref=uuid.uuid4().hex,
                offered_at=offered,
                answered_at=offered + s(answer) if answer is not None else None,
                **fields,
            )

        session.add_all(
            [
                call(c1, 5, calltaker_id=rina.id, agent="ext-101", incident_id=a),
                call(c2, 12, calltaker_id=rina.id, agent="ext-101", incident_id=b),
                call(c3, 8, agent="ext-102", incident_id=c),
                call(c4, 20, calltaker_id=budi.id, agent="ext-103"),
                # A second caller about incident a, answered after its dispatch: no processing time.
                call(c5, 3, calltaker_id=budi.id, agent="ext-103", incident_id=a),
                call(at(10), None),  # abandoned while ringing
                call(at(8, on=day - dt.timedelta(days=10)), 99, calltaker_id=budi.id),  # outside the range
            ]
        )
        unit = Unit(call_sign="AMB-M", type_code="ambulance", agency_id=dinkes, status="available")
        session.add(unit)
        await session.flush()
        for incident, assigned, turnout, travel in (
            (a, at(8, 1), 60, 300),
            (c, at(16, 1), 90, 420),
            (b, at(8, 30), 30, None),
        ):
            session.add(
                Assignment(
                    incident_id=incident,
                    unit_id=unit.id,
                    state="cleared",
                    assigned_at=assigned,
                    en_route_at=assigned + s(turnout),
                    on_scene_at=assigned + s(turnout + travel) if travel is not None else None,
                )
            )
        await session.commit()
    yield {"city": city, "day": day, "dewi": dewi, "rina": rina, "budi": budi}
    for person in (rina, budi, dewi):
        await person.aclose()


def fig(
    count: int, median: float | None, p90: float | None, target: int | None, within: float | None
) -> dict[str, Any]:
    return {
        "count": count,
        "median_seconds": median,
        "p90_seconds": p90,
        "target_seconds": target,
        "within_target": within,
    }


async def test_measures_overall_per_shift_and_per_calltaker(measured: dict[str, Any]) -> None:
    dewi, day = measured["dewi"], measured["day"]
    r = await dewi.get(f"{API}/measures", params={"since": day.isoformat(), "until": day.isoformat()})
    assert r.status_code == 200, r.text
    m = r.json()
    assert (m["since"], m["until"], m["timezone"], m["targets"]) == (
        day.isoformat(),
        day.isoformat(),
        "Asia/Jakarta",
        {"answer": 10, "processing": 60},
    )
    # answer [3, 5, 8, 12, 20]; processing [40, 50, 90]; turnout [30, 60, 90]; travel [300, 420]
    assert m["overall"] == {
        "answer": fig(5, 8.0, 16.8, 10, 0.6),
        "processing": fig(3, 50.0, 82.0, 60, 0.6667),
        "turnout": fig(3, 60.0, 84.0, None, None),
        "travel": fig(2, 360.0, 408.0, None, None),
    }
    shifts = {x["code"]: x for x in m["shifts"]}
    assert [x["code"] for x in m["shifts"]] == ["pagi", "siang", "malam"]
    assert shifts["pagi"]["name"] == "Shift pagi (07-15)"
    assert shifts["pagi"]["answer"] == fig(3, 5.0, 10.6, 10, 0.6667)
    assert shifts["pagi"]["processing"] == fig(2, 65.0, 85.0, 60, 0.5)
    assert shifts["pagi"]["turnout"] == fig(2, 45.0, 57.0, None, None)
    assert shifts["siang"]["answer"] == fig(1, 8.0, 8.0, 10, 1.0)
    assert shifts["siang"]["travel"] == fig(1, 420.0, 420.0, None, None)
    assert shifts["malam"]["answer"] == fig(1, 20.0, 20.0, 10, 0.0)
    assert shifts["malam"]["processing"] == fig(0, None, None, 60, None)
    people = {x["name"]: x for x in m["calltakers"]}
    assert set(people) == {"Rina", "Budi", "ext-102"}
    assert people["Rina"]["employee_id"] == measured["rina"].id
    assert people["Rina"]["answer"] == fig(2, 8.5, 11.3, 10, 0.5)
    assert people["Rina"]["processing"] == fig(2, 65.0, 85.0, 60, 0.5)
    assert people["Budi"]["answer"] == fig(2, 11.5, 18.3, 10, 0.5)
    assert people["Budi"]["processing"] == fig(0, None, None, 60, None)
    assert (people["ext-102"]["agent"], people["ext-102"]["processing"]) == (
        "ext-102",
        fig(1, 50.0, 50.0, 60, 1.0),
    )
    assert "turnout" not in people["Rina"]

    wider = await dewi.get(f"{API}/measures", params={"since": (day - dt.timedelta(days=30)).isoformat()})
    assert wider.json()["overall"]["answer"]["count"] == 6
    bad = await dewi.get(f"{API}/measures", params={"since": "kemarin"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"
    backwards = await dewi.get(f"{API}/measures", params={"since": day.isoformat(), "until": "2000-01-01"})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "until"


async def test_measures_csv_and_dashboard(measured: dict[str, Any]) -> None:
    dewi, day = measured["dewi"], measured["day"]
    span = {"since": day.isoformat(), "until": day.isoformat()}
    r = await dewi.get(f"{API}/measures.csv", params=span)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    overall = {row["measure"]: row for row in rows if row["level"] == "overall"}
    assert (
        overall["answer"]["count"],
        overall["answer"]["median_seconds"],
        overall["answer"]["p90_seconds"],
        overall["answer"]["within_target"],
        overall["answer"]["target_seconds"],
    ) == ("5", "8.0", "16.8", "0.6", "10")
    assert overall["travel"]["within_target"] == "" and overall["travel"]["count"] == "2"
    rina = {
        row["measure"]: row["count"] for row in rows if row["level"] == "calltaker" and row["name"] == "Rina"
    }
    assert rina == {"answer": "2", "processing": "2"}
    night = [
        row
        for row in rows
        if row["level"] == "shift" and row["key"] == "malam" and row["measure"] == "answer"
    ]
    assert night[0]["within_target"] == "0.0"

    page = await dewi.client.get("/112/ukuran", params={**span, "lang": "en"})
    assert page.status_code == 200
    assert "112 measures (NFPA 1225)" in page.text and "Rina" in page.text and "60%" in page.text
    bad = await dewi.client.get("/112/ukuran", params={"since": "x"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
