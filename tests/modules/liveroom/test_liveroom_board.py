"""The board end to end: complaints appear through Laksa's events, operators claim and forward
through the board's API, Laksa applies the room's requests through the room's events, and the
agency's acknowledgement comes back to the board. Real PostgreSQL, Redis and a Dramatiq worker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from laksa_support import CIPONDOH, agency_id, citizen, employee, submit, with_boundaries
from support import wait_until

from kotalive import live
from kotalive.events import wait_for_relays

OPERATOR = ("liveroom_operator",)


@pytest.fixture
async def city(make_city: Any, database: Any) -> Any:
    c = await make_city("room", region_code="3671", name="Kota Uji Ruang Kendali")
    await with_boundaries(database, c)
    return c


async def item_of(person: Any, complaint_id: int) -> dict[str, Any] | None:
    found = await person.get(
        "/api/v1/liveroom/items", params={"kind": "complaint", "source_id": complaint_id}
    )
    return found.json()["item"] if found.status_code == 200 else None


async def wait_item(person: Any, complaint_id: int, what: str, check: Any = lambda i: True) -> dict[str, Any]:
    async def ready() -> Any:
        await wait_for_relays()
        await live.wait_for_hand_overs()
        found = await item_of(person, complaint_id)
        return found if found is not None and check(found) else None

    return await wait_until(ready, what, 20)


async def test_an_untagged_complaint_appears_is_claimed_forwarded_and_acknowledged(
    app: Any, client_for: Any, database: Any, city: Any, broker: Any, worker: Any
) -> None:
    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR, name="Ani Operator")
    budi = await employee(app, client_for, database, city, "satpol-pp", roles=OPERATOR, name="Budi Operator")
    pupr = await employee(app, client_for, database, city, "pupr", name="Pegawai PUPR")
    siti = await citizen(app, client_for, database, city)
    made = await submit(
        siti, description="Ada lubang besar di jalan depan pasar", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    assert made.status_code == 201, made.text
    cid = made.json()["complaint"]["id"]

    item = await wait_item(ani, cid, "the complaint on the board")
    assert (item["state"], item["source_state"], item["kind"]) == ("new", "triage", "complaint")
    board = (await ani.get("/api/v1/liveroom/board", params={"view": "action"})).json()
    assert [i["id"] for i in board["items"]] == [item["id"]] and board["counts"]["action"] == 1
    assert "nik" not in str(board).lower()

    # Claimed by Ani: Budi sees who has it and cannot forward it.
    claimed = await ani.post(f"/api/v1/liveroom/items/{item['id']}/claim")
    assert claimed.status_code == 200 and claimed.json()["item"]["claimed_by"] == ani.id
    taken = await budi.post(f"/api/v1/liveroom/items/{item['id']}/claim")
    assert taken.status_code == 409 and "Ani Operator" in taken.json()["detail"]
    pupr_id = await agency_id(database, city, "pupr")
    refused = await budi.post(f"/api/v1/liveroom/items/{item['id']}/forward", json={"agency_ids": [pupr_id]})
    assert refused.status_code == 409 and refused.json()["error"] == "claimed_by_other"

    sent = await ani.post(
        f"/api/v1/liveroom/items/{item['id']}/forward", json={"agency_ids": [pupr_id], "note": "Mohon dicek"}
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["item"]["state"] == "forwarded"
    again = await ani.post(f"/api/v1/liveroom/items/{item['id']}/forward", json={"agency_ids": [pupr_id]})
    assert again.status_code == 409 and again.json()["error"] == "already_forwarded"

    # Laksa applies the room's request: PUPR holds the complaint, and sees it in its inbox.
    async def forwarded() -> Any:
        await wait_for_relays()
        shown = await pupr.get(f"/api/v1/laksa/complaints/{cid}")
        return shown.status_code == 200 and shown.json()["state"] == "forwarded"

    await wait_until(forwarded, "Laksa to forward the complaint to PUPR", 20)
    ack = await pupr.post(f"/api/v1/laksa/complaints/{cid}/acknowledge", json={})
    assert ack.status_code == 200, ack.text
    done = await wait_item(
        ani, cid, "PUPR's acknowledgement on the board", lambda i: i["state"] == "acknowledged"
    )
    assert done["acknowledged_at"] is not None and done["forwarded_by"] == ani.id
    progress = (await ani.get("/api/v1/liveroom/board", params={"view": "progress"})).json()
    assert [i["id"] for i in progress["items"]] == [item["id"]]


async def test_two_operators_forwarding_at_once_one_wins_the_other_is_told(
    app: Any, client_for: Any, database: Any, city: Any, broker: Any, worker: Any
) -> None:
    ani = await employee(app, client_for, database, city, "bpbd", roles=("liveroom_supervisor",), name="Ani")
    budi = await employee(
        app, client_for, database, city, "satpol-pp", roles=("liveroom_supervisor",), name="Budi"
    )
    siti = await citizen(app, client_for, database, city)
    made = await submit(siti, description="Pohon tumbang menutup jalan", lat=CIPONDOH[0], lon=CIPONDOH[1])
    cid = made.json()["complaint"]["id"]
    item = await wait_item(ani, cid, "the complaint on the board")
    pupr_id = await agency_id(database, city, "pupr")
    dlh_id = await agency_id(database, city, "dlh")
    a, b = await asyncio.gather(
        ani.post(f"/api/v1/liveroom/items/{item['id']}/forward", json={"agency_ids": [pupr_id]}),
        budi.post(f"/api/v1/liveroom/items/{item['id']}/forward", json={"agency_ids": [dlh_id]}),
    )
    assert sorted([a.status_code, b.status_code]) == [200, 409]
    loser = a if a.status_code == 409 else b
    assert loser.json()["error"] == "already_forwarded"
    winner_name = "Ani" if a.status_code == 200 else "Budi"
    assert winner_name in loser.json()["detail"]


async def test_forwarding_to_a_switched_off_agency_and_bad_input_are_refused(
    app: Any, client_for: Any, database: Any, city: Any, broker: Any, worker: Any
) -> None:
    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR)
    siti = await citizen(app, client_for, database, city)
    made = await submit(siti, description="Sampah menumpuk di pinggir kali", lat=CIPONDOH[0], lon=CIPONDOH[1])
    cid = made.json()["complaint"]["id"]
    item = await wait_item(ani, cid, "the complaint on the board")
    dlh_id = await agency_id(database, city, "dlh")
    async with database.tenant_session(city) as s, s.begin():
        await s.execute_sql("UPDATE {city}.agency SET active = false WHERE id = :id", {"id": dlh_id})
    url = f"/api/v1/liveroom/items/{item['id']}/forward"
    off = await ani.post(url, json={"agency_ids": [dlh_id]})
    assert off.status_code == 422 and off.json()["errors"][0]["field"] == "agency_ids[0]"
    assert off.json()["error"] == "agency_inactive"
    for body, field in (
        ({}, "agency_ids"),
        ({"agency_ids": "pupr"}, "agency_ids"),
        ({"agency_ids": [True]}, "agency_ids[0]"),
        ({"agency_ids": [999999]}, "agency_ids[0]"),
        ({"agency_ids": [dlh_id], "note": "x" * 5000}, "note"),
    ):
        got = await ani.post(url, json=body)
        assert got.status_code == 422 and got.json()["errors"][0]["field"] == field, (body, got.text)
    missing = await ani.post("/api/v1/liveroom/items/987654/claim")
    assert missing.status_code == 404
    bad_view = await ani.get("/api/v1/liveroom/board", params={"view": "everything"})
    assert bad_view.status_code == 422 and bad_view.json()["errors"][0]["field"] == "view"
    citizen_try = await siti.get("/api/v1/liveroom/board")
    assert citizen_try.status_code in (401, 403)


async def test_a_reconnecting_board_gets_every_change_it_missed_and_another_citys_item_is_unknown(
    app: Any, client_for: Any, database: Any, city: Any, make_city: Any, broker: Any, worker: Any
) -> None:
    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR)
    siti = await citizen(app, client_for, database, city)
    first = (await ani.get("/api/v1/liveroom/board")).json()["last_event_id"]
    ids = []
    for n in range(3):
        made = await submit(
            siti, description=f"Saluran air tersumbat nomor {n}", lat=CIPONDOH[0], lon=CIPONDOH[1]
        )
        ids.append(made.json()["complaint"]["id"])
    for cid in ids:
        await wait_item(ani, cid, "each complaint on the board")

    # As EventSource does after a drop: the last id it saw, in the Last-Event-ID header.
    caught = await ani.client.get(
        "/api/v1/liveroom/board/stream",
        params={"once": "true"},
        headers={**ani.headers(), "last-event-id": str(first), "accept": "text/event-stream"},
    )
    assert caught.status_code == 200 and caught.headers["content-type"].startswith("text/event-stream")
    seen_ids = [int(line[3:].strip()) for line in caught.text.splitlines() if line.startswith("id:")]
    assert seen_ids == sorted(seen_ids) and len(seen_ids) == len(set(seen_ids)) >= 3
    assert all(f'"source_id":{cid}' in caught.text.replace(" ", "") for cid in ids)
    fresh = await ani.client.get(
        "/api/v1/liveroom/board/stream", params={"once": "true"}, headers={"accept": "text/event-stream"}
    )
    assert "event: hello" in fresh.text

    # Another city's operator: the item ids of this city are not theirs to see or touch.
    other = await make_city("room", region_code="3603", name="Kabupaten Lain")
    stranger = await employee(app, client_for, database, other, "bpbd", roles=OPERATOR)
    item = await item_of(ani, ids[0])
    assert item is not None
    assert (await stranger.get(f"/api/v1/liveroom/items/{item['id']}")).status_code == 404
    assert (await stranger.post(f"/api/v1/liveroom/items/{item['id']}/claim")).status_code == 404
    assert (await stranger.get("/api/v1/liveroom/board")).json()["items"] == []
    replay = await stranger.client.get(
        "/api/v1/liveroom/board/stream",
        params={"once": "true", "after": "0"},
        headers={"accept": "text/event-stream"},
    )
    assert "source_id" not in replay.text


async def test_ten_thousand_open_items_page_in_board_order_through_the_index(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR)
    async with database.tenant_session(city) as s, s.begin():
        await s.execute_sql(
            "INSERT INTO {city}.liveroom_item (kind, source_id, state, title, priority, emergency, rank,"
            " sla, forwarded_to, source_seq, version)"
            " SELECT 'complaint', n, (ARRAY['new','claimed','routed','forwarded','acknowledged','escalated'])[1 + n % 6],"
            " 'Aduan ' || n, 'normal', n % 97 = 0, CASE WHEN n % 97 = 0 THEN 0 ELSE 1 + n % 3 END, 'ok', '{}', 0, 1"
            " FROM generate_series(1, 10000) AS n"
        )
        await s.execute_sql("ANALYZE {city}.liveroom_item")
        plan = "\n".join(
            r[0]
            for r in await s.execute_sql(
                "EXPLAIN SELECT * FROM {city}.liveroom_item WHERE state IN"
                " ('new','claimed','routed','forwarded','acknowledged','escalated')"
                " AND (rank > 1 OR (rank = 1 AND id < 5000)) ORDER BY rank, id DESC LIMIT 51"
            )
        )
    assert "ix_liveroom_item_board" in plan, plan
    seen: list[tuple[int, int]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"view": "open", "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = (await ani.get("/api/v1/liveroom/board", params=params)).json()
        seen += [(i["rank"], -i["id"]) for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 50 and len(seen) == 10000 and len(set(seen)) == 10000
    assert seen == sorted(seen)  # emergencies first, then by priority, newest first
    assert page["counts"]["open"] == 10000 and page["counts"]["emergency"] > 0


async def test_an_escalation_reaches_the_supervisor_at_once_and_duplicates_merge(
    app: Any, client_for: Any, database: Any, city: Any, broker: Any, worker: Any
) -> None:
    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR, name="Ani Operator")
    sari = await employee(
        app, client_for, database, city, "bpbd", roles=("liveroom_supervisor",), name="Sari"
    )
    siti = await citizen(app, client_for, database, city)
    cids = []
    for text in ("Banjir setinggi lutut di perumahan", "Banjir di perumahan, air masuk rumah"):
        made = await submit(siti, description=text, lat=CIPONDOH[0], lon=CIPONDOH[1])
        cids.append(made.json()["complaint"]["id"])
    first, second = [await wait_item(ani, c, "both complaints on the board") for c in cids]

    no_note = await ani.post(f"/api/v1/liveroom/items/{first['id']}/escalate", json={})
    assert no_note.status_code == 422 and no_note.json()["errors"][0]["field"] == "note"
    up = await ani.post(
        f"/api/v1/liveroom/items/{first['id']}/escalate", json={"note": "Perlu pompa <b>besar</b>"}
    )
    assert up.status_code == 200 and up.json()["item"]["state"] == "escalated"
    twice = await ani.post(f"/api/v1/liveroom/items/{first['id']}/escalate", json={"note": "lagi"})
    assert twice.status_code == 409

    async def told() -> Any:
        await wait_for_relays()
        got = (await sari.get("/api/v1/notifications")).json()
        return [n for n in got["items"] if n["message"] == "liveroom.escalated"]

    [bell] = await wait_until(told, "the supervisor's bell", 20)
    assert "Ani Operator" in bell["title"] and bell["link"] == f"/liveroom/item/{first['id']}"
    assert [
        n
        for n in (await ani.get("/api/v1/notifications")).json()["items"]
        if n["message"] == "liveroom.escalated"
    ] == []

    merged = await ani.post(
        f"/api/v1/liveroom/items/{second['id']}/duplicate", json={"of_item_id": first["id"]}
    )
    assert merged.status_code == 200 and merged.json()["item"]["merged_into"] == first["id"]

    async def laksa_duplicate() -> Any:
        await wait_for_relays()
        shown = await sari.get(f"/api/v1/laksa/complaints/{cids[1]}")
        return shown.status_code == 200 and shown.json()["state"] == "duplicate"

    await wait_until(laksa_duplicate, "Laksa to mark the complaint a duplicate", 20)
    self_merge = await ani.post(
        f"/api/v1/liveroom/items/{first['id']}/duplicate", json={"of_item_id": first["id"]}
    )
    assert self_merge.status_code == 422


async def test_events_in_any_order_never_undo_the_rooms_decision(
    database: Any, city: Any, app: Any, client_for: Any
) -> None:
    """Laksa's events of one transaction may be handled in any order, and late: a stale "in
    triage" after the room forwarded, or an older event after a newer one, change nothing."""
    from kotalive.context import use_tenant
    from kotalive.modules.liveroom.services import BoardService, Operator

    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR)
    pupr_id = await agency_id(database, city, "pupr")
    base = {"complaint_id": 777, "summary": "Jalan berlubang", "priority": "normal", "emergency": False}
    with use_tenant(city):
        async with database.tenant_session(city) as s:
            board = BoardService(s)
            item = await board.apply_complaint(
                "laksa.complaint_submitted", {**base, "state": "submitted"}, 10
            )
            assert item is not None and item.state == "new"
            await board.forward(Operator(ani.id, "Ani"), item.id, [pupr_id])
            await board.apply_complaint("laksa.complaint_awaiting_triage", {**base, "state": "triage"}, 11)
            assert item.state == "forwarded"
            ack = {**base, "state": "acknowledged", "to_state": "acknowledged", "from_state": "forwarded"}
            await board.apply_complaint("laksa.complaint_status_changed", ack, 20)
            assert item.state == "acknowledged" and item.acknowledged_at is not None
            late = {**base, "state": "forwarded", "to_state": "forwarded", "from_state": "triage"}
            assert await board.apply_complaint("laksa.complaint_status_changed", late, 15) is None
            assert item.state == "acknowledged"
            back = {**base, "state": "triage", "to_state": "triage", "from_state": "acknowledged"}
            await board.apply_complaint("laksa.complaint_status_changed", back, 30)
            assert item.state == "new" and item.forwarded_to == [] and item.forwarded_at is None
            await s.rollback()


async def test_the_board_says_who_is_on_duty(app: Any, client_for: Any, database: Any, city: Any) -> None:
    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR, name="Ani <i>Operator</i>")
    before = await ani.client.get("/liveroom", headers={"accept": "text/html"})
    assert before.status_code == 200 and "Belum ada operator yang check-in" in before.text
    assert (await ani.post("/api/v1/liveroom/duty/check-in")).status_code == 201
    after = await ani.client.get("/liveroom", headers={"accept": "text/html"})
    assert "Ani &lt;i&gt;Operator&lt;/i&gt; (BPBD)" in after.text


async def test_two_consumers_making_one_complaints_item_at_once_both_succeed(
    database: Any, city: Any
) -> None:
    from kotalive.context import use_tenant
    from kotalive.modules.liveroom.services import BoardService

    base = {"complaint_id": 4242, "summary": "Lampu mati", "priority": "normal", "emergency": False}

    async def consume(event_type: str, state: str, seq: int) -> None:
        with use_tenant(city):
            async with database.tenant_session(city) as s, s.begin():
                await BoardService(s).apply_complaint(event_type, {**base, "state": state}, seq)

    await asyncio.gather(
        consume("laksa.complaint_submitted", "submitted", 1),
        consume("laksa.complaint_awaiting_triage", "triage", 2),
    )
    async with database.tenant_session(city) as s:
        rows = (
            await s.execute_sql("SELECT state, source_seq FROM {city}.liveroom_item WHERE source_id = 4242")
        ).all()
    assert [tuple(r) for r in rows] == [("new", 2)]


async def test_an_incidents_units_show_on_its_item_as_its_last_event_lists_them(
    database: Any, city: Any, app: Any, client_for: Any
) -> None:
    from kotalive.context import use_tenant
    from kotalive.modules.liveroom.services import BoardService

    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR)
    base = {"incident_id": 9001, "priority": "P1", "title": "112 Kebakaran", "lat": -6.17, "lon": 106.64}
    sent = [{"id": 3, "call_sign": "DMK-1", "type": "fire_engine", "status": "dispatched"}]
    there = [
        {**sent[0], "status": "on_scene"},
        {"id": 4, "call_sign": "AMB-2", "type": "ambulance", "status": "en_route"},
    ]
    with use_tenant(city):
        async with database.tenant_session(city) as s, s.begin():
            board = BoardService(s)
            await board.apply_incident(
                "hotline112.incident_opened", {**base, "state": "open", "units": []}, 50
            )
            await board.apply_incident(
                "hotline112.incident_updated", {**base, "state": "on_scene", "units": there}, 52
            )
            # An older event arriving late changes nothing.
            late = await board.apply_incident(
                "hotline112.incident_updated", {**base, "state": "dispatched", "units": sent}, 51
            )
            assert late is None
    found = await ani.get("/api/v1/liveroom/items", params={"kind": "incident", "source_id": 9001})
    item = found.json()["item"]
    assert item["source_state"] == "on_scene" and item["emergency"] is True
    assert item["units"] == [
        {"call_sign": "DMK-1", "type": "fire_engine", "status": "on_scene"},
        {"call_sign": "AMB-2", "type": "ambulance", "status": "en_route"},
    ]
    page = await ani.client.get(f"/liveroom/item/{item['id']}", headers={"accept": "text/html"})
    assert "DMK-1 · di lokasi" in page.text and "AMB-2 · menuju lokasi" in page.text
    assert "/112/insiden/9001" in page.text
