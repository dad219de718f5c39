"""A 112 call that was not an emergency becomes a Laksa complaint (the ``hotline112.call_referred``
event; the modules never import each other).

The call-taker wrote the summary and the caller's location is what 112 knew (AML or the map); the
complaint is submitted as that call-taker (source ``staff``), with the caller's number as its
contact, and routed by Laksa's own rules like any other. A location Laksa cannot use (outside the
city's boundaries, or none) does not lose the referral: the complaint is kept with the address, or
the coordinates written out, for the triage queue to place.
"""

from __future__ import annotations

import logging
from typing import Any

from kotalive.db import TenantSession
from kotalive.modules.laksa.domain import InputErrors, LaksaConfig
from kotalive.modules.laksa.services import Actor, ComplaintService, NewComplaint

log = logging.getLogger(__name__)

PREFIX = "[112] "


def _calltaker(payload: dict[str, Any]) -> Actor:
    who = payload.get("calltaker_id")
    return Actor(
        kind="employee",
        id=int(who) if isinstance(who, int) else None,
        name=str(payload.get("calltaker_name") or "112"),
        roles=frozenset({"calltaker"}),
        whole_city=True,
    )


def _description(payload: dict[str, Any], config: LaksaConfig) -> str:
    text = PREFIX + str(payload.get("summary") or "").strip()
    if len(text) < config.description_min:
        text = text + " (panggilan 112)"
    return text[: config.description_max]


async def on_call_referred(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    service = ComplaintService(session, commit=False)
    actor = _calltaker(payload)
    number = payload.get("caller_number")
    lat, lon = payload.get("lat"), payload.get("lon")
    address = payload.get("address") or None
    new = NewComplaint(
        description=_description(payload, service.config),
        lat=lat,
        lon=lon,
        address=address,
        anonymous=True,  # the caller gave no name; their number is for the city to call back
        contact={"phone": number} if number else {},
        idempotency_key=f"hotline112-call-{payload.get('call_id')}",
        source="staff",
    )
    try:
        done = await service.submit(actor, new)
    except InputErrors as exc:
        if not any(p.field == "location" for p in exc.problems):
            raise
        place = address
        if place is None and lat is not None and lon is not None:
            place = f"Lokasi penelepon 112: {float(lat):.6f}, {float(lon):.6f}"
        new = NewComplaint(
            description=new.description,
            address=place or "Lokasi belum diketahui (panggilan 112)",
            anonymous=True,
            contact=new.contact,
            idempotency_key=new.idempotency_key,
            source="staff",
        )
        done = await service.submit(actor, new)
    log.info("112 call %s referred to Laksa as complaint %s", payload.get("call_id"), done.complaint.id)
