"""The dispatcher's pages (Bahasa Indonesia by default, ``?lang=en``), server-rendered.

``/112/dispatch``: open incidents by priority, the units (list and map with status colours) and,
for the incident chosen (``?insiden=<id>``), the dispatch panel: recommendations with distance and
ETA and an assign button, the units sent with their status buttons. The server renders the lists so
the page reads without scripts; ``/static/hotline112/dispatch.js`` keeps them current from the
dispatch stream and drives the panel through the JSON API.

``templates/hotline112/_dispatch_panel.html`` is that panel alone: the incident page
(``/112/insiden/{id}``) includes it with ``incident`` and ``lang``; it loads its own data.

``/112/ukuran``: the NFPA 1225 measures over a range of days, with the CSV export.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get
from sqlalchemy import select

from kotalive.auth.guards import requires
from kotalive.context import current_tenant
from kotalive.db import tenant_session
from kotalive.i18n import translate
from kotalive.modules.hotline112 import measures
from kotalive.modules.hotline112.dispatch_routes import MEASURES_VIEW, VIEW, error_text, open_incidents
from kotalive.modules.hotline112.domain import INCIDENT_STATES, UNIT_STATUSES
from kotalive.modules.hotline112.models import Incident, IncidentType
from kotalive.modules.hotline112.units import DispatchError, UnitService, UnitTypeService
from kotalive.tenants.city_models import Agency
from kotalive.web import city_only, page, request_language

STAFF_LOGIN = {"login": "/staff/login"}
DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
# The map's colour per status (the list shows the same colour beside the status word).
STATUS_COLOURS = {
    "available": "#1a7f37",
    "back_in_service": "#4c9a2a",
    "dispatched": "#d4a106",
    "en_route": "#e36209",
    "on_scene": "#cf222e",
    "transporting": "#8250df",
    "at_hospital": "#6639ba",
    "out_of_service": "#6e7781",
}


def tile_url() -> str:
    config = current_tenant().module_config or {}
    for name in ("hotline112", "liveroom", "laksa"):
        url = (config.get(name) or {}).get("tile_url")
        if isinstance(url, str) and url:
            return url
    return DEFAULT_TILES


def status_texts(lang: str) -> dict[str, str]:
    return {s: translate(f"h112.unit.status.{s}", lang) for s in UNIT_STATUSES}


def script_texts(lang: str) -> dict[str, str]:
    keys = (
        "panel.loading",
        "panel.failed",
        "panel.no_location",
        "panel.closed",
        "rec.none",
        "rec.assign",
        "rec.assign_selected",
        "rec.assigned",
        "rec.distance",
        "rec.eta",
        "assigned.none",
        "assigned.cancelled",
        "assigned.cleared",
        "live.connecting",
        "live.on",
        "live.off",
        "map.tiles_failed",
        "units.none",
        "incidents.none",
        "km",
        "min",
    )
    out = {k: translate(f"h112.dispatch.{k}", lang) for k in keys}
    out.update({f"status.{s}": v for s, v in status_texts(lang).items()})
    out.update({f"to.{s}": translate(f"h112.unit.to.{s}", lang) for s in UNIT_STATUSES})
    out.update({f"state.{s}": translate(f"h112.dispatch.state.{s}", lang) for s in INCIDENT_STATES})
    return out


def panel_config(lang: str) -> str:
    """What the panel's script needs: its texts and the status colours (JSON in a data attribute)."""
    return json.dumps({"texts": script_texts(lang), "colours": STATUS_COLOURS}, ensure_ascii=False)


@get(
    "/112/dispatch",
    guards=[requires(VIEW)],
    summary="The dispatcher's screen",
    include_in_schema=False,
    opt=STAFF_LOGIN,
)
async def dispatch_page(request: Request) -> Response[str]:
    lang = request_language(request)
    chosen_raw = request.query_params.get("insiden") or ""
    async with tenant_session() as session:
        incidents = await open_incidents(session)
        units = await UnitService(session).search()
        types = {t.code: t for t in await UnitTypeService(session).all()}
        incident_types = {t.code: t for t in (await session.scalars(select(IncidentType))).all()}
        agencies = dict((await session.execute(select(Agency.id, Agency.abbreviation))).all())
        chosen = None
        alert = None
        if chosen_raw:
            if chosen_raw.isdigit():
                chosen = await session.get(Incident, int(chosen_raw))
            if chosen is None:
                alert = error_text("not_found", lang, {"id": chosen_raw[:20]})
        if chosen is None and incidents and not chosen_raw:
            chosen = incidents[0]
    markers = [
        {
            "id": u.id,
            "call_sign": u.call_sign,
            "type": u.type_code,
            "status": u.status,
            "lat": u.lat,
            "lon": u.lon,
        }
        for u in units
        if u.lat is not None and u.lon is not None
    ]
    incident_markers = [
        {"incident_id": i.id, "priority": i.priority, "state": i.state, "lat": i.lat, "lon": i.lon}
        for i in incidents
        if i.lat is not None and i.lon is not None
    ]
    return page(
        request,
        "hotline112/dispatch.html",
        status=404 if alert else 200,
        alert=alert,
        incidents=incidents,
        incident=chosen,
        units=units,
        unit_types=types,
        incident_types=incident_types,
        agencies=agencies,
        statuses=status_texts(lang),
        colours=STATUS_COLOURS,
        markers=json.dumps(markers),
        incident_markers=json.dumps(incident_markers),
        tiles=tile_url(),
        config=panel_config(lang),
    )


def duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return translate("h112.measures.seconds", lang, n=f"{seconds:g}")
    return translate("h112.measures.minutes", lang, n=f"{seconds / 60:.1f}")


def share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


@get(
    "/112/ukuran",
    guards=[requires(MEASURES_VIEW)],
    summary="The 112 measures dashboard (NFPA 1225)",
    include_in_schema=False,
    opt=STAFF_LOGIN,
)
async def measures_page(request: Request) -> Response[str]:
    lang = request_language(request)
    q = request.query_params
    values = {"since": (q.get("since") or "")[:10], "until": (q.get("until") or "")[:10]}
    status, alert, errors = 200, None, {}
    async with tenant_session() as session:
        try:
            found = await measures.measure(session, values["since"] or None, values["until"] or None)
        except DispatchError as exc:
            status = exc.status
            alert = error_text(exc.code, lang, exc.params)
            errors = {p.field: error_text(p.code, lang, p.params) for p in exc.problems}
            found = await measures.measure(session)
    exports = urlencode({"since": found.since.isoformat(), "until": found.until.isoformat()})
    shifts = [(measures.shift_name(g.key, lang), g.figures) for g in found.shifts]
    calltakers = [(g.name or translate("h112.measures.unknown", lang), g.figures) for g in found.calltakers]
    return page(
        request,
        "hotline112/measures.html",
        status=status,
        alert=alert,
        errors=errors,
        values=values,
        m=found,
        names=measures.MEASURES,
        call_names=measures.CALL_MEASURES,
        targets=measures.TARGET_SECONDS,
        shifts=shifts,
        calltakers=calltakers,
        exports=exports,
        dur=lambda seconds: duration(seconds, lang),
        share=share,
    )


route_handlers: list[Any] = [
    Router(path="/", route_handlers=[dispatch_page, measures_page], guards=[city_only])
]
