"""Shifts, roster and duty of the Live Room: defaults seeded once, shifts that must cover 24 hours
(field errors otherwise), one open duty per operator, the roster of a week, and who may do what."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from laksa_support import employee
from sqlalchemy import select

from kotalive.modules.liveroom import shifts
from kotalive.modules.liveroom.models import Duty, Shift


async def _shift_rows(database, city) -> list[tuple[str, str, dt.time, int, bool]]:
    async with database.tenant_session(city) as session:
        rows = await session.execute(
            select(Shift.code, Shift.name, Shift.starts, Shift.hours, Shift.active).order_by(Shift.position)
        )
        return [tuple(r) for r in rows.all()]


async def test_default_shifts_are_seeded_once(database, shift_city) -> None:
    expected = [
        ("pagi", "Shift Pagi", dt.time(7), 8, True),
        ("siang", "Shift Siang", dt.time(15), 8, True),
        ("malam", "Shift Malam", dt.time(23), 8, True),
    ]
    assert await _shift_rows(database, shift_city) == expected
    async with database.tenant_session(shift_city) as session:
        await shifts.seed_city_defaults(session)
        await session.commit()
    assert await _shift_rows(database, shift_city) == expected
    # A city that keeps shifts of its own is left alone by a second seeding.
    async with database.tenant_session(shift_city) as session:
        rows = await shifts.list_shifts(session)
        await shifts.replace_shifts(
            session,
            {
                "shifts": [
                    {"id": rows[0].id, "name": "Siang hari", "starts": "06:00", "hours": 12},
                    {"id": rows[2].id, "name": "Malam hari", "starts": "18:00", "hours": 12},
                ]
            },
        )
        await session.commit()
    async with database.tenant_session(shift_city) as session:
        await shifts.seed_city_defaults(session)
        await session.commit()
    assert await _shift_rows(database, shift_city) == [
        ("pagi", "Siang hari", dt.time(6), 12, True),
        ("malam", "Malam hari", dt.time(18), 12, True),
        ("siang", "Shift Siang", dt.time(15), 8, False),
    ]


async def test_shifts_must_cover_the_day_once(app, client_for, database, shift_city) -> None:
    boss = await employee(app, client_for, database, shift_city, None, roles=("liveroom_supervisor",))
    operator = await employee(app, client_for, database, shift_city, "bpbd", roles=("liveroom_operator",))
    current = (await boss.get("/api/v1/liveroom/shifts")).json()
    assert current["timezone"] == "Asia/Jakarta"
    assert current["current"]["code"] in ("pagi", "siang", "malam")
    ids = [s["id"] for s in current["shifts"]]

    overlap = await boss.put(
        "/api/v1/liveroom/shifts",
        json={
            "shifts": [
                {"id": ids[0], "name": "Pagi", "starts": "07:00", "hours": 9},
                {"id": ids[1], "name": "Siang", "starts": "15:00", "hours": 8},
                {"id": ids[2], "name": "Malam", "starts": "23:00", "hours": 8},
            ]
        },
    )
    assert overlap.status_code == 422, overlap.text
    body = overlap.json()
    assert body["error"] == "invalid_input"
    assert body["errors"] == [
        {
            "field": "shifts[1].starts",
            "reason": "Siang (mulai 15:00) bertumpang tindih dengan Pagi.",
            "code": "shifts.overlap",
        }
    ]

    gap = await boss.put(
        "/api/v1/liveroom/shifts",
        json={
            "shifts": [
                {"name": "Pagi", "starts": "07:00", "hours": 8},
                {"name": "Malam", "starts": "19:00", "hours": 12},
            ]
        },
        headers={"accept-language": "en"},
    )
    assert gap.status_code == 422
    assert gap.json()["errors"] == [
        {
            "field": "shifts[1].starts",
            "reason": "No shift covers 15:00 to 19:00, between Pagi and Malam.",
            "code": "shifts.gap",
        }
    ]

    bad = await boss.put(
        "/api/v1/liveroom/shifts",
        json={
            "shifts": [
                {"name": "", "starts": "25:00", "hours": 0},
                {"name": "x" * 81, "starts": "7", "hours": "x"},
            ]
        },
    )
    assert bad.status_code == 422
    assert {(e["field"], e["code"]) for e in bad.json()["errors"]} == {
        ("shifts[0].name", "shifts.required"),
        ("shifts[0].starts", "shifts.time_format"),
        ("shifts[0].hours", "shifts.hours_range"),
        ("shifts[1].name", "shifts.too_long"),
        ("shifts[1].starts", "shifts.time_format"),
        ("shifts[1].hours", "shifts.hours_range"),
    }
    assert all(e["reason"] for e in bad.json()["errors"])
    missing = await boss.put("/api/v1/liveroom/shifts", json={})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "shifts"

    # Operators see the shifts but do not keep them.
    refused = await operator.put(
        "/api/v1/liveroom/shifts", json={"shifts": [{"name": "Semua", "starts": "00:00", "hours": 24}]}
    )
    assert refused.status_code == 403

    two = await boss.put(
        "/api/v1/liveroom/shifts",
        json={
            "shifts": [
                {"id": ids[0], "name": "Siang hari", "starts": "06:00", "hours": 12},
                {"name": "Malam hari", "starts": "18:00", "hours": 12, "code": "malam-12"},
            ]
        },
    )
    assert two.status_code == 200, two.text
    assert [(s["name"], s["starts"], s["hours"], s["code"]) for s in two.json()["shifts"]] == [
        ("Siang hari", "06:00", 12, "pagi"),
        ("Malam hari", "18:00", 12, "malam-12"),
    ]
    listed = (await operator.get("/api/v1/liveroom/shifts")).json()
    assert [s["code"] for s in listed["shifts"]] == ["pagi", "malam-12"]
    await boss.aclose()
    await operator.aclose()


async def test_check_in_once_then_out(app, client_for, database, shift_city) -> None:
    operator = await employee(
        app, client_for, database, shift_city, "bpbd", roles=("liveroom_operator",), name="Rina Operator"
    )
    first = await operator.post("/api/v1/liveroom/duty/check-in")
    assert first.status_code == 201, first.text
    duty = first.json()
    assert duty["checked_out_at"] is None and duty["checked_in_at"].endswith("+07:00")

    again = await operator.post("/api/v1/liveroom/duty/check-in")
    assert again.status_code == 409
    assert again.json()["error"] == "already_on_duty"
    assert again.json()["duty_id"] == duty["id"]
    assert "sejak" in again.json()["detail"]

    now = (await operator.get("/api/v1/liveroom/duty")).json()
    assert [(d["employee"]["name"], d["agency"]["abbreviation"], d["since"]) for d in now["on_duty"]] == [
        ("Rina Operator", "BPBD", duty["checked_in_at"])
    ]
    assert now["on_duty"][0]["shift"]["id"] == now["current"]["id"]

    out = await operator.post("/api/v1/liveroom/duty/check-out")
    assert out.status_code == 200 and out.json()["checked_out_at"] is not None
    assert (await operator.get("/api/v1/liveroom/duty")).json()["on_duty"] == []
    twice = await operator.post("/api/v1/liveroom/duty/check-out")
    assert twice.status_code == 409 and twice.json()["error"] == "not_on_duty"
    assert (await operator.post("/api/v1/liveroom/duty/check-in")).status_code == 201
    await operator.aclose()


async def test_a_duty_left_open_after_its_shift_is_closed_at_its_end(
    app, client_for, database, shift_city
) -> None:
    operator = await employee(app, client_for, database, shift_city, None, roles=("liveroom_operator",))
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    async with database.tenant_session(shift_city) as session:
        old = await shifts.check_in(session, operator.id, yesterday)
        await session.commit()
        old_id = old.id
        running = await shifts.shift_at(session, yesterday)
    assert running is not None
    listed = (await operator.get("/api/v1/liveroom/duty")).json()["on_duty"]
    assert [d["overdue"] for d in listed] == [True]

    fresh = await operator.post("/api/v1/liveroom/duty/check-in")
    assert fresh.status_code == 201, fresh.text
    async with database.tenant_session(shift_city) as session:
        closed = await session.get(Duty, old_id)
    assert closed is not None and closed.checked_out_at == running.ends
    await operator.aclose()


async def test_roster_of_a_week(app, client_for, database, shift_city) -> None:
    boss = await employee(app, client_for, database, shift_city, None, roles=("liveroom_supervisor",))
    rina = await employee(
        app, client_for, database, shift_city, "dishub", roles=("liveroom_operator",), name="Rina Dishub"
    )
    clerk = await employee(app, client_for, database, shift_city, "pupr", name="Budi PUPR")
    shifts_now = (await boss.get("/api/v1/liveroom/shifts")).json()["shifts"]
    pagi = shifts_now[0]["id"]
    today = dt.datetime.now(ZoneInfo("Asia/Jakarta")).date()
    monday = today - dt.timedelta(days=today.weekday())

    planned = await boss.post(
        "/api/v1/liveroom/roster", json={"day": today.isoformat(), "shift_id": pagi, "employee_id": rina.id}
    )
    assert planned.status_code == 201, planned.text
    same = await boss.post(
        "/api/v1/liveroom/roster", json={"day": today.isoformat(), "shift_id": pagi, "employee_id": rina.id}
    )
    assert same.status_code == 200 and same.json()["id"] == planned.json()["id"]

    not_room = await boss.post(
        "/api/v1/liveroom/roster", json={"day": "2026-13-01", "shift_id": 999999, "employee_id": clerk.id}
    )
    assert not_room.status_code == 422
    assert [(e["field"], e["code"]) for e in not_room.json()["errors"]] == [("day", "day.date_format")]
    not_room = await boss.post(
        "/api/v1/liveroom/roster", json={"day": today.isoformat(), "shift_id": pagi, "employee_id": clerk.id}
    )
    assert not_room.status_code == 422
    assert not_room.json()["errors"][0]["field"] == "employee_id"
    assert "Budi PUPR" in not_room.json()["errors"][0]["reason"]

    operators = (await boss.get("/api/v1/liveroom/roster/operators")).json()
    assert {o["name"] for o in operators} >= {"Rina Dishub"}
    assert "Budi PUPR" not in {o["name"] for o in operators}

    week = (await rina.get(f"/api/v1/liveroom/roster?week={today.isoformat()}")).json()
    assert week["from"] == monday.isoformat()
    assert [
        (e["day"], e["shift_id"], e["employee"]["name"], e["employee"]["agency"]) for e in week["entries"]
    ] == [(today.isoformat(), pagi, "Rina Dishub", "Dishub")]
    assert (await rina.post("/api/v1/liveroom/roster", json={})).status_code == 403

    page = await rina.client.get("/liveroom/shift", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "Rina Dishub" in page.text and "Jadwal minggu ini" in page.text

    removed = await boss.delete(f"/api/v1/liveroom/roster/{planned.json()['id']}")
    assert removed.status_code == 200
    assert (await boss.delete(f"/api/v1/liveroom/roster/{planned.json()['id']}")).status_code == 404
    assert (await rina.get("/api/v1/liveroom/roster")).json()["entries"] == []
    for person in (boss, rina, clerk):
        await person.aclose()


async def test_without_a_room_role_the_api_refuses(app, client_for, database, shift_city) -> None:
    clerk = await employee(app, client_for, database, shift_city, "pupr")
    for path in (
        "/api/v1/liveroom/duty",
        "/api/v1/liveroom/shifts",
        "/api/v1/liveroom/roster",
        "/api/v1/liveroom/handovers",
        "/api/v1/liveroom/measures",
    ):
        assert (await clerk.get(path)).status_code == 403, path
    assert (await clerk.post("/api/v1/liveroom/duty/check-in")).status_code == 403
    assert (await clerk.post("/api/v1/liveroom/handovers", json={"notes": "x"})).status_code == 403
    async with client_for(shift_city.primary_host) as anonymous:
        assert (await anonymous.get("/api/v1/liveroom/duty")).status_code == 401
    await clerk.aclose()


async def test_check_in_and_out_from_the_page(app, client_for, database, shift_city) -> None:
    operator = await employee(app, client_for, database, shift_city, "bpbd", roles=("liveroom_operator",))
    html = {"accept": "text/html"}
    page = await operator.client.get("/liveroom/shift", headers=html)
    assert page.status_code == 200 and 'action="/liveroom/shift/masuk"' in page.text
    sent = await operator.client.post(
        "/liveroom/shift/masuk", data={"_csrf_token": operator.csrf}, headers=html
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/liveroom/shift?pesan=masuk"
    page = await operator.client.get("/liveroom/shift?pesan=masuk", headers=html)
    assert "Anda sudah masuk tugas." in page.text and 'action="/liveroom/shift/keluar"' in page.text
    again = await operator.client.post(
        "/liveroom/shift/masuk", data={"_csrf_token": operator.csrf}, headers=html
    )
    assert again.status_code == 409 and "Anda sudah bertugas" in again.text
    forged = await operator.client.post("/liveroom/shift/keluar", data={}, headers=html)
    assert forged.status_code == 403  # no CSRF token
    out = await operator.client.post(
        "/liveroom/shift/keluar", data={"_csrf_token": operator.csrf}, headers=html
    )
    assert out.status_code == 303
    english = await operator.client.get("/liveroom/shift?lang=en", headers=html)
    assert "On duty now" in english.text
    await operator.aclose()


async def test_two_check_ins_at_once_leave_one_duty(app, client_for, database, shift_city) -> None:
    import asyncio

    operator = await employee(app, client_for, database, shift_city, None, roles=("liveroom_operator",))
    answers = await asyncio.gather(*(operator.post("/api/v1/liveroom/duty/check-in") for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409]
    assert {a.json()["error"] for a in answers if a.status_code == 409} == {"already_on_duty"}
    async with database.tenant_session(shift_city) as session:
        open_duties = await session.scalars(
            select(Duty.id).where(Duty.employee_id == operator.id, Duty.checked_out_at.is_(None))
        )
        assert len(list(open_duties)) == 1
    await operator.aclose()
