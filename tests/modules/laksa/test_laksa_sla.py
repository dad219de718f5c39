"""SLA due times in the city's office hours (24/7 for emergencies), the scheduled scan that flags
at-risk and breached complaints once each with an event, and the automatic closing of resolved
complaints, run as the scheduler runs them: one message per city, in the worker."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from laksa_support import CIPONDOH, citizen, employee, submit
from sqlalchemy import select, update
from support import settled, wait_until

from kotalive.context import use_tenant
from kotalive.events import OutboxEvent
from kotalive.modules.laksa import jobs, services
from kotalive.modules.laksa.models import Complaint, TimelineEntry

WIB = ZoneInfo("Asia/Jakarta")


async def make(app, client_for, database, city, text: str) -> dict:
    siti = await citizen(app, client_for, database, city)
    answer = await submit(siti, description=text, lat=CIPONDOH[0], lon=CIPONDOH[1])
    assert answer.status_code == 201, answer.text
    return answer.json()["complaint"]


async def test_due_times_follow_the_rule_and_the_clock(app, client_for, database, city) -> None:
    lamp = await make(app, client_for, database, city, "Lampu jalan mati total #lampumati")
    flood = await make(app, client_for, database, city, "Air masuk rumah warga #banjir")
    async with database.tenant_session(city) as s:
        lamp_row, flood_row = await s.get(Complaint, lamp["id"]), await s.get(Complaint, flood["id"])
    assert lamp_row and flood_row
    # pju: 48 office hours; banjir: an emergency, 2 hours around the clock
    assert lamp_row.sla_hours == 48 and lamp_row.sla_calendar == "working"
    assert flood_row.sla_hours == 2 and flood_row.sla_calendar == "always" and flood_row.emergency
    assert flood_row.due_at - flood_row.forwarded_at == dt.timedelta(hours=2)
    # 48 office hours of 8 a day are six working days: never less than a calendar week ahead
    assert lamp_row.due_at - lamp_row.forwarded_at >= dt.timedelta(days=6)
    due_local = lamp_row.due_at.astimezone(WIB)
    assert due_local.isoweekday() <= 5 and dt.time(8) < due_local.time() <= dt.time(16)


async def test_office_hours_set_by_the_admin_apply_to_new_complaints(app, client_for, database, city) -> None:
    admin = await employee(app, client_for, database, city, None, roles=("city_admin",))
    every_day = {str(d): ["00:00", "23:59"] for d in range(1, 8)}
    assert (await admin.put("/api/v1/laksa/admin/sla/working-hours", json=every_day)).status_code == 200
    bad = await admin.put("/api/v1/laksa/admin/sla/working-hours", json={"1": ["17:00", "08:00"], "9": None})
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"hours", "weekday"}
    lamp = await make(app, client_for, database, city, "Lampu jalan mati total #lampumati")
    async with database.tenant_session(city) as s:
        row = await s.get(Complaint, lamp["id"])
    assert row is not None and row.due_at - row.forwarded_at < dt.timedelta(days=2, hours=2)
    sla = (await admin.get("/api/v1/laksa/admin/sla")).json()
    assert sla["working_hours"]["7"] == ["00:00", "23:59"] and sla["timezone"] == city.timezone


async def flagged(database, city) -> list[tuple[str, int]]:
    async with database.tenant_session(city) as s:
        rows = await s.execute(
            select(OutboxEvent.event_type, OutboxEvent.payload)
            .where(OutboxEvent.event_type.like("laksa.complaint_sla_%"))
            .order_by(OutboxEvent.id)
        )
        return [(t, p["complaint_id"]) for t, p in rows]


async def test_the_scan_flags_at_risk_then_breached_once_each(app, client_for, database, city) -> None:
    lamp = await make(app, client_for, database, city, "Lampu jalan mati total #lampumati")
    done = await make(app, client_for, database, city, "Lampu jalan mati juga di sini #lampumati")
    pupr = await employee(app, client_for, database, city, "pupr")
    await pupr.post(f"/api/v1/laksa/complaints/{done['id']}/resolve", json={"note": "Beres"})
    async with database.tenant_session(city) as s:
        row = await s.get(Complaint, lamp["id"])
        assert row is not None and row.at_risk_at is not None and row.due_at is not None
        at_risk_moment, due = row.at_risk_at, row.due_at
    with use_tenant(city):
        async with database.tenant_session(city) as s:
            assert await services.scan_sla(s, now=at_risk_moment - dt.timedelta(minutes=1)) == {
                "at_risk": 0,
                "breached": 0,
                "escalated": 0,
            }
            assert await services.scan_sla(s, now=at_risk_moment + dt.timedelta(minutes=1)) == {
                "at_risk": 1,
                "breached": 0,
                "escalated": 0,
            }
            assert await services.scan_sla(s, now=at_risk_moment + dt.timedelta(minutes=2)) == {
                "at_risk": 0,
                "breached": 0,
                "escalated": 0,
            }
            assert await services.scan_sla(s, now=due + dt.timedelta(minutes=1)) == {
                "at_risk": 0,
                "breached": 1,
                "escalated": 0,
            }
            # still open long after: escalated to the Live Room, once
            assert await services.scan_sla(s, now=due + dt.timedelta(days=3)) == {
                "at_risk": 0,
                "breached": 0,
                "escalated": 1,
            }
            assert await services.scan_sla(s, now=due + dt.timedelta(days=4)) == {
                "at_risk": 0,
                "breached": 0,
                "escalated": 0,
            }
    assert await flagged(database, city) == [
        ("laksa.complaint_sla_at_risk", lamp["id"]),
        ("laksa.complaint_sla_breached", lamp["id"]),
        ("laksa.complaint_sla_escalated", lamp["id"]),
    ]
    staff = (await pupr.get(f"/api/v1/laksa/complaints/{lamp['id']}")).json()
    assert [e["kind"] for e in staff["timeline"] if e["kind"].startswith("sla_")] == [
        "sla_at_risk",
        "sla_breached",
        "sla_escalated",
    ]
    public_view = (await client_for(city.primary_host).get(f"/api/v1/laksa/complaints/{lamp['id']}")).json()
    assert public_view["audience"] == "public"
    assert [e["kind"] for e in public_view["timeline"]] == ["submitted", "routed"]


async def test_a_complaint_past_due_is_flagged_breached_only(app, client_for, database, city) -> None:
    lamp = await make(app, client_for, database, city, "Lampu jalan mati total #lampumati")
    async with database.tenant_session(city) as s:
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        await s.execute(
            update(Complaint)
            .where(Complaint.id == lamp["id"])
            .values(at_risk_at=long_ago, due_at=long_ago + dt.timedelta(hours=1))
        )
        await s.commit()
    with use_tenant(city):
        async with database.tenant_session(city) as s:
            assert await services.scan_sla(s) == {"at_risk": 0, "breached": 1, "escalated": 0}
    assert [t for t, _ in await flagged(database, city)] == ["laksa.complaint_sla_breached"]
    pupr = await employee(app, client_for, database, city, "pupr")
    breached = (await pupr.get("/api/v1/laksa/inbox", params={"sla": "breached"})).json()["items"]
    assert [(i["id"], i["sla"]) for i in breached] == [(lamp["id"], "breached")]
    assert (await pupr.get("/api/v1/laksa/inbox", params={"sla": "ok"})).json()["items"] == []


async def test_the_scheduled_jobs_run_per_city_in_the_worker(
    app, client_for, database, city, broker, worker
) -> None:
    lamp = await make(app, client_for, database, city, "Lampu jalan mati total #lampumati")
    resolved = await make(app, client_for, database, city, "Lampu jalan mati juga di sana #lampumati")
    pupr = await employee(app, client_for, database, city, "pupr")
    await pupr.post(f"/api/v1/laksa/complaints/{resolved['id']}/resolve", json={"note": "Beres"})
    async with database.tenant_session(city) as s:
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        await s.execute(
            update(Complaint).where(Complaint.id == lamp["id"]).values(at_risk_at=long_ago, due_at=long_ago)
        )
        await s.execute(update(Complaint).where(Complaint.id == resolved["id"]).values(resolved_at=long_ago))
        await s.commit()
    jobs.scan_sla.send_for(city)
    jobs.close_resolved.send_for(city)
    await wait_until(settled(broker), "the jobs to run", 15)

    async def state_of(cid: int) -> str:
        async with database.tenant_session(city) as s:
            row = await s.get(Complaint, cid, populate_existing=True)
        assert row is not None
        return row.state

    assert await state_of(resolved["id"]) == "closed"
    assert [t for t, _ in await flagged(database, city)] == ["laksa.complaint_sla_breached"]
    async with database.tenant_session(city) as s:
        kinds = list(
            await s.scalars(
                select(TimelineEntry.kind)
                .where(TimelineEntry.complaint_id == resolved["id"])
                .order_by(TimelineEntry.id)
            )
        )
    assert kinds[-1] == "closed"


async def test_the_scheduler_wants_laksa_jobs_only_where_laksa_is_on(
    settings, modules, make_city, tenant_service
) -> None:
    from kotalive.scheduler import periodic_work

    work = {p.name: p for p in periodic_work(settings, modules)}
    assert {"laksa.sla_scan", "laksa.close_resolved", "laksa.photo_sweep"} <= set(work)
    on = await make_city("laksa-on")
    off = await make_city("laksa-off", modules=["liveroom", "hotline112"])
    assert work["laksa.sla_scan"].wanted_by(on) and not work["laksa.sla_scan"].wanted_by(off)
