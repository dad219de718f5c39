"""Calls: what the telephony system tells us, what the call-taker screen shows, and the call-taker's
decision about each call (its disposition).

Telephony events (offered, answered, transferred, ended) may come twice, late or in any order: each
is kept once under its key (``event_id``, else call id + type + moment), and each stage of a call
keeps its own moment (the earliest heard), so a replay or a late event never moves a call back.
When a call is first offered, the caller locations (AML) that arrived before it are matched to it,
and the call-taker screens hear of it at once (the ``hotline112.calls`` live topic) with the
caller's history: earlier calls and incidents from that number.

Dispositions: ``emergency`` (an incident is opened or joined), ``non_emergency`` (referred to the
city's complaint service: the ``hotline112.call_referred`` event, which Laksa turns into a
complaint), ``prank``, ``abandoned`` and ``duplicate`` (merged into an existing incident).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert

from kotalive import events, live
from kotalive.db import TenantSession
from kotalive.modules.hotline112 import aml
from kotalive.modules.hotline112.domain import CALL_EVENT_TYPES, DISPOSITIONS, LOCATION_SOURCES
from kotalive.modules.hotline112.models import Call, CallerLocation, CallEvent, Incident
from kotalive.modules.hotline112.timeline import announce_incident, calls_channel, record

MAX_BATCH = 500
HISTORY_LIMIT = 10
LIVE_LIMIT = 100
# An ended call nobody has decided about yet stays on the call-taker screen this long.
UNDECIDED_HOURS = 2
WITHHELD = {"", "anonymous", "unknown", "private", "withheld", "restricted"}


class Refusal(Exception):
    """A request the 112 services refuse: HTTP ``status``, a stable ``code``, the ``field`` it is
    about and values for the message (``h112.calls.error.<code>``)."""

    def __init__(self, status: int, code: str, field: str = "body", **detail: Any) -> None:
        super().__init__(f"{field}: {code}")
        self.status = status
        self.code = code
        self.field = field
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Staff:
    """Who acts: the signed-in call-taker or dispatcher."""

    id: int | None
    name: str


@dataclass(frozen=True, slots=True)
class TelephonyEvent:
    key: str
    type: str
    call_ref: str
    caller: str | None
    line: str | None
    at: dt.datetime
    agent: str | None
    to: str | None
    reason: str | None
    payload: dict[str, Any]


# ---- parsing the webhook ---------------------------------------------------------------------------


def _text(item: dict[str, Any], name: str, where: str, limit: int, *, required: bool = False) -> str | None:
    value = item.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise Refusal(422, "required", f"{where}{name}")
        return None
    if not isinstance(value, str):
        raise Refusal(422, "not_a_string", f"{where}{name}")
    value = value.strip()
    if required and not value:
        raise Refusal(422, "required", f"{where}{name}")
    if len(value) > limit:
        raise Refusal(422, "too_long", f"{where}{name}", max=limit)
    if "\x00" in value:
        raise Refusal(422, "invalid", f"{where}{name}")
    return value


def parse_moment(value: Any, field: str) -> dt.datetime:
    """ISO-8601 with its offset (a moment without one could be any of three Indonesian zones)."""
    if not isinstance(value, str) or not value.strip():
        raise Refusal(422, "required", field)
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Refusal(422, "not_a_moment", field) from None
    if moment.tzinfo is None:
        raise Refusal(422, "moment_without_offset", field)
    return moment.astimezone(dt.UTC)


def parse_events(data: Any) -> list[TelephonyEvent]:
    """The webhook's body (an object or a list of them), all checked before any is applied."""
    many = isinstance(data, list)
    items = data if many else [data]
    if not items:
        raise Refusal(422, "empty", "body")
    if len(items) > MAX_BATCH:
        raise Refusal(422, "too_many", "body", max=MAX_BATCH)
    out = []
    for n, item in enumerate(items):
        where = f"[{n}]." if many else ""
        if not isinstance(item, dict):
            raise Refusal(422, "not_an_object", f"[{n}]" if many else "body")
        kind = _text(item, "type", where, 16, required=True)
        if kind not in CALL_EVENT_TYPES:
            raise Refusal(422, "unknown_event_type", f"{where}type", allowed=", ".join(CALL_EVENT_TYPES))
        call_ref = _text(item, "call_id", where, 128, required=True)
        assert call_ref is not None
        at = parse_moment(item.get("at"), f"{where}at")
        raw_caller = _text(item, "caller", where, 40)
        caller = None
        if raw_caller is not None and raw_caller.lower() not in WITHHELD:
            caller = aml.normalise_number(raw_caller)
            if caller is None:
                raise Refusal(422, "not_a_number", f"{where}caller")
        event_id = _text(item, "event_id", where, 128)
        if event_id:
            key = "e:" + event_id
        else:
            key = "k:" + hashlib.sha256(f"{call_ref}\0{kind}\0{at.isoformat()}".encode()).hexdigest()
        out.append(
            TelephonyEvent(
                key=key,
                type=kind,
                call_ref=call_ref,
                caller=caller,
                line=_text(item, "line", where, 64),
                at=at,
                agent=_text(item, "agent", where, 64),
                to=_text(item, "to", where, 64),
                reason=_text(item, "reason", where, 200),
                payload={
                    k: v for k, v in item.items() if isinstance(v, str | int | float | bool) and len(k) < 64
                },
            )
        )
    return out


# ---- what the screens show -------------------------------------------------------------------------


def stage(call: Call) -> str:
    if call.ended_at:
        return "ended"
    if call.transferred_at:
        return "transferred"
    if call.answered_at:
        return "answered"
    return "offered"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def call_data(call: Call) -> dict[str, Any]:
    return {
        "id": call.id,
        "call_ref": call.call_ref,
        "caller_number": call.caller_number,
        "line": call.line,
        "stage": stage(call),
        "ringing": call.answered_at is None and call.ended_at is None,
        "offered_at": _iso(call.offered_at),
        "answered_at": _iso(call.answered_at),
        "transferred_at": _iso(call.transferred_at),
        "transferred_to": call.transferred_to,
        "ended_at": _iso(call.ended_at),
        "agent": call.agent,
        "calltaker_id": call.calltaker_id,
        "disposition": call.disposition,
        "disposition_at": _iso(call.disposition_at),
        "incident_id": call.incident_id,
    }


async def caller_history(session: TenantSession, call: Call) -> dict[str, Any]:
    """Earlier calls from the caller's number (newest first) and the incidents they belong to."""
    if not call.caller_number:
        return {"calls": [], "incidents": [], "earlier_calls": 0}
    earlier = select(Call).where(Call.caller_number == call.caller_number, Call.id != call.id)
    rows = list(
        await session.scalars(
            earlier.order_by(func.coalesce(Call.offered_at, Call.created_at).desc(), Call.id.desc()).limit(
                HISTORY_LIMIT
            )
        )
    )
    count = len(rows)
    if count == HISTORY_LIMIT:
        count = int(await session.scalar(select(func.count()).select_from(earlier.subquery())) or 0)
    incident_ids = {r.incident_id for r in rows if r.incident_id}
    incidents: list[dict[str, Any]] = []
    if incident_ids:
        found = await session.scalars(
            select(Incident).where(Incident.id.in_(incident_ids)).order_by(Incident.created_at.desc())
        )
        incidents = [
            {
                "id": i.id,
                "type": i.type_code,
                "priority": i.priority,
                "state": i.state,
                "summary": i.summary,
                "created_at": _iso(i.created_at),
            }
            for i in found
        ]
    return {
        "calls": [
            {
                "id": r.id,
                "offered_at": _iso(r.offered_at or r.created_at),
                "stage": stage(r),
                "disposition": r.disposition,
                "incident_id": r.incident_id,
            }
            for r in rows
        ],
        "incidents": incidents,
        "earlier_calls": count,
    }


async def locations_of(session: TenantSession, call_id: int) -> list[CallerLocation]:
    return list(
        await session.scalars(
            select(CallerLocation)
            .where(CallerLocation.call_id == call_id)
            .order_by(CallerLocation.received_at.desc(), CallerLocation.id.desc())
        )
    )


async def live_calls(session: TenantSession) -> list[Call]:
    """The call-taker screen: calls ringing or in progress, and ended calls still undecided."""
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(hours=UNDECIDED_HOURS)
    return list(
        await session.scalars(
            select(Call)
            .where(or_(Call.ended_at.is_(None), (Call.disposition.is_(None)) & (Call.ended_at >= recent)))
            .order_by(Call.ended_at.is_not(None), func.coalesce(Call.offered_at, Call.created_at).desc())
            .limit(LIVE_LIMIT)
        )
    )


async def get_call(session: TenantSession, call_id: int, *, lock: bool = False) -> Call:
    query = select(Call).where(Call.id == call_id)
    if lock:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise Refusal(404, "call_not_found", "call_id", id=call_id)
    return found


async def call_detail(session: TenantSession, call_id: int) -> dict[str, Any]:
    call = await get_call(session, call_id)
    locations = await locations_of(session, call.id)
    return {
        "call": call_data(call),
        "locations": [aml.location_data(x) for x in locations],
        "location": aml.location_data(locations[0]) if locations else None,
        "history": await caller_history(session, call),
    }


# ---- the telephony webhook -------------------------------------------------------------------------


async def apply_events(
    session: TenantSession, batch: list[TelephonyEvent], *, window_minutes: int
) -> tuple[int, int]:
    """Apply the events (the caller commits); returns (accepted, duplicates)."""
    accepted = duplicates = 0
    touched: dict[int, tuple[Call, bool]] = {}
    # One call at a time, in a stable order: two batches touching the same calls never deadlock.
    for event in sorted(batch, key=lambda e: (e.call_ref, e.at)):
        # One round trip makes the call if it is new and locks its row either way (an upsert
        # that "updates" a row locks it like FOR UPDATE).
        upsert = insert(Call).values(call_ref=event.call_ref)
        call = await session.scalar(
            upsert.on_conflict_do_update(
                index_elements=["call_ref"], set_={"call_ref": upsert.excluded.call_ref}
            )
            .returning(Call)
            .execution_options(populate_existing=True)
        )
        assert call is not None
        kept = await session.scalar(
            insert(CallEvent)
            .values(event_key=event.key, call_id=call.id, type=event.type, at=event.at, payload=event.payload)
            .on_conflict_do_nothing(index_elements=["event_key"])
            .returning(CallEvent.id)
        )
        if kept is None:
            duplicates += 1
            continue
        accepted += 1
        first_offer = _apply(call, event)
        previous = touched.get(call.id)
        touched[call.id] = (call, first_offer or (previous[1] if previous else False))
    await session.flush()
    # Before looking for the AML that came first: see aml.lock_numbers.
    await aml.lock_numbers(
        session, [c.caller_number for c, first in touched.values() if first and c.caller_number]
    )
    for call, first_offer in touched.values():
        data = call_data(call)
        if first_offer:
            await aml.match_waiting(session, call, window_minutes=window_minutes)
        data["history"] = await caller_history(session, call)
        if call.incident_id is not None:
            record(session, call.incident_id, f"call_{stage(call)}", {"call_id": call.id})
        live.publish_after_commit(session, calls_channel(), "call", data)
    return accepted, duplicates


def _earliest(current: dt.datetime | None, at: dt.datetime) -> dt.datetime:
    return at if current is None or at < current else current


def _apply(call: Call, event: TelephonyEvent) -> bool:
    """Move the call's stage moments; True when this is the first offer heard."""
    if event.caller and not call.caller_number:
        call.caller_number = event.caller
    if event.line and not call.line:
        call.line = event.line
    if event.type == "offered":
        first = call.offered_at is None
        call.offered_at = _earliest(call.offered_at, event.at)
        return first
    if event.type == "answered":
        call.answered_at = _earliest(call.answered_at, event.at)
        if event.agent:
            call.agent = event.agent
    elif event.type == "transferred":
        call.transferred_at = _earliest(call.transferred_at, event.at)
        if event.to:
            call.transferred_to = event.to
    elif event.type == "ended":
        call.ended_at = _earliest(call.ended_at, event.at)
    return False


# ---- the call-taker's decisions --------------------------------------------------------------------


def check_point(lat: Any, lon: Any, *, required: bool = True) -> tuple[float, float] | None:
    """Coordinates from a request: numbers in range, both or neither (422 naming the field)."""
    if lat is None and lon is None:
        if required:
            raise Refusal(422, "required", "lat")
        return None
    values = []
    for name, value, bound in (("lat", lat, 90), ("lon", lon, 180)):
        if value is None:
            raise Refusal(422, "required", name)
        if isinstance(value, str):
            try:
                value = float(value.strip().replace(",", "."))
            except ValueError:
                raise Refusal(422, "not_a_number", name) from None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise Refusal(422, "not_a_number", name)
        if not -bound <= value <= bound:
            raise Refusal(422, "out_of_range", name, min=-bound, max=bound)
        values.append(float(value))
    return values[0], values[1]


def check_accuracy(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Refusal(422, "not_a_number", "accuracy_m") from None
    if isinstance(value, bool) or not 0 <= number <= 1_000_000:
        raise Refusal(422, "out_of_range", "accuracy_m", min=0, max=1_000_000)
    return number


async def set_location(
    session: TenantSession, who: Staff, call_id: int, body: dict[str, Any]
) -> CallerLocation:
    """The call-taker places the caller: what the caller said (``caller``) or a point on the map."""
    call = await get_call(session, call_id)
    point = check_point(body.get("lat"), body.get("lon"))
    assert point is not None
    source = body.get("source") or "map"
    if source not in ("caller", "map"):
        raise Refusal(422, "unknown_location_source", "source", allowed="caller, map")
    accuracy = check_accuracy(body.get("accuracy_m"))
    now = dt.datetime.now(dt.UTC)
    row = CallerLocation(
        fingerprint=hashlib.sha256(f"calltaker\0{call.id}\0{now.isoformat()}\0{point}".encode()).hexdigest(),
        call_id=call.id,
        caller_number=call.caller_number,
        channel="calltaker",
        source=source if source in LOCATION_SOURCES else "map",
        lat=point[0],
        lon=point[1],
        accuracy_m=accuracy,
        received_at=now,
        matched_at=now,
        device={},
        raw={"by": who.id, "name": who.name},
    )
    session.add(row)
    await session.flush()
    if call.incident_id is not None:
        record(
            session,
            call.incident_id,
            "location",
            {"call_id": call.id, "source": source, "lat": point[0], "lon": point[1], "accuracy_m": accuracy},
            actor_id=who.id,
            actor_name=who.name,
        )
    live.publish_after_commit(session, calls_channel(), "location", aml.location_data(row))
    return row


async def set_disposition(session: TenantSession, who: Staff, call_id: int, body: dict[str, Any]) -> Call:
    """Decide about a call. The same decision twice is answered as done (a retried click); another
    decision about a decided call is refused (409)."""
    disposition = body.get("disposition")
    if not isinstance(disposition, str) or not disposition:
        raise Refusal(422, "required", "disposition")
    if disposition not in DISPOSITIONS:
        raise Refusal(422, "unknown_disposition", "disposition", allowed=", ".join(DISPOSITIONS))
    call = await get_call(session, call_id, lock=True)
    if call.disposition is not None:
        if call.disposition == disposition:
            return call
        raise Refusal(409, "already_decided", "disposition", current=call.disposition)
    now = dt.datetime.now(dt.UTC)
    if disposition == "duplicate":
        incident = await _open_incident(session, body.get("incident_id"))
        if call.incident_id is not None and call.incident_id != incident.id:
            raise Refusal(409, "call_has_incident", "incident_id", incident_id=call.incident_id)
        call.incident_id = incident.id
        record(
            session,
            incident.id,
            "call_merged",
            {"call_id": call.id, "caller_number": call.caller_number},
            actor_id=who.id,
            actor_name=who.name,
        )
    summary = body.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise Refusal(422, "not_a_string", "summary")
    summary = (summary or "").strip()
    if disposition == "non_emergency":
        if len(summary) < 10:
            raise Refusal(422, "summary_too_short", "summary", min=10)
        if len(summary) > 4000:
            raise Refusal(422, "too_long", "summary", max=4000)
    call.disposition = disposition
    call.disposition_at = now
    call.disposition_by = who.id
    if call.calltaker_id is None:
        call.calltaker_id = who.id
    if summary:
        call.notes = summary[:4000]
    await session.flush()
    if disposition == "duplicate":
        merged = await session.get(Incident, call.incident_id)
        assert merged is not None
        await announce_incident(session, merged, "hotline112.incident_updated")
    if disposition == "non_emergency":
        locations = await locations_of(session, call.id)
        best = locations[0] if locations else None
        address = body.get("address")
        events.publish(
            session,
            "hotline112.call_referred",
            {
                "call_id": call.id,
                "caller_number": call.caller_number,
                "summary": summary,
                "address": address.strip()[:500] if isinstance(address, str) and address.strip() else None,
                "lat": best.lat if best else None,
                "lon": best.lon if best else None,
                "accuracy_m": best.accuracy_m if best else None,
                "calltaker_id": who.id,
                "calltaker_name": who.name,
                "line": call.line,
                "offered_at": _iso(call.offered_at),
            },
        )
    live.publish_after_commit(session, calls_channel(), "call", call_data(call))
    return call


async def _open_incident(session: TenantSession, incident_id: Any) -> Incident:
    if incident_id is None:
        raise Refusal(422, "required", "incident_id")
    if isinstance(incident_id, bool) or not isinstance(incident_id, int):
        raise Refusal(422, "not_an_id", "incident_id")
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise Refusal(404, "incident_not_found", "incident_id", id=incident_id)
    if incident.state == "closed":
        raise Refusal(409, "incident_closed", "incident_id", id=incident_id)
    return incident
