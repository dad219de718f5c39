"""The shift handover: written by an operator on duty with a snapshot of the board's open items
and the shift's counts, acknowledged once by the next shift, exported safely, and invisible from
another city."""

from __future__ import annotations

import csv
import datetime as dt
import io

from laksa_support import employee

from kotalive.modules.liveroom import handover, shifts

FORMULA_NOTE = "=cmd|' /C calc'!A0\nLampu mati di <script>alert(1)</script> Jl. Sudirman"


async def _previous_shift_handover(database, city, writer_id: int, notes: str) -> int:
    """A handover the shift before the running one wrote (its operator checked in back then)."""
    async with database.tenant_session(city) as session:
        running = await shifts.shift_at(session)
        assert running is not None
        earlier = running.begins - dt.timedelta(minutes=30)
        await shifts.check_in(session, writer_id, earlier)
        view, created = await handover.write(session, writer_id, {"notes": notes}, earlier)
        await shifts.check_out(session, writer_id, running.begins)
        await session.commit()
    assert created
    return view.id


async def test_write_snapshots_the_open_items(app, client_for, database, shift_city, add_board_items) -> None:
    rina = await employee(
        app, client_for, database, shift_city, "bpbd", roles=("liveroom_operator",), name="Rina"
    )
    budi = await employee(app, client_for, database, shift_city, "dishub", roles=("liveroom_operator",))
    now = dt.datetime.now(dt.UTC)
    long_ago = now - dt.timedelta(days=3)
    open_old, emergency, forwarded, closed, incident = await add_board_items(
        shift_city,
        {"state": "new", "appeared_at": long_ago, "title": "Jalan rusak Ciledug"},
        {
            "state": "claimed",
            "priority": "emergency",
            "emergency": True,
            "claimed_by": rina.id,
            "title": "Banjir",
        },
        {"state": "forwarded", "forwarded_at": now, "forwarded_by": rina.id},
        {"state": "closed", "closed_at": now},
        {"state": "new", "kind": "incident", "priority": "high", "title": "Kecelakaan"},
    )

    refused = await rina.post("/api/v1/liveroom/handovers", json={"notes": "x"})
    assert refused.status_code == 409 and refused.json()["error"] == "not_on_duty"
    assert (await rina.post("/api/v1/liveroom/duty/check-in")).status_code == 201

    too_long = await rina.post("/api/v1/liveroom/handovers", json={"notes": "x" * 10_001})
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "notes"
    assert too_long.json()["errors"][0]["code"] == "notes.too_long"

    written = await rina.post("/api/v1/liveroom/handovers", json={"notes": "Banjir di Cipondoh belum surut."})
    assert written.status_code == 201, written.text
    body = written.json()
    assert body["written_by"] == {"id": rina.id, "name": "Rina"}
    assert body["acknowledged"] is False
    ids = [i["id"] for i in body["open_items"]]
    assert set(ids) == {open_old, emergency, forwarded, incident} and closed not in ids
    assert ids[0] == emergency  # emergencies first
    first = body["open_items"][0]
    assert first == {
        "id": emergency,
        "kind": "complaint",
        "source_id": first["source_id"],
        "title": "Banjir",
        "state": "claimed",
        "priority": "emergency",
        "emergency": True,
        "claimed_by": rina.id,
    }
    summary = body["summary"]
    assert {
        k: summary[k] for k in ("appeared", "forwarded", "closed", "incidents", "open", "open_emergencies")
    } == {
        "appeared": 4,
        "forwarded": 1,
        "closed": 1,
        "incidents": 1,
        "open": 4,
        "open_emergencies": 1,
    }

    # Written again before the next shift takes it: the same handover, a fresh snapshot.
    await add_board_items(shift_city, {"state": "new", "title": "Pohon tumbang"})
    again = await rina.post("/api/v1/liveroom/handovers", json={"notes": "Ditambah: pohon tumbang."})
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["summary"]["open"] == 5 and again.json()["notes"] == "Ditambah: pohon tumbang."

    # Someone of the same shift cannot take over their own shift's handover.
    assert (await budi.post("/api/v1/liveroom/duty/check-in")).status_code == 201
    same_shift = await budi.post(f"/api/v1/liveroom/handovers/{body['id']}/acknowledge", json={})
    assert same_shift.status_code == 409 and same_shift.json()["error"] == "not_next_shift"

    current = (await budi.get("/api/v1/liveroom/handovers/current")).json()
    assert current["this_shift"]["id"] == body["id"]
    shown = await budi.get(f"/api/v1/liveroom/handovers/{body['id']}")
    assert shown.status_code == 200 and shown.json()["notes"] == "Ditambah: pohon tumbang."
    await rina.aclose()
    await budi.aclose()


async def test_the_next_shift_acknowledges_once(app, client_for, database, shift_city) -> None:
    rina = await employee(
        app, client_for, database, shift_city, "bpbd", roles=("liveroom_operator",), name="Rina"
    )
    budi = await employee(
        app, client_for, database, shift_city, "dishub", roles=("liveroom_operator",), name="Budi"
    )
    sari = await employee(
        app, client_for, database, shift_city, "pupr", roles=("liveroom_operator",), name="Sari"
    )
    handover_id = await _previous_shift_handover(database, shift_city, rina.id, "Pantau pintu air 10.")

    not_on_duty = await budi.post(f"/api/v1/liveroom/handovers/{handover_id}/acknowledge", json={})
    assert not_on_duty.status_code == 409 and not_on_duty.json()["error"] == "not_on_duty"
    assert (await budi.post("/api/v1/liveroom/duty/check-in")).status_code == 201
    current = (await budi.get("/api/v1/liveroom/handovers/current")).json()
    assert current["previous"]["id"] == handover_id and current["this_shift"] is None

    taken = await budi.post(
        f"/api/v1/liveroom/handovers/{handover_id}/acknowledge", json={"note": "Diterima, dipantau."}
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["acknowledged_by"] == {"id": budi.id, "name": "Budi"}
    assert taken.json()["acknowledgement_note"] == "Diterima, dipantau."
    acknowledged_at = taken.json()["acknowledged_at"]

    assert (await sari.post("/api/v1/liveroom/duty/check-in")).status_code == 201
    second = await sari.post(f"/api/v1/liveroom/handovers/{handover_id}/acknowledge", json={})
    assert second.status_code == 409
    refusal = second.json()
    assert refusal["error"] == "already_acknowledged"
    assert refusal["acknowledged_by"] == budi.id and refusal["acknowledged_by_name"] == "Budi"
    assert dt.datetime.fromisoformat(refusal["acknowledged_at"]) == dt.datetime.fromisoformat(acknowledged_at)
    assert "Budi" in refusal["detail"]
    again = await budi.post(f"/api/v1/liveroom/handovers/{handover_id}/acknowledge", json={})
    assert again.status_code == 409

    # Once acknowledged, the shift that wrote it cannot rewrite it.
    async with database.tenant_session(shift_city) as session:
        running = await shifts.shift_at(session)
        assert running is not None
        earlier = running.begins - dt.timedelta(minutes=20)
        await shifts.check_in(session, rina.id, earlier)
        try:
            await handover.write(session, rina.id, {"notes": "ubah"}, earlier)
        except shifts.ShiftRefusal as exc:
            assert (exc.status, exc.code) == (409, "already_acknowledged")
        else:
            raise AssertionError("an acknowledged handover was rewritten")
        await session.rollback()

    listed = (await sari.get("/api/v1/liveroom/handovers")).json()["items"]
    assert [(h["id"], h["acknowledged"]) for h in listed] == [(handover_id, True)]
    missing = await sari.get("/api/v1/liveroom/handovers/987654")
    assert missing.status_code == 404 and missing.json()["error"] == "handover"
    for person in (rina, budi, sari):
        await person.aclose()


async def test_acknowledge_from_the_page(app, client_for, database, shift_city) -> None:
    rina = await employee(
        app, client_for, database, shift_city, "bpbd", roles=("liveroom_operator",), name="Rina"
    )
    budi = await employee(
        app, client_for, database, shift_city, "dishub", roles=("liveroom_operator",), name="Budi"
    )
    handover_id = await _previous_shift_handover(database, shift_city, rina.id, FORMULA_NOTE)
    html = {"accept": "text/html"}
    assert (await budi.post("/api/v1/liveroom/duty/check-in")).status_code == 201
    page = await budi.client.get("/liveroom/shift", headers=html)
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert(1)" not in page.text
    assert 'action="/liveroom/shift/serah-terima/terima"' in page.text
    sent = await budi.client.post(
        "/liveroom/shift/serah-terima/terima",
        data={"_csrf_token": budi.csrf, "handover_id": str(handover_id), "note": "Oke"},
        headers=html,
    )
    assert sent.status_code == 303, sent.text
    page = await budi.client.get("/liveroom/shift", headers=html)
    assert "Diterima oleh Budi" in page.text
    assert 'action="/liveroom/shift/serah-terima/terima"' not in page.text
    written = await budi.client.post(
        "/liveroom/shift/serah-terima",
        data={"_csrf_token": budi.csrf, "notes": "Shift ini aman."},
        headers=html,
    )
    assert written.status_code == 303
    page = await budi.client.get("/liveroom/shift", headers=html)
    assert "Shift ini aman." in page.text and "Serah terima shift ini" in page.text
    await rina.aclose()
    await budi.aclose()


async def test_exports_are_safe_for_spreadsheets(app, client_for, database, shift_city) -> None:
    rina = await employee(
        app, client_for, database, shift_city, "bpbd", roles=("liveroom_operator",), name="@Rina"
    )
    handover_id = await _previous_shift_handover(database, shift_city, rina.id, FORMULA_NOTE)

    exported = await rina.get("/api/v1/liveroom/handovers/export.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == str(handover_id)
    assert row["notes"] == "'" + FORMULA_NOTE  # a quote first: never run as a formula
    assert row["written_by"] == "'@Rina"
    assert row["open"] == "0"
    for cell in row.values():
        assert cell[:1] not in ("=", "+", "-", "@"), cell

    as_json = await rina.get("/api/v1/liveroom/handovers/export.json")
    assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/json")
    assert as_json.json()["items"][0]["notes"] == FORMULA_NOTE

    empty = await rina.get("/api/v1/liveroom/handovers/export.csv?since=2020-01-01&until=2020-01-31")
    assert empty.status_code == 200 and len(empty.text.strip().splitlines()) == 1
    bad = await rina.get("/api/v1/liveroom/handovers/export.csv?since=2020-02-01&until=2020-01-01")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "until"
    await rina.aclose()


async def test_another_citys_handover_is_not_there(app, client_for, database, make_city, shift_city) -> None:
    rina = await employee(app, client_for, database, shift_city, "bpbd", roles=("liveroom_operator",))
    handover_id = await _previous_shift_handover(database, shift_city, rina.id, "Rahasia kota A")
    other = await make_city("liveroom-b", region_code="3275", name="Kota Uji Lain")
    stranger = await employee(app, client_for, database, other, "bpbd", roles=("liveroom_supervisor",))
    assert (await stranger.post("/api/v1/liveroom/duty/check-in")).status_code == 201
    seen = await stranger.get(f"/api/v1/liveroom/handovers/{handover_id}")
    assert seen.status_code == 404 and "Rahasia" not in seen.text
    taken = await stranger.post(f"/api/v1/liveroom/handovers/{handover_id}/acknowledge", json={})
    assert taken.status_code == 404
    assert (await stranger.get("/api/v1/liveroom/handovers")).json()["items"] == []
    assert "Rahasia" not in (await stranger.get("/api/v1/liveroom/handovers/export.csv")).text
    await rina.aclose()
    await stranger.aclose()
