"""What the 112 dispatch tests share: a dispatcher signed in, incidents and units of a city, and
points at known distances from an incident (real rows through the real services and API)."""

from __future__ import annotations

import math
from typing import Any

from laksa_support import Person, agency_id, employee
from sqlalchemy import select

from kotalive.context import TenantContext
from kotalive.db import Database
from kotalive.geo import EARTH_RADIUS_M
from kotalive.modules.hotline112.models import Incident

# Kota Tangerang's centre: incidents happen here in the tests.
CENTRE = (-6.1783, 106.6319)


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    """The point ``metres`` due north (a meridian: the haversine distance is exactly this)."""
    return point[0] + math.degrees(metres / EARTH_RADIUS_M), point[1]


async def dispatcher(app: Any, client_for: Any, database: Database, city: TenantContext, name: str) -> Person:
    return await employee(app, client_for, database, city, None, roles=("dispatcher",), name=name)


async def add_incident(database: Database, city: TenantContext, **fields: Any) -> int:
    values: dict[str, Any] = {
        "type_code": "fire",
        "priority": "P1",
        "state": "open",
        "summary": "Rumah terbakar",
        "lat": CENTRE[0],
        "lon": CENTRE[1],
        **fields,
    }
    async with database.tenant_session(city) as session:
        row = Incident(**values)
        session.add(row)
        await session.commit()
        return int(row.id)


async def incident_row(database: Database, city: TenantContext, incident_id: int) -> Incident:
    async with database.tenant_session(city) as session:
        row = await session.scalar(select(Incident).where(Incident.id == incident_id))
        assert row is not None
        return row


async def make_unit(
    person: Person,
    database: Database,
    city: TenantContext,
    call_sign: str,
    type_code: str,
    agency_code: str,
    at: tuple[float, float] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "call_sign": call_sign,
        "type": type_code,
        "agency_id": await agency_id(database, city, agency_code),
        **extra,
    }
    if at is not None:
        body["lat"], body["lon"] = at
    r = await person.post("/api/v1/hotline112/units", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json()["unit"])
