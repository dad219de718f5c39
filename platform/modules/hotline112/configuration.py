"""A new city's 112 defaults: the incident types with their question protocols (answered by the
catalogue agency of their kind when the city has it) and the unit types with their average speeds.
Idempotent: what the city already keeps, renamed or edited, is left as it is."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from kotalive.db import TenantSession
from kotalive.modules.hotline112.domain import DEFAULT_SPEED_KMH, INCIDENT_TYPES
from kotalive.modules.hotline112.models import IncidentType, UnitType
from kotalive.tenants.city_models import Agency

UNIT_TYPE_NAMES = {
    "ambulance": ("Ambulans", "Ambulance"),
    "fire_engine": ("Mobil pemadam", "Fire engine"),
    "police": ("Patroli polisi", "Police patrol"),
    "hearse": ("Mobil jenazah", "Hearse"),
    "dishub": ("Patroli Dishub", "Transport patrol"),
}


async def seed_city_defaults(session: TenantSession) -> None:
    agencies = dict((await session.execute(select(Agency.code, Agency.id))).tuples().all())
    await session.execute(
        insert(UnitType)
        .values(
            [
                {
                    "code": code,
                    "name_id": names[0],
                    "name_en": names[1],
                    "avg_speed_kmh": DEFAULT_SPEED_KMH[code],
                }
                for code, names in UNIT_TYPE_NAMES.items()
            ]
        )
        .on_conflict_do_nothing(index_elements=["code"])
    )
    await session.execute(
        insert(IncidentType)
        .values(
            [
                {
                    "code": t.code,
                    "name_id": t.name_id,
                    "name_en": t.name_en,
                    "priority": t.priority,
                    "unit_types": list(t.unit_types),
                    "agency_id": agencies.get(t.agency_code),
                    "protocol": [q.as_dict() for q in t.protocol],
                    "active": True,
                    "position": i,
                }
                for i, t in enumerate(INCIDENT_TYPES)
            ]
        )
        .on_conflict_do_nothing(index_elements=["code"])
    )
