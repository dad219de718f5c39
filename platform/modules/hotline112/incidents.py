"""Incidents: opened by the call-taker from one or more calls, typed with the city's question
protocol (``IncidentType.protocol``), prioritised P1-P4, placed from the caller's AML, what the
caller said or the map; notes, a callback number, a timeline of everything with its moment, closing,
and the export as a NENA EIDO (Emergency Incident Data Object) JSON document.

Every change is announced through ``timeline.announce_incident`` so the Live Room board and the
dispatch screens show it.

The incident types are the city's: ``IncidentTypeService`` lists them and updates one (names, default
priority, unit types, answering agency, protocol), each value checked, so the city admin's pages
edit them through it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select

from kotalive import live
from kotalive.context import TenantContext
from kotalive.db import TenantSession
from kotalive.modules.hotline112 import aml
from kotalive.modules.hotline112.calls import Refusal, Staff, call_data, check_accuracy, check_point
from kotalive.modules.hotline112.domain import (
    OPEN_INCIDENT_STATES,
    PRIORITIES,
    QUESTION_KINDS,
    UNIT_TYPES,
)
from kotalive.modules.hotline112.models import (
    Assignment,
    Call,
    CallerLocation,
    Incident,
    IncidentType,
    TimelineEntry,
    Unit,
)
from kotalive.modules.hotline112.timeline import announce_incident, calls_channel, record
from kotalive.tenants.city_models import Agency

INCIDENT_LOCATION_SOURCES = ("aml", "caller", "map")
MAX_QUESTIONS = 20
MAX_CALLS = 20
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
YES = {"true", "yes", "ya", "y", "1"}
NO = {"false", "no", "tidak", "t", "n", "0"}


# ---- incident types and their protocols ------------------------------------------------------------


def check_protocol(value: Any) -> list[dict[str, Any]]:
    """A question protocol as the city writes it; 422 naming the question and field at fault."""
    if not isinstance(value, list):
        raise Refusal(422, "not_a_list", "protocol")
    if len(value) > MAX_QUESTIONS:
        raise Refusal(422, "too_many", "protocol", max=MAX_QUESTIONS)
    seen: set[str] = set()
    out = []
    for n, q in enumerate(value):
        where = f"protocol[{n}]"
        if not isinstance(q, dict):
            raise Refusal(422, "not_an_object", where)
        key = q.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise Refusal(422, "bad_key", f"{where}.key")
        if key in seen:
            raise Refusal(422, "duplicate_key", f"{where}.key", question=key)
        seen.add(key)
        texts = {}
        for name in ("text_id", "text_en"):
            text = q.get(name)
            if not isinstance(text, str) or not text.strip():
                raise Refusal(422, "required", f"{where}.{name}")
            if len(text) > 300:
                raise Refusal(422, "too_long", f"{where}.{name}", max=300)
            texts[name] = text.strip()
        kind = q.get("kind", "yes_no")
        if kind not in QUESTION_KINDS:
            raise Refusal(422, "unknown_kind", f"{where}.kind", allowed=", ".join(QUESTION_KINDS))
        choices = q.get("choices") or []
        if not isinstance(choices, list) or not all(isinstance(c, str) and c.strip() for c in choices):
            raise Refusal(422, "bad_choices", f"{where}.choices")
        choices = [c.strip()[:100] for c in choices]
        if kind == "choice" and len(choices) < 2:
            raise Refusal(422, "choices_required", f"{where}.choices")
        if kind != "choice" and choices:
            raise Refusal(422, "choices_only_for_choice", f"{where}.choices")
        if len(set(choices)) != len(choices):
            raise Refusal(422, "duplicate_choice", f"{where}.choices")
        out.append({"key": key, **texts, "kind": kind, "choices": choices})
    return out


def check_answers(protocol: list[dict[str, Any]], answers: Any) -> dict[str, Any]:
    """Answers to the type's questions (any may be left out: the caller may not know)."""
    if answers is None:
        return {}
    if not isinstance(answers, dict):
        raise Refusal(422, "not_an_object", "answers")
    questions = {q["key"]: q for q in protocol}
    out: dict[str, Any] = {}
    for key, value in answers.items():
        field = f"answers.{key}"
        question = questions.get(key)
        if question is None:
            raise Refusal(422, "unknown_question", field[:80], question=str(key)[:40])
        if value is None or value == "":
            continue
        kind = question.get("kind", "yes_no")
        if kind == "yes_no":
            if isinstance(value, bool):
                out[key] = value
            elif isinstance(value, str) and value.strip().lower() in YES:
                out[key] = True
            elif isinstance(value, str) and value.strip().lower() in NO:
                out[key] = False
            else:
                raise Refusal(422, "not_yes_no", field)
        elif kind == "number":
            number: Any = value
            if isinstance(value, str):
                try:
                    number = float(value.strip().replace(",", "."))
                except ValueError:
                    raise Refusal(422, "not_a_number", field) from None
            if isinstance(number, bool) or not isinstance(number, int | float) or number != number:
                raise Refusal(422, "not_a_number", field)
            if not 0 <= number <= 100_000:
                raise Refusal(422, "out_of_range", field, min=0, max=100_000)
            out[key] = int(number) if float(number).is_integer() else float(number)
        elif kind == "choice":
            if value not in question.get("choices", []):
                raise Refusal(422, "not_a_choice", field, allowed=", ".join(question.get("choices", [])))
            out[key] = value
        else:
            if not isinstance(value, str):
                raise Refusal(422, "not_a_string", field)
            text = value.strip()
            if len(text) > 1000:
                raise Refusal(422, "too_long", field, max=1000)
            if "\x00" in text:
                raise Refusal(422, "invalid", field)
            if text:
                out[key] = text
    return out


def type_data(t: IncidentType) -> dict[str, Any]:
    return {
        "code": t.code,
        "name_id": t.name_id,
        "name_en": t.name_en,
        "priority": t.priority,
        "unit_types": list(t.unit_types or []),
        "agency_id": t.agency_id,
        "protocol": list(t.protocol or []),
        "active": t.active,
        "position": t.position,
    }


_UNSET: Any = object()


class IncidentTypeService:
    """The city's incident types (the city admin edits them through this)."""

    def __init__(self, session: TenantSession) -> None:
        self.session = session

    async def list(self, *, include_inactive: bool = False) -> list[IncidentType]:
        query = select(IncidentType).order_by(IncidentType.position, IncidentType.code)
        if not include_inactive:
            query = query.where(IncidentType.active)
        return list(await self.session.scalars(query))

    async def get(self, code: str) -> IncidentType:
        found = await self.session.get(IncidentType, code) if isinstance(code, str) else None
        if found is None:
            raise Refusal(404, "type_not_found", "type", type_code=str(code)[:40])
        return found

    async def update(
        self,
        code: str,
        *,
        name_id: Any = _UNSET,
        name_en: Any = _UNSET,
        priority: Any = _UNSET,
        unit_types: Any = _UNSET,
        agency_id: Any = _UNSET,
        protocol: Any = _UNSET,
        active: Any = _UNSET,
        position: Any = _UNSET,
    ) -> IncidentType:
        """Change what is given, each value checked (422 naming the field); the caller commits.
        Incidents already open keep the answers they have."""
        row = await self.get(code)
        for name, value in (("name_id", name_id), ("name_en", name_en)):
            if value is _UNSET:
                continue
            if not isinstance(value, str) or not value.strip():
                raise Refusal(422, "required", name)
            if len(value) > 200:
                raise Refusal(422, "too_long", name, max=200)
            setattr(row, name, value.strip())
        if priority is not _UNSET:
            if priority not in PRIORITIES:
                raise Refusal(422, "unknown_priority", "priority", allowed=", ".join(PRIORITIES))
            row.priority = priority
        if unit_types is not _UNSET:
            if not isinstance(unit_types, list) or any(u not in UNIT_TYPES for u in unit_types):
                raise Refusal(422, "unknown_unit_type", "unit_types", allowed=", ".join(UNIT_TYPES))
            row.unit_types = list(dict.fromkeys(unit_types))
        if agency_id is not _UNSET:
            if agency_id is not None:
                if isinstance(agency_id, bool) or not isinstance(agency_id, int):
                    raise Refusal(422, "not_an_id", "agency_id")
                if await self.session.get(Agency, agency_id) is None:
                    raise Refusal(422, "agency_not_found", "agency_id", id=agency_id)
            row.agency_id = agency_id
        if protocol is not _UNSET:
            row.protocol = check_protocol(protocol)
        if active is not _UNSET:
            if not isinstance(active, bool):
                raise Refusal(422, "not_a_boolean", "active")
            row.active = active
        if position is not _UNSET:
            if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 1000:
                raise Refusal(422, "out_of_range", "position", min=0, max=1000)
            row.position = position
        await self.session.flush()
        return row


# ---- incidents -------------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def incident_data(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "type": i.type_code,
        "priority": i.priority,
        "state": i.state,
        "summary": i.summary,
        "address": i.address,
        "lat": i.lat,
        "lon": i.lon,
        "accuracy_m": i.accuracy_m,
        "location_source": i.location_source,
        "callback_number": i.callback_number,
        "answers": dict(i.answers or {}),
        "agency_id": i.agency_id,
        "created_by": i.created_by,
        "created_at": _iso(i.created_at),
        "updated_at": _iso(i.updated_at),
        "first_dispatch_at": _iso(i.first_dispatch_at),
        "closed_at": _iso(i.closed_at),
        "closed_reason": i.closed_reason,
        "version": i.version,
    }


def entry_data(e: TimelineEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": _iso(e.at),
        "kind": e.kind,
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "data": dict(e.data or {}),
    }


def _summary(value: Any, field: str = "summary", limit: int = 2000) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refusal(422, "not_a_string", field)
    if len(value) > limit:
        raise Refusal(422, "too_long", field, max=limit)
    if "\x00" in value:
        raise Refusal(422, "invalid", field)
    return value.strip()


def _callback(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Refusal(422, "not_a_string", "callback_number")
    number = aml.normalise_number(value)
    if number is None:
        raise Refusal(422, "not_a_number", "callback_number")
    return number


def _priority(value: Any, default: str) -> str:
    if value is None or value == "":
        return default
    if value not in PRIORITIES:
        raise Refusal(422, "unknown_priority", "priority", allowed=", ".join(PRIORITIES))
    return str(value)


class IncidentService:
    """The call-taker's and dispatcher's use cases on incidents; the caller commits."""

    def __init__(self, session: TenantSession, who: Staff) -> None:
        self.session = session
        self.who = who

    def _record(self, incident_id: int, kind: str, data: dict[str, Any]) -> None:
        record(self.session, incident_id, kind, data, actor_id=self.who.id, actor_name=self.who.name)

    async def get(self, incident_id: int, *, lock: bool = False) -> Incident:
        query = select(Incident).where(Incident.id == incident_id)
        if lock:
            query = query.with_for_update()
        found = await self.session.scalar(query)
        if found is None:
            raise Refusal(404, "incident_not_found", "incident_id", id=incident_id)
        return found

    async def _type(self, code: Any) -> IncidentType:
        """The incident's type: an unknown code is a wrong field of the request (422)."""
        try:
            return await IncidentTypeService(self.session).get(code)
        except Refusal as exc:
            raise Refusal(422, exc.code, "type", **exc.detail) from None

    async def _calls(self, call_ids: Any) -> list[Call]:
        if call_ids is None:
            return []
        if not isinstance(call_ids, list):
            raise Refusal(422, "not_a_list", "call_ids")
        if len(call_ids) > MAX_CALLS:
            raise Refusal(422, "too_many", "call_ids", max=MAX_CALLS)
        calls = []
        for n, cid in enumerate(dict.fromkeys(call_ids)):
            if isinstance(cid, bool) or not isinstance(cid, int):
                raise Refusal(422, "not_an_id", f"call_ids[{n}]")
            call = await self.session.scalar(select(Call).where(Call.id == cid).with_for_update())
            if call is None:
                raise Refusal(404, "call_not_found", f"call_ids[{n}]", id=cid)
            if call.incident_id is not None:
                raise Refusal(409, "call_has_incident", f"call_ids[{n}]", incident_id=call.incident_id)
            calls.append(call)
        return calls

    async def _aml_of(self, calls: list[Call]) -> CallerLocation | None:
        if not calls:
            return None
        return await self.session.scalar(
            select(CallerLocation)
            .where(CallerLocation.call_id.in_([c.id for c in calls]))
            .order_by(CallerLocation.received_at.desc(), CallerLocation.id.desc())
            .limit(1)
        )

    async def _place(
        self, body: dict[str, Any], calls: list[Call], required: bool
    ) -> tuple[tuple[float, float] | None, float | None, str | None]:
        source = body.get("location_source")
        if source is not None and source not in INCIDENT_LOCATION_SOURCES:
            raise Refusal(
                422,
                "unknown_location_source",
                "location_source",
                allowed=", ".join(INCIDENT_LOCATION_SOURCES),
            )
        point = check_point(body.get("lat"), body.get("lon"), required=False)
        accuracy = check_accuracy(body.get("accuracy_m"))
        if point is None and source == "aml":
            found = await self._aml_of(calls)
            if found is None:
                raise Refusal(422, "no_caller_location", "location_source")
            point, accuracy = (found.lat, found.lon), found.accuracy_m
        if point is None and required and not (body.get("address") or "").strip():
            raise Refusal(422, "location_required", "lat")
        if point is not None and source is None:
            source = "map"
        return point, accuracy, source

    async def open(self, body: dict[str, Any]) -> Incident:
        calls = await self._calls(body.get("call_ids"))
        if not calls:
            raise Refusal(422, "required", "call_ids")
        code = body.get("type")
        if not code:
            raise Refusal(422, "required", "type")
        type_row = await self._type(code)
        if not type_row.active:
            raise Refusal(422, "type_inactive", "type", type_code=type_row.code)
        answers = check_answers(list(type_row.protocol or []), body.get("answers"))
        point, accuracy, source = await self._place(body, calls, required=True)
        address = _summary(body.get("address"), "address", 500) or None
        callback = _callback(body.get("callback_number")) or calls[0].caller_number
        incident = Incident(
            type_code=type_row.code,
            priority=_priority(body.get("priority"), type_row.priority),
            state="open",
            summary=_summary(body.get("summary")),
            address=address,
            lat=point[0] if point else None,
            lon=point[1] if point else None,
            accuracy_m=accuracy if point else None,
            location_source=source if point else None,
            callback_number=callback,
            answers=answers,
            agency_id=type_row.agency_id,
            created_by=self.who.id,
            version=0,
        )
        self.session.add(incident)
        await self.session.flush()
        now = dt.datetime.now(dt.UTC)
        self._record(
            incident.id,
            "opened",
            {"type": incident.type_code, "priority": incident.priority, "summary": incident.summary},
        )
        for call in calls:
            call.incident_id = incident.id
            if call.disposition is None:
                call.disposition, call.disposition_at, call.disposition_by = "emergency", now, self.who.id
            if call.calltaker_id is None:
                call.calltaker_id = self.who.id
            self._record(
                incident.id,
                "call_linked",
                {
                    "call_id": call.id,
                    "caller_number": call.caller_number,
                    "offered_at": _iso(call.offered_at),
                },
            )
        await self.session.flush()
        for call in calls:  # the other call-takers' screens: this call is taken care of
            live.publish_after_commit(self.session, calls_channel(), "call", call_data(call))
        if point is not None:
            self._record(
                incident.id,
                "location",
                {
                    "source": source,
                    "lat": point[0],
                    "lon": point[1],
                    "accuracy_m": accuracy,
                    "address": address,
                },
            )
        if answers:
            self._record(incident.id, "answers", {"answers": answers})
        await announce_incident(self.session, incident, "hotline112.incident_opened")
        return incident

    async def update(self, incident_id: int, body: dict[str, Any]) -> Incident:
        allowed = {
            "type",
            "priority",
            "summary",
            "address",
            "lat",
            "lon",
            "accuracy_m",
            "location_source",
            "callback_number",
            "answers",
            "version",
        }
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise Refusal(422, "unknown_field", str(unknown[0])[:60])
        incident = await self.get(incident_id, lock=True)
        if incident.state == "closed":
            raise Refusal(409, "incident_closed", "incident_id", id=incident.id)
        if "version" in body and body["version"] != incident.version:
            raise Refusal(409, "stale_version", "version", current=incident.version)
        changes: dict[str, Any] = {}

        def change(name: str, value: Any) -> None:
            old = getattr(incident, name)
            if old != value:
                changes[name] = {"from": old, "to": value}
                setattr(incident, name, value)

        type_row = await self._type(body.get("type") or incident.type_code)
        if "type" in body:
            if not type_row.active:
                raise Refusal(422, "type_inactive", "type", type_code=type_row.code)
            change("type_code", type_row.code)
            if "agency_id" not in changes and type_row.agency_id is not None:
                change("agency_id", type_row.agency_id)
        if "priority" in body:
            change("priority", _priority(body["priority"], incident.priority))
        if "summary" in body:
            change("summary", _summary(body["summary"]))
        if "address" in body:
            change("address", _summary(body["address"], "address", 500) or None)
        if "callback_number" in body:
            change("callback_number", _callback(body["callback_number"]))
        if any(k in body for k in ("lat", "lon", "location_source", "accuracy_m")):
            calls = list(await self.session.scalars(select(Call).where(Call.incident_id == incident.id)))
            point, accuracy, source = await self._place(body, calls, required=False)
            if point is not None:
                change("lat", point[0])
                change("lon", point[1])
                change("accuracy_m", accuracy)
                change("location_source", source)
        protocol = list(type_row.protocol or [])
        if "answers" in body:
            merged = {**(incident.answers or {}), **check_answers(protocol, body["answers"])}
            merged = {k: v for k, v in merged.items() if any(q["key"] == k for q in protocol)}
            change("answers", merged)
        elif "type_code" in changes:
            keys = {q["key"] for q in protocol}
            change("answers", {k: v for k, v in (incident.answers or {}).items() if k in keys})
        if not changes:
            return incident
        incident.version += 1
        incident.updated_at = dt.datetime.now(dt.UTC)
        self._record(incident.id, "updated", {"changes": changes})
        await announce_incident(self.session, incident, "hotline112.incident_updated")
        return incident

    async def add_note(self, incident_id: int, body: dict[str, Any]) -> TimelineEntry:
        text = _summary(body.get("body", body.get("text")), "body", 4000)
        if not text:
            raise Refusal(422, "required", "body")
        incident = await self.get(incident_id, lock=True)
        entry = record(
            self.session, incident.id, "note", {"body": text}, actor_id=self.who.id, actor_name=self.who.name
        )
        incident.updated_at = dt.datetime.now(dt.UTC)
        await self.session.flush()
        return entry

    async def close(self, incident_id: int, body: dict[str, Any]) -> Incident:
        reason = _summary(body.get("reason"), "reason", 1000)
        incident = await self.get(incident_id, lock=True)
        if incident.state == "closed":
            raise Refusal(409, "incident_closed", "incident_id", id=incident.id)
        # A unit still working the incident would be left sent to nothing: the dispatcher returns
        # it first (cancel, or back in service), so every unit's cycle ends in its own timeline.
        working = list(
            await self.session.scalars(
                select(Unit.call_sign)
                .join(Assignment, Assignment.unit_id == Unit.id)
                .where(Assignment.incident_id == incident.id, Assignment.state == "active")
                .order_by(Unit.call_sign)
            )
        )
        if working:
            raise Refusal(
                409, "units_still_assigned", "incident_id", id=incident.id, units=", ".join(working)
            )
        now = dt.datetime.now(dt.UTC)
        previous = incident.state
        incident.state = "closed"
        incident.closed_at = now
        incident.closed_reason = reason or None
        incident.updated_at = now
        incident.version += 1
        self._record(incident.id, "closed", {"from": previous, "reason": reason})
        await announce_incident(self.session, incident, "hotline112.incident_closed")
        return incident


# ---- reads -----------------------------------------------------------------------------------------


async def list_incidents(
    session: TenantSession, *, state: str | None = None, limit: int = 50
) -> list[Incident]:
    query = (
        select(Incident)
        .order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(max(1, min(limit, 200)))
    )
    if state == "open":
        query = query.where(Incident.state.in_(OPEN_INCIDENT_STATES))
    elif state:
        query = query.where(Incident.state == state)
    return list(await session.scalars(query))


async def timeline_of(session: TenantSession, incident_id: int) -> list[TimelineEntry]:
    return list(
        await session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.incident_id == incident_id)
            .order_by(TimelineEntry.at, TimelineEntry.id)
        )
    )


async def assignments_of(session: TenantSession, incident_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Assignment, Unit.call_sign, Unit.type_code, Unit.status)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.incident_id == incident_id)
        .order_by(Assignment.id)
    )
    return [
        {
            "id": a.id,
            "unit_id": a.unit_id,
            "call_sign": call_sign,
            "unit_type": unit_type,
            "unit_status": status,
            "state": a.state,
            "assigned_at": _iso(a.assigned_at),
            "en_route_at": _iso(a.en_route_at),
            "on_scene_at": _iso(a.on_scene_at),
            "cleared_at": _iso(a.cleared_at),
            "distance_m": a.distance_m,
            "eta_seconds": a.eta_seconds,
        }
        for a, call_sign, unit_type, status in rows
    ]


async def incident_detail(session: TenantSession, incident_id: int) -> dict[str, Any]:
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise Refusal(404, "incident_not_found", "incident_id", id=incident_id)
    calls = list(await session.scalars(select(Call).where(Call.incident_id == incident.id).order_by(Call.id)))
    type_row = await session.get(IncidentType, incident.type_code)
    return {
        "incident": incident_data(incident),
        "type": type_data(type_row) if type_row else None,
        "calls": [call_data(c) for c in calls],
        "timeline": [entry_data(e) for e in await timeline_of(session, incident.id)],
        "assignments": await assignments_of(session, incident.id),
    }


# ---- NENA EIDO -------------------------------------------------------------------------------------

EIDO_STATUS = {"open": "Received", "dispatched": "Dispatched", "on_scene": "OnScene", "closed": "Closed"}


def _pidf_lo(entity: str, lat: float, lon: float, accuracy: float | None, at: str | None) -> str:
    """The location as PIDF-LO (RFC 4119/5491), what EIDO's ``locationByValue`` carries: a circle
    when the accuracy is known, else a point."""
    pos = f"<gml:pos>{lat:.7f} {lon:.7f}</gml:pos>"
    if accuracy is not None:
        shape = (
            '<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">'
            f'{pos}<gs:radius uom="urn:ogc:def:uom:EPSG::9001">{accuracy:.1f}</gs:radius></gs:Circle>'
        )
    else:
        shape = f'<gml:Point srsName="urn:ogc:def:crs:EPSG::4326">{pos}</gml:Point>'
    stamp = f"<timestamp>{escape(at)}</timestamp>" if at else ""
    return (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        'xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0" '
        f'entity="{escape(entity)}"><tuple id="location"><status><gp:geopriv><gp:location-info>'
        f"{shape}</gp:location-info></gp:geopriv></status>{stamp}</tuple></presence>"
    )


async def eido(session: TenantSession, tenant: TenantContext, incident_id: int) -> dict[str, Any]:
    """The incident as a NENA EIDO JSON document (NENA-STA-024 components).

    What maps onto EIDO goes into its components: the incident (tracking id, type, status,
    references), its calls, its location (PIDF-LO), its notes, the units sent (emergency
    resources) and the answering agency. What EIDO has no field for (our P1-P4 priority, the
    protocol answers, the full timeline) is kept under ``extension.kotalive``, never forced into
    a field that means something else."""
    detail = await incident_detail(session, incident_id)
    inc = detail["incident"]
    urn = f"urn:kotalive:{tenant.slug}"
    updated = inc["updated_at"] or inc["created_at"]
    incident_ref = f"incident-{inc['id']}"
    location_ref = f"location-incident-{inc['id']}"
    calls = detail["calls"]
    notes = [e for e in detail["timeline"] if e["kind"] == "note"]
    agency = await session.get(Agency, inc["agency_id"]) if inc["agency_id"] else None
    type_info = detail["type"] or {"name_en": inc["type"], "name_id": inc["type"]}

    locations: list[dict[str, Any]] = []
    if inc["lat"] is not None and inc["lon"] is not None:
        locations.append(
            {
                "$id": location_ref,
                "componentIdentifier": location_ref,
                "lastUpdateTimeStamp": updated,
                "locationTypeDescription": {"aml": "Device", "caller": "Caller", "map": "Dispatcher"}.get(
                    inc["location_source"] or "", "Unknown"
                ),
                "locationByValue": _pidf_lo(
                    f"{urn}:incident:{inc['id']}", inc["lat"], inc["lon"], inc["accuracy_m"], updated
                ),
                "civicAddressText": inc["address"],
            }
        )
    component: dict[str, Any] = {
        "$id": incident_ref,
        "componentIdentifier": incident_ref,
        "incidentTrackingIdentifier": f"{urn}:incident:{inc['id']}",
        "lastUpdateTimeStamp": updated,
        "incidentTypeCommonRegistryText": type_info["name_en"],
        "incidentStatusCommonRegistryText": EIDO_STATUS.get(inc["state"], inc["state"]),
        "incidentCreationTimeStamp": inc["created_at"],
        "callReference": [{"$ref": f"call-{c['id']}"} for c in calls],
        "notesReference": [{"$ref": f"note-{n['id']}"} for n in notes],
        "emergencyResourceReference": [{"$ref": f"resource-{a['unit_id']}"} for a in detail["assignments"]],
    }
    if locations:
        component["locationReference"] = [{"$ref": location_ref}]
    if agency is not None:
        component["updatedByAgencyReference"] = {"$ref": f"agency-{agency.id}"}
    return {
        "$id": f"{urn}:eido:{inc['id']}:{inc['version']}",
        "eidoMessageIdentifier": f"{urn}:eido:{inc['id']}:{inc['version']}",
        "lastUpdateTimeStamp": updated,
        "sendingSystemIdentifier": f"{urn}:hotline112",
        "messageKind": "Report",
        "incidentComponent": [component],
        "callComponent": [
            {
                "$id": f"call-{c['id']}",
                "componentIdentifier": f"call-{c['id']}",
                "callTrackingIdentifier": c["call_ref"],
                "callTypeDescription": "Emergency",
                "callStartTimeStamp": c["offered_at"],
                "callAnswerTimeStamp": c["answered_at"],
                "callEndTimeStamp": c["ended_at"],
                "callbackNumber": c["caller_number"],
                "callDispositionText": c["disposition"],
            }
            for c in calls
        ],
        "locationComponent": locations,
        "notesComponent": [
            {
                "$id": f"note-{n['id']}",
                "componentIdentifier": f"note-{n['id']}",
                "noteDateTimeStamp": n["at"],
                "noteText": n["data"].get("body", ""),
                "authorText": n["actor_name"],
            }
            for n in notes
        ],
        "emergencyResourceComponent": [
            {
                "$id": f"resource-{a['unit_id']}",
                "componentIdentifier": f"resource-{a['unit_id']}",
                "emergencyResourceIdentifier": a["call_sign"],
                "emergencyResourceTypeText": a["unit_type"],
                "emergencyResourceStatusText": a["unit_status"],
                "assignedTimeStamp": a["assigned_at"],
                "onSceneTimeStamp": a["on_scene_at"],
            }
            for a in detail["assignments"]
        ],
        "agencyComponent": (
            [
                {
                    "$id": f"agency-{agency.id}",
                    "componentIdentifier": f"agency-{agency.id}",
                    "agencyIdentifier": f"{urn}:agency:{agency.code}",
                    "agencyName": agency.name,
                }
            ]
            if agency is not None
            else []
        ),
        "extension": {
            "kotalive": {
                "priority": inc["priority"],
                "type_code": inc["type"],
                "type_name_id": type_info["name_id"],
                "summary": inc["summary"],
                "callback_number": inc["callback_number"],
                "answers": inc["answers"],
                "protocol": (detail["type"] or {}).get("protocol", []),
                "closed_at": inc["closed_at"],
                "closed_reason": inc["closed_reason"],
                "timeline": detail["timeline"],
            }
        },
    }
