"""Agency work on a complaint: not our authority, transfer, duplicates, assignment, notes and
replies, copies, classification, the citizen's reopening and support; and two people acting at
once (one wins, the other is told)."""

from __future__ import annotations

import asyncio
import datetime as dt

from laksa_support import CIPONDOH, agency_id, citizen, employee, submit
from sqlalchemy import select, update

from kotalive.events import OutboxEvent
from kotalive.modules.laksa.models import Complaint, HashtagRule

LAMP = {"description": "Lampu jalan mati di ujung gang #lampumati", "lat": CIPONDOH[0], "lon": CIPONDOH[1]}


async def new_complaint(person, **fields) -> int:
    answer = await submit(person, **{**LAMP, **fields})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["complaint"]["id"])


async def events(database, city, event_type: str) -> list[dict]:
    async with database.tenant_session(city) as s:
        rows = await s.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.event_type == event_type).order_by(OutboxEvent.id)
        )
        return list(rows)


async def test_not_our_authority_goes_back_to_triage_and_on_to_the_right_agency(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await new_complaint(siti)
    pupr = await employee(app, client_for, database, city, "pupr")
    no_reason = await pupr.post(f"/api/v1/laksa/complaints/{cid}/return", json={})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    back = await pupr.post(f"/api/v1/laksa/complaints/{cid}/return", json={"reason": "Ini lampu milik PLN"})
    assert back.status_code == 200 and back.json()["state"] == "triage" and back.json()["agency_id"] is None
    # PUPR no longer sees it
    assert (await pupr.get(f"/api/v1/laksa/complaints/{cid}")).json()["audience"] == "public"
    operator = await employee(app, client_for, database, city, None, roles=("liveroom_operator",))
    pln = await agency_id(database, city, "pln")
    forwarded = await operator.post(f"/api/v1/laksa/complaints/{cid}/forward", json={"agency_id": pln})
    assert forwarded.json()["state"] == "forwarded" and forwarded.json()["agency_id"] == pln
    seen = (await siti.get(f"/api/v1/laksa/complaints/{cid}")).json()
    returned = next(e for e in seen["timeline"] if e["kind"] == "returned")
    assert returned["body"] == "Ini lampu milik PLN" and returned["to_state"] == "triage"
    triage_events = await events(database, city, "laksa.complaint_awaiting_triage")
    assert [e["complaint_id"] for e in triage_events] == [cid]


async def test_transfer_needs_a_supervisor_and_an_active_other_agency(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await new_complaint(siti)
    dlh = await agency_id(database, city, "dlh")
    plain = await employee(app, client_for, database, city, "pupr")
    assert (
        await plain.post(f"/api/v1/laksa/complaints/{cid}/transfer", json={"agency_id": dlh})
    ).status_code == 403
    boss = await employee(app, client_for, database, city, "pupr", roles=("employee", "agency_supervisor"))
    pupr = await agency_id(database, city, "pupr")
    same = await boss.post(
        f"/api/v1/laksa/complaints/{cid}/transfer", json={"agency_id": pupr, "reason": "x"}
    )
    assert same.status_code == 422 and same.json()["errors"][0]["code"] == "agency_id.same_agency"
    async with database.tenant_session(city) as s:
        from kotalive.tenants.city_models import Agency

        await s.execute(update(Agency).where(Agency.code == "dinsos").values(active=False))
        await s.commit()
    dinsos = await agency_id(database, city, "dinsos")
    off = await boss.post(
        f"/api/v1/laksa/complaints/{cid}/transfer", json={"agency_id": dinsos, "reason": "x"}
    )
    assert off.status_code == 422 and off.json()["errors"][0]["code"] == "agency_id.inactive"
    moved = await boss.post(
        f"/api/v1/laksa/complaints/{cid}/transfer", json={"agency_id": dlh, "reason": "Sampah"}
    )
    assert (
        moved.status_code == 200 and moved.json()["agency_id"] == dlh and moved.json()["state"] == "forwarded"
    )
    assert [e["from_agency_id"] for e in await events(database, city, "laksa.complaint_transferred")] == [
        pupr
    ]


async def test_a_duplicate_joins_its_original(app, client_for, database, city) -> None:
    siti, budi = (
        await citizen(app, client_for, database, city),
        await citizen(app, client_for, database, city, "Budi"),
    )
    original = await new_complaint(siti)
    copy = await new_complaint(budi)
    pupr = await employee(app, client_for, database, city, "pupr")
    bad = await pupr.post(f"/api/v1/laksa/complaints/{copy}/duplicate", json={"duplicate_of": copy})
    assert bad.status_code == 422
    missing = await pupr.post(f"/api/v1/laksa/complaints/{copy}/duplicate", json={"duplicate_of": 999_999})
    assert missing.status_code == 422 and missing.json()["errors"][0]["code"] == "duplicate_of.unknown"
    marked = await pupr.post(f"/api/v1/laksa/complaints/{copy}/duplicate", json={"duplicate_of": original})
    assert marked.json()["state"] == "duplicate" and marked.json()["duplicate_of"] == original
    # Budi now supports the original; a third complaint marked a duplicate of the duplicate joins the original
    assert (await siti.get(f"/api/v1/laksa/complaints/{original}")).json()["support_count"] == 1
    third = await new_complaint(await citizen(app, client_for, database, city, "Dewi"))
    chained = await pupr.post(f"/api/v1/laksa/complaints/{third}/duplicate", json={"duplicate_of": copy})
    assert chained.json()["duplicate_of"] == original
    again = await pupr.post(f"/api/v1/laksa/complaints/{copy}/duplicate", json={"duplicate_of": original})
    assert again.status_code == 409


async def test_assignment_rules(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await new_complaint(siti)
    ani = await employee(app, client_for, database, city, "pupr", name="Ani")
    eko = await employee(app, client_for, database, city, "pupr", name="Eko")
    outsider = await employee(app, client_for, database, city, "dlh", name="Dodi")
    boss = await employee(app, client_for, database, city, "pupr", roles=("employee", "agency_supervisor"))
    url = f"/api/v1/laksa/complaints/{cid}/assign"
    assert (await ani.post(url, json={"employee_id": ani.id})).json()["assignee"] == "Ani"
    assert (await ani.post(url, json={"employee_id": eko.id})).status_code == 403
    wrong = await boss.post(url, json={"employee_id": outsider.id})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["code"] == "employee_id.not_in_agency"
    assert (await boss.post(url, json={"employee_id": eko.id})).json()["assignee_id"] == eko.id
    mine = (await eko.get("/api/v1/laksa/inbox", params={"assignee": "me"})).json()["items"]
    assert [i["id"] for i in mine] == [cid]
    assert (await boss.post(url, json={"employee_id": None})).json()["assignee_id"] is None
    # Starting work takes the complaint when nobody holds it
    started = await eko.post(f"/api/v1/laksa/complaints/{cid}/start", json={})
    assert started.json()["assignee_id"] == eko.id


async def test_internal_notes_stay_inside_public_replies_reach_the_citizen(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await new_complaint(siti)
    pupr = await employee(app, client_for, database, city, "pupr")
    note = await pupr.post(f"/api/v1/laksa/complaints/{cid}/notes", json={"body": "Stok lampu habis, tunggu"})
    reply = await pupr.post(
        f"/api/v1/laksa/complaints/{cid}/notes",
        json={"body": "Akan kami perbaiki besok pagi", "public": True},
    )
    assert note.status_code == 200 and reply.status_code == 200
    staff_view = {e["body"] for e in note.json()["timeline"]} | {e["body"] for e in reply.json()["timeline"]}
    assert {"Stok lampu habis, tunggu", "Akan kami perbaiki besok pagi"} <= staff_view
    for viewer in (siti, client_for(city.primary_host)):
        seen = (await viewer.get(f"/api/v1/laksa/complaints/{cid}")).json()
        bodies = [e["body"] for e in seen["timeline"]]
        assert "Akan kami perbaiki besok pagi" in bodies and "Stok lampu habis, tunggu" not in bodies
    assert [e["body"] for e in await events(database, city, "laksa.complaint_replied")] == [
        "Akan kami perbaiki besok pagi"
    ]
    operator = await employee(app, client_for, database, city, None, roles=("liveroom_operator",))
    # the Live Room may note, but only the agency replies in its name
    assert (
        await operator.post(f"/api/v1/laksa/complaints/{cid}/notes", json={"body": "dipantau"})
    ).status_code == 200
    denied = await operator.post(
        f"/api/v1/laksa/complaints/{cid}/notes", json={"body": "halo", "public": True}
    )
    assert denied.status_code == 403


async def test_a_copied_agency_sees_but_does_not_act(app, client_for, database, city) -> None:
    dlh = await agency_id(database, city, "dlh")
    async with database.tenant_session(city) as s:
        await s.execute(update(HashtagRule).where(HashtagRule.code == "pju").values(copy_agency_ids=[dlh]))
        await s.commit()
    siti = await citizen(app, client_for, database, city)
    cid = await new_complaint(siti)
    dlh_staff = await employee(app, client_for, database, city, "dlh")
    inbox = (await dlh_staff.get("/api/v1/laksa/inbox")).json()["items"]
    assert [(i["id"], i["copy"]) for i in inbox] == [(cid, True)]
    assert (await dlh_staff.get(f"/api/v1/laksa/complaints/{cid}")).json()["audience"] == "staff"
    refused = await dlh_staff.post(f"/api/v1/laksa/complaints/{cid}/acknowledge", json={})
    assert refused.status_code == 403 and refused.json()["error"] == "copy_only"


async def test_classifying_as_an_emergency_restarts_the_sla_on_the_24_7_clock(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await new_complaint(siti)
    boss = await employee(app, client_for, database, city, "pupr", roles=("employee", "agency_supervisor"))
    before = (await boss.get(f"/api/v1/laksa/complaints/{cid}")).json()
    changed = await boss.post(f"/api/v1/laksa/complaints/{cid}/classify", json={"emergency": True})
    after = changed.json()
    assert after["emergency"] and after["priority"] == "emergency"
    assert dt.datetime.fromisoformat(after["due_at"]) != dt.datetime.fromisoformat(before["due_at"])
    async with database.tenant_session(city) as s:
        row = await s.get(Complaint, cid)
    assert row is not None and row.sla_calendar == "always"
    wrong = await boss.post(f"/api/v1/laksa/complaints/{cid}/classify", json={"priority": "urgent-ish"})
    assert wrong.status_code == 422


async def test_the_citizen_reopens_within_the_window_only(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await new_complaint(siti)
    pupr = await employee(app, client_for, database, city, "pupr")
    too_early = await siti.post(f"/api/v1/laksa/complaints/{cid}/reopen", json={"reason": "belum"})
    assert too_early.status_code == 409 and too_early.json()["error"] == "invalid_transition"
    assert "Selesai ditangani" in too_early.json()["detail"]
    await pupr.post(f"/api/v1/laksa/complaints/{cid}/resolve", json={"note": "Sudah diganti"})
    reopened = await siti.post(
        f"/api/v1/laksa/complaints/{cid}/reopen", json={"reason": "Masih mati malam ini"}
    )
    assert reopened.json()["state"] == "reopened" and reopened.json()["reopen_count"] == 1
    assert [i["id"] for i in (await pupr.get("/api/v1/laksa/inbox")).json()["items"]] == [cid]
    await pupr.post(f"/api/v1/laksa/complaints/{cid}/resolve", json={"note": "Kabel diganti"})
    async with database.tenant_session(city) as s:
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        await s.execute(update(Complaint).where(Complaint.id == cid).values(resolved_at=old))
        await s.commit()
    late = await siti.post(f"/api/v1/laksa/complaints/{cid}/reopen", json={"reason": "lagi"})
    assert late.status_code == 409 and late.json()["error"] == "reopen_too_late"
    other = await citizen(app, client_for, database, city, "Budi")
    assert (
        await other.post(f"/api/v1/laksa/complaints/{cid}/reopen", json={"reason": "x"})
    ).status_code == 404


async def test_support_counts_each_citizen_once(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await new_complaint(siti)
    budi = await citizen(app, client_for, database, city, "Budi")
    first = await budi.post(f"/api/v1/laksa/complaints/{cid}/support")
    second = await budi.post(f"/api/v1/laksa/complaints/{cid}/support")
    assert first.json() == {"id": cid, "support_count": 1, "added": True}
    assert second.json() == {"id": cid, "support_count": 1, "added": False}
    own = await siti.post(f"/api/v1/laksa/complaints/{cid}/support")
    assert own.status_code == 409 and own.json()["error"] == "support_own"
    # nearby shows it to the next citizen who stands at the same lamp
    near = (
        await budi.get(
            "/api/v1/laksa/nearby", params={"lat": CIPONDOH[0], "lon": CIPONDOH[1], "category": "street-lamp"}
        )
    ).json()
    assert [(i["id"], i["support_count"]) for i in near["items"]] == [(cid, 1)]
    far = (
        await budi.get("/api/v1/laksa/nearby", params={"lat": CIPONDOH[0] + 0.01, "lon": CIPONDOH[1]})
    ).json()
    assert far["items"] == []
    # supporters hear of status changes
    pupr = await employee(app, client_for, database, city, "pupr")
    await pupr.post(f"/api/v1/laksa/complaints/{cid}/acknowledge", json={})
    change = (await events(database, city, "laksa.complaint_status_changed"))[-1]
    assert change["supporter_ids"] == [budi.id] and change["citizen_id"] == siti.id


async def test_two_operators_forwarding_at_once_one_wins_the_other_is_told(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    answer = await submit(
        siti, description="Ada yang aneh di taman kota, mohon dicek", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    cid = answer.json()["complaint"]["id"]
    ops = [
        await employee(app, client_for, database, city, None, roles=("liveroom_operator",)) for _ in range(2)
    ]
    pupr, dlh = await agency_id(database, city, "pupr"), await agency_id(database, city, "dlh")
    a, b = await asyncio.gather(
        ops[0].post(f"/api/v1/laksa/complaints/{cid}/forward", json={"agency_id": pupr}),
        ops[1].post(f"/api/v1/laksa/complaints/{cid}/forward", json={"agency_id": dlh}),
    )
    assert sorted([a.status_code, b.status_code]) == [200, 409]
    loser = a if a.status_code == 409 else b
    assert loser.json()["state"] == "forwarded"
    async with database.tenant_session(city) as s:
        row = await s.get(Complaint, cid)
    winner = a if a.status_code == 200 else b
    assert row is not None and row.agency_id == winner.json()["agency_id"]
    assert len(await events(database, city, "laksa.complaint_routed")) == 1


async def test_response_templates_per_agency(app, client_for, database, city) -> None:
    boss = await employee(app, client_for, database, city, "pupr", roles=("employee", "agency_supervisor"))
    made = await boss.post(
        "/api/v1/laksa/templates",
        json={"title": "Sudah diperbaiki", "body": "Terima kasih, sudah kami perbaiki."},
    )
    assert made.status_code == 201 and made.json()["agency_id"] == await agency_id(database, city, "pupr")
    other = await employee(app, client_for, database, city, "dlh", roles=("employee", "agency_supervisor"))
    assert (await other.get("/api/v1/laksa/templates")).json() == []
    assert [t["title"] for t in (await boss.get("/api/v1/laksa/templates")).json()] == ["Sudah diperbaiki"]
    theirs = await other.post(
        "/api/v1/laksa/templates",
        json={"title": "x", "body": "y", "agency_id": await agency_id(database, city, "pupr")},
    )
    assert theirs.status_code == 422
    gone = await other.delete(f"/api/v1/laksa/templates/{made.json()['id']}")
    assert gone.status_code == 404
    assert (await boss.delete(f"/api/v1/laksa/templates/{made.json()['id']}")).status_code == 200
    assert (await boss.get("/api/v1/laksa/templates")).json() == []
