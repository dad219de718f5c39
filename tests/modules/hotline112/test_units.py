"""Units over the app's HTTP interface: creation with field errors, the status machine (409 naming
the allowed statuses), positions (422 out of range, old reports kept out), another city's unit
(404) and the unit's terminal token (401 without or with a wrong one; a token moves its unit only)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from h112_dispatch_support import CENTRE, dispatcher, make_unit
from laksa_support import agency_id, employee
from sqlalchemy import select

from kotalive.modules.hotline112.models import Unit

API = "/api/v1/hotline112"


@pytest.fixture
async def city(make_city: Any) -> Any:
    return await make_city("h112u", region_code="3671", name="Kota Uji Unit")


async def test_create_and_update_refuse_bad_fields_with_their_names(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    bad = await dewi.post(
        f"{API}/units",
        json={"type": "submarine", "agency_id": 999999, "lat": 91, "lon": 106.6, "crew": [{"role": "sopir"}]},
    )
    assert bad.status_code == 422, bad.text
    fields = {e["field"]: e["code"] for e in bad.json()["errors"]}
    assert fields == {
        "call_sign": "required",
        "type": "unknown_type",
        "agency_id": "unknown_agency",
        "lat": "out_of_range",
        "crew[0].name": "required",
    }
    unit = await make_unit(
        dewi,
        database,
        city,
        "AMB-01",
        "ambulance",
        "dinkes",
        CENTRE,
        crew=[{"name": "Budi", "role": "paramedis"}],
    )
    assert (unit["status"], unit["crew"], unit["has_terminal"]) == (
        "available",
        [{"name": "Budi", "role": "paramedis", "phone": ""}],
        False,
    )
    again = await dewi.post(
        f"{API}/units",
        json={"call_sign": "amb-01", "type": "ambulance", "agency_id": unit["agency_id"]},
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "call_sign"
    changed = await dewi.client.patch(
        f"{API}/units/{unit['id']}",
        json={"name": "Ambulans Cipondoh", "lat": -6.2, "lon": 181},
        headers=dewi.headers(),
    )
    assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == "lon"
    status_patch = await dewi.client.patch(
        f"{API}/units/{unit['id']}", json={"status": "on_scene"}, headers=dewi.headers()
    )
    assert status_patch.status_code == 422 and status_patch.json()["errors"][0]["field"] == "status"
    renamed = await dewi.client.patch(
        f"{API}/units/{unit['id']}", json={"name": "Ambulans Cipondoh"}, headers=dewi.headers()
    )
    assert renamed.status_code == 200 and renamed.json()["unit"]["name"] == "Ambulans Cipondoh"
    # A call-taker sees the units but may not create them.
    ani = await employee(app, client_for, database, city, None, roles=("calltaker",), name="Ani")
    assert (await ani.get(f"{API}/units")).json()["units"][0]["call_sign"] == "AMB-01"
    denied = await ani.post(f"{API}/units", json={"call_sign": "X", "type": "police", "agency_id": 1})
    assert denied.status_code == 403


async def test_status_machine_refuses_invalid_transitions_naming_the_allowed(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    unit = await make_unit(dewi, database, city, "POL-01", "police", "polres", CENTRE)
    path = f"{API}/units/{unit['id']}/status"
    jump = await dewi.post(path, json={"status": "on_scene"})
    assert jump.status_code == 409, jump.text
    body = jump.json()
    assert body["error"] == "invalid_transition"
    assert body["context"]["allowed"] == "dispatched, out_of_service"
    assert "dispatched, out_of_service" in body["detail"]
    assert (await dewi.post(path, json={"status": "flying"})).status_code == 422
    # Dispatched only through an assignment to an incident.
    assert (await dewi.post(path, json={"status": "dispatched"})).json()[
        "error"
    ] == "dispatch_through_assignment"
    off = await dewi.post(path, json={"status": "out_of_service"})
    assert off.status_code == 200 and off.json()["unit"]["allowed"] == ["available"]
    stuck = await dewi.post(path, json={"status": "back_in_service"})
    assert stuck.status_code == 409 and stuck.json()["context"]["allowed"] == "available"
    assert (await dewi.post(path, json={"status": "available"})).json()["unit"]["status"] == "available"


async def test_positions_are_checked_and_old_reports_kept_out(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    unit = await make_unit(dewi, database, city, "DMK-01", "fire_engine", "damkar")
    path = f"{API}/units/{unit['id']}/position"
    for body, field in (
        ({"lat": -91, "lon": 106.6}, "lat"),
        ({"lat": -6.2, "lon": 180.5}, "lon"),
        ({"lat": "abc", "lon": 106.6}, "lat"),
        ({"lon": 106.6}, "lat"),
        ({"lat": -6.2, "lon": 106.6, "at": "2026-12-01 10:00"}, "at"),
    ):
        r = await dewi.post(path, json=body)
        assert r.status_code == 422, (body, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], body
    now = dt.datetime.now(dt.UTC)
    first = await dewi.post(path, json={"lat": -6.2, "lon": 106.6, "at": now.isoformat()})
    assert first.json()["applied"] is True
    older = await dewi.post(
        path, json={"lat": -6.3, "lon": 106.7, "at": (now - dt.timedelta(minutes=1)).isoformat()}
    )
    assert older.status_code == 200 and older.json()["applied"] is False
    assert (older.json()["unit"]["lat"], older.json()["unit"]["lon"]) == (-6.2, 106.6)


async def test_another_citys_unit_is_not_found(
    app: Any, client_for: Any, database: Any, city: Any, make_city: Any
) -> None:
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    unit = await make_unit(dewi, database, city, "AMB-09", "ambulance", "dinkes", CENTRE)
    other = await make_city("h112v", region_code="3275", name="Kota Uji Lain")
    eko = await dispatcher(app, client_for, database, other, "Eko")
    for method, path, body in (
        ("GET", f"{API}/units/{unit['id']}", None),
        ("PATCH", f"{API}/units/{unit['id']}", {"name": "x"}),
        ("POST", f"{API}/units/{unit['id']}/status", {"status": "out_of_service"}),
        ("POST", f"{API}/units/{unit['id']}/position", {"lat": -6.2, "lon": 106.6}),
        ("POST", f"{API}/units/{unit['id']}/terminal-token", None),
        ("POST", f"{API}/units/{unit['id']}/deactivate", None),
    ):
        r = await eko.client.request(method, path, json=body, headers=eko.headers())
        assert r.status_code == 404, (method, path, r.text)
    assert (await eko.get(f"{API}/units")).json()["units"] == []
    assert (await dewi.get(f"{API}/units/{unit['id']}")).json()["unit"]["status"] == "available"


async def test_terminal_token_moves_its_own_unit_only(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    mine = await make_unit(dewi, database, city, "AMB-11", "ambulance", "dinkes", CENTRE)
    theirs = await make_unit(dewi, database, city, "AMB-12", "ambulance", "dinkes", CENTRE)
    issued = await dewi.post(f"{API}/units/{mine['id']}/terminal-token")
    assert issued.status_code == 201
    token = issued.json()["token"]
    async with database.tenant_session(city) as session:
        stored = await session.scalar(select(Unit.terminal_token_hash).where(Unit.id == mine["id"]))
    assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in (stored or "")

    async with client_for(city.primary_host) as terminal:
        missing = await terminal.post(f"{API}/terminal/position", json={"lat": -6.2, "lon": 106.6})
        assert missing.status_code == 401 and missing.json()["error"] == "terminal_token_missing"
        wrong = await terminal.post(
            f"{API}/terminal/position",
            json={"lat": -6.2, "lon": 106.6},
            headers={"authorization": "Bearer not-the-token"},
        )
        assert wrong.status_code == 401 and wrong.json()["error"] == "terminal_token_invalid"
        auth = {"authorization": f"Bearer {token}"}
        moved = await terminal.post(
            f"{API}/terminal/position", json={"lat": -6.19, "lon": 106.62}, headers=auth
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["unit"]["id"] == mine["id"]
        out_of_range = await terminal.post(
            f"{API}/terminal/position", json={"lat": 95, "lon": 1}, headers=auth
        )
        assert out_of_range.status_code == 422 and out_of_range.json()["errors"][0]["field"] == "lat"
        bad_status = await terminal.post(f"{API}/terminal/status", json={"status": "on_scene"}, headers=auth)
        assert bad_status.status_code == 409
        shown = await terminal.get(f"{API}/terminal", headers=auth)
        assert shown.json()["unit"]["call_sign"] == "AMB-11" and shown.json()["assignment"] is None
        # The terminal token opens nothing else: the dispatcher's API wants a person.
        other = await terminal.post(
            f"{API}/units/{theirs['id']}/position", json={"lat": -6.0, "lon": 106.0}, headers=auth
        )
        assert other.status_code == 401
    units = {u["call_sign"]: u for u in (await dewi.get(f"{API}/units")).json()["units"]}
    assert (units["AMB-11"]["lat"], units["AMB-12"]["lat"]) == (-6.19, CENTRE[0])
    # A new token replaces the old one.
    await dewi.post(f"{API}/units/{mine['id']}/terminal-token")
    async with client_for(city.primary_host) as terminal:
        old = await terminal.get(f"{API}/terminal", headers={"authorization": f"Bearer {token}"})
        assert old.status_code == 401
    assert await agency_id(database, city, "dinkes") == mine["agency_id"]


async def test_deactivate_refuses_a_busy_unit_and_filters_list(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    from h112_dispatch_support import add_incident

    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    busy = await make_unit(dewi, database, city, "AMB-21", "ambulance", "dinkes", CENTRE)
    idle = await make_unit(dewi, database, city, "POL-21", "police", "polres", CENTRE)
    incident = await add_incident(database, city, type_code="medical")
    sent = await dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [busy["id"]]})
    assert sent.status_code == 201
    shown = (await dewi.get(f"{API}/units/{busy['id']}")).json()
    assert shown["assignment"]["incident_id"] == incident and shown["unit"]["status"] == "dispatched"
    refused = await dewi.post(f"{API}/units/{busy['id']}/deactivate")
    assert refused.status_code == 409 and refused.json()["error"] == "unit_busy"
    token = (await dewi.post(f"{API}/units/{idle['id']}/terminal-token")).json()["token"]
    gone = await dewi.post(f"{API}/units/{idle['id']}/deactivate")
    assert gone.status_code == 200 and gone.json()["unit"]["active"] is False
    listed = (await dewi.get(f"{API}/units")).json()["units"]
    assert [u["call_sign"] for u in listed] == ["AMB-21"]
    assert [
        u["call_sign"]
        for u in (await dewi.get(f"{API}/units", params={"status": "dispatched"})).json()["units"]
    ] == ["AMB-21"]
    assert (await dewi.get(f"{API}/units", params={"type": "police"})).json()["units"] == []
    assert (await dewi.get(f"{API}/units", params={"status": "asleep"})).status_code == 422
    again = await dewi.post(f"{API}/incidents/{incident}/assignments", json={"unit_ids": [idle["id"]]})
    assert again.status_code == 409 and again.json()["error"] == "unit_inactive"
    async with client_for(city.primary_host) as terminal:
        r = await terminal.get(f"{API}/terminal", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 401
