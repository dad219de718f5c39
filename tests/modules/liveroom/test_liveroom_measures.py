"""The room's measures: count, median and p90 of time to triage, forward and the agency's
acknowledgement, for the room, per shift and per operator, from items with known timestamps."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from laksa_support import employee

WIB = ZoneInfo("Asia/Jakarta")


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=WIB)


def _s(seconds: int) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)


@pytest.fixture
async def measured(app, client_for, database, shift_city, add_board_items):
    """Four items of yesterday (three in the morning shift, one in the afternoon) and one from
    ten days ago, outside the range."""
    rina = await employee(
        app, client_for, database, shift_city, "bpbd", roles=("liveroom_operator",), name="Rina"
    )
    budi = await employee(
        app, client_for, database, shift_city, "dishub", roles=("liveroom_operator",), name="Budi"
    )
    day = dt.datetime.now(WIB).date() - dt.timedelta(days=1)
    a, b, c, d = _at(day, 8), _at(day, 9), _at(day, 10), _at(day, 16)
    old = _at(day - dt.timedelta(days=10), 8)
    await add_board_items(
        shift_city,
        {
            "state": "acknowledged",
            "appeared_at": a,
            "triaged_at": a + _s(60),
            "triaged_by": rina.id,
            "forwarded_at": a + _s(600),
            "forwarded_by": rina.id,
            "acknowledged_at": a + _s(600 + 3600),
        },
        {
            "state": "forwarded",
            "appeared_at": b,
            "triaged_at": b + _s(120),
            "triaged_by": rina.id,
            "forwarded_at": b + _s(1200),
            "forwarded_by": rina.id,
        },
        {"state": "claimed", "appeared_at": c, "triaged_at": c + _s(300), "triaged_by": budi.id},
        {"state": "claimed", "appeared_at": d, "triaged_at": d + _s(30), "triaged_by": budi.id},
        {"state": "claimed", "appeared_at": old, "triaged_at": old + _s(9999), "triaged_by": budi.id},
        {"state": "new", "appeared_at": a},  # not triaged yet: counts nowhere
    )
    yield {"rina": rina, "budi": budi, "day": day}
    await rina.aclose()
    await budi.aclose()


def _fig(count: int, median: float | None, p90: float | None) -> dict[str, object]:
    return {"count": count, "median_seconds": median, "p90_seconds": p90}


async def test_measures_per_room_shift_and_operator(measured) -> None:
    rina, day = measured["rina"], measured["day"]
    since = (day - dt.timedelta(days=1)).isoformat()
    r = await rina.get(f"/api/v1/liveroom/measures?since={since}&until={day.isoformat()}")
    assert r.status_code == 200, r.text
    m = r.json()
    assert (m["since"], m["until"], m["timezone"]) == (since, day.isoformat(), "Asia/Jakarta")
    # triage [30, 60, 120, 300]; forward [600, 1200]; acknowledgement [3600]
    assert m["room"] == {
        "triage": _fig(4, 90.0, 246.0),
        "forward": _fig(2, 900.0, 1140.0),
        "acknowledge": _fig(1, 3600.0, 3600.0),
    }
    shifts = {s["name"]: s for s in m["shifts"]}
    assert shifts["Shift Pagi"]["triage"] == _fig(3, 120.0, 264.0)
    assert shifts["Shift Pagi"]["forward"] == _fig(2, 900.0, 1140.0)
    assert shifts["Shift Siang"]["triage"] == _fig(1, 30.0, 30.0)
    assert shifts["Shift Siang"]["forward"] == _fig(0, None, None)
    assert shifts["Shift Malam"]["triage"] == _fig(0, None, None)
    operators = {o["name"]: o for o in m["operators"]}
    assert set(operators) == {"Rina", "Budi"}
    assert operators["Rina"]["triage"] == _fig(2, 90.0, 114.0)
    assert operators["Rina"]["forward"] == _fig(2, 900.0, 1140.0)
    assert operators["Rina"]["acknowledge"] == _fig(1, 3600.0, 3600.0)
    assert operators["Budi"]["triage"] == _fig(2, 165.0, 273.0)
    assert operators["Budi"]["forward"] == _fig(0, None, None)

    wider = (
        await rina.get(f"/api/v1/liveroom/measures?since={(day - dt.timedelta(days=30)).isoformat()}")
    ).json()
    assert wider["room"]["triage"]["count"] == 5


async def test_measures_csv_and_page(measured) -> None:
    rina, day = measured["rina"], measured["day"]
    r = await rina.get(f"/api/v1/liveroom/measures.csv?since={day.isoformat()}&until={day.isoformat()}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    room = {row["measure"]: row for row in rows if row["level"] == "room"}
    assert (room["triage"]["count"], room["triage"]["median_seconds"], room["triage"]["p90_seconds"]) == (
        "4",
        "90.0",
        "246.0",
    )
    rina_rows = [row for row in rows if row["level"] == "operator" and row["name"] == "Rina"]
    assert {row["measure"]: row["count"] for row in rina_rows} == {
        "triage": "2",
        "forward": "2",
        "acknowledge": "1",
    }
    assert {row["level"] for row in rows} == {"room", "shift", "operator"}

    page = await rina.client.get(
        f"/liveroom/ukuran?since={day.isoformat()}&until={day.isoformat()}", headers={"accept": "text/html"}
    )
    assert page.status_code == 200
    assert "Ukuran kinerja" in page.text and "1 mnt 30 dtk" in page.text and "4 mnt 6 dtk" in page.text
    assert f"/api/v1/liveroom/measures.csv?since={day.isoformat()}" in page.text


async def test_measures_refuse_bad_ranges(measured) -> None:
    rina = measured["rina"]
    backwards = await rina.get("/api/v1/liveroom/measures?since=2026-03-10&until=2026-03-01")
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "until"
    assert backwards.json()["errors"][0]["code"] == "until.range_order"
    garbled = await rina.get("/api/v1/liveroom/measures?since=kemarin")
    assert garbled.status_code == 422 and garbled.json()["errors"][0]["code"] == "since.date_format"
    too_long = await rina.get("/api/v1/liveroom/measures?since=2020-01-01&until=2026-01-01")
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["code"] == "since.range_too_long"
    page = await rina.client.get("/liveroom/ukuran?since=kemarin", headers={"accept": "text/html"})
    assert page.status_code == 422 and "TTTT-BB-HH" in page.text
