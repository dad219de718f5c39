"""The board's rules: what a complaint's or incident's event does to its item, and what an operator
may do to an item (claim, classify, forward, merge, escalate, note).

The room acts on another module's complaints and incidents only by publishing its request as an
event (``liveroom.forward_requested``, ``liveroom.classify_requested``, ``liveroom.duplicate_marked``,
``liveroom.item_escalated``); the owning module applies it and answers with its own events, which
move the item again. Every change of an item is a row of ``liveroom_board_event`` (what a screen
that reconnects replays) and, after commit, a message on the city's board channel.

Races are settled in the database: an item's row is locked for every action, and its state says
whether the action still applies, so of two operators forwarding the same item one wins and the
other is told who did it (409).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from kotalive import live
from kotalive.auth.models import Employee
from kotalive.db import TenantSession
from kotalive.events import publish
from kotalive.modules.liveroom.domain import (
    ACTION_STATES,
    CLAIM_MINUTES,
    COMPLAINT_STATES,
    INCIDENT_PRIORITY,
    OPEN_BOARD_STATES,
    PRIORITIES,
    BoardError,
    rank,
)
from kotalive.modules.liveroom.models import BoardEvent, BoardItem, ItemNote
from kotalive.tenants.city_models import Agency

BOARD_TOPIC = "liveroom:board"
MAX_NOTE = 2000
MAX_FORWARD_AGENCIES = 10


def board_channel(tenant: Any) -> str:
    return live.topic_channel(tenant, BOARD_TOPIC)


@dataclass(frozen=True, slots=True)
class Operator:
    """Who acts in the room: an employee with a liveroom role."""

    id: int
    name: str
    supervisor: bool = False


def item_data(item: BoardItem) -> dict[str, Any]:
    """An item as the board shows it (ids and values, no personal data)."""
    return {
        "id": item.id,
        "kind": item.kind,
        "source_id": item.source_id,
        "state": item.state,
        "source_state": item.source_state,
        "title": item.title,
        "category_id": item.category_id,
        "priority": item.priority,
        "emergency": item.emergency,
        "rank": item.rank,
        "sla": item.sla,
        "agency_id": item.agency_id,
        "kecamatan": item.kecamatan,
        "kecamatan_code": item.kecamatan_code,
        "lat": item.lat,
        "lon": item.lon,
        "claimed_by": item.claimed_by,
        "claimed_at": _iso(item.claimed_at),
        "forwarded_to": list(item.forwarded_to or ()),
        "forwarded_by": item.forwarded_by,
        "merged_into": item.merged_into,
        "escalated_at": _iso(item.escalated_at),
        "last_error": item.last_error,
        "units": list(item.units or ()),
        "appeared_at": _iso(item.appeared_at),
        "triaged_at": _iso(item.triaged_at),
        "forwarded_at": _iso(item.forwarded_at),
        "acknowledged_at": _iso(item.acknowledged_at),
        "version": item.version,
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


class BoardService:
    """Use cases of one city's board, on the caller's session (the caller commits)."""

    def __init__(self, session: TenantSession) -> None:
        self.session = session
        self.tenant = session.tenant

    # ---- the board's log and live channel ------------------------------------------------------

    async def _changed(self, item: BoardItem, *, alert: bool = False) -> None:
        item.version = (item.version or 0) + 1
        item.updated_at = dt.datetime.now(dt.UTC)
        await self.session.flush()
        data = item_data(item)
        entry = BoardEvent(item_id=item.id, kind="item", data={**data, "alert": alert})
        self.session.add(entry)
        await self.session.flush()
        live.publish_after_commit(
            self.session, board_channel(self.tenant), "item", {**data, "alert": alert, "seq": entry.id}
        )

    # ---- what the owning modules say -----------------------------------------------------------

    async def apply_complaint(self, event_type: str, payload: dict[str, Any], seq: int) -> BoardItem | None:
        """A Laksa event about complaint ``payload['complaint_id']``: create or move its item.
        ``seq`` is the event's outbox id: an older event than the last applied changes nothing
        of what it describes (events of one transaction may be handled in any order)."""
        complaint_id = int(payload["complaint_id"])
        item, created = await self._item_for("complaint", complaint_id)
        if seq < (item.source_seq or 0) and not created:
            return None  # a later event already described it
        was_emergency = item.emergency
        self._describe(item, payload)
        item.source_seq = seq
        source_state = payload.get("to_state") or payload.get("state")
        item.source_state = source_state
        now = dt.datetime.now(dt.UTC)
        kind = event_type.removeprefix("laksa.")
        if kind == "request_refused":
            item.last_error = str(payload.get("reason") or "refused")[:500]
            if item.state == "forwarded" and item.acknowledged_at is None:
                item.state = "claimed" if item.claimed_by else "new"
                item.forwarded_at = None
        elif kind in ("complaint_sla_at_risk", "complaint_sla_breached", "complaint_sla_escalated"):
            item.sla = "at_risk" if kind == "complaint_sla_at_risk" else "breached"
        elif kind == "complaint_status_changed" and source_state == "triage":
            # Back from an agency ("not our authority"): the room's again, forwarding undone.
            item.state = "new"
            item.forwarded_at = item.forwarded_by = item.acknowledged_at = None
            item.forwarded_to = []
            item.claimed_by = item.claimed_at = None
        elif source_state in ("submitted", "triage"):
            pass  # how it came in: the item is new, or the room already works it (never undone here)
        elif source_state == "forwarded" and item.state in ("escalated", "duplicate", "closed"):
            pass  # the room's own decision since stands
        elif source_state == "forwarded":
            if item.forwarded_by is not None and item.forwarded_at is not None:
                item.state = "forwarded"
            elif item.state in ("new", "claimed") and item.emergency and item.forwarded_by is None:
                pass  # an emergency routed by rule stays in front of the room until someone takes it
            elif item.state not in ("claimed", "escalated"):
                item.state = "routed"
        elif source_state is not None:
            target = COMPLAINT_STATES.get(source_state)
            if target == "acknowledged" and item.forwarded_at and item.acknowledged_at is None:
                item.acknowledged_at = now
            if target is not None and item.state != "duplicate":
                item.state = target
                if target in ("closed", "duplicate"):
                    item.closed_at = item.closed_at or now
        alert = item.emergency and (created or not was_emergency) and item.state in OPEN_BOARD_STATES
        await self._changed(item, alert=alert)
        return item

    async def apply_incident(self, event_type: str, payload: dict[str, Any], seq: int) -> BoardItem | None:
        """A 112 event about incident ``payload['incident_id']``."""
        incident_id = int(payload["incident_id"])
        item, created = await self._item_for("incident", incident_id)
        if seq < (item.source_seq or 0) and not created:
            return None
        item.source_seq = seq
        priority = INCIDENT_PRIORITY.get(str(payload.get("priority") or ""), "high")
        item.title = str(payload.get("title") or payload.get("type") or "Insiden 112")[:200]
        item.priority = priority
        item.emergency = priority == "emergency" or bool(payload.get("emergency"))
        item.rank = rank(priority, item.emergency)
        item.source_state = str(payload.get("state") or payload.get("status") or "") or None
        for key in ("lat", "lon"):
            if isinstance(payload.get(key), int | float):
                setattr(item, key, float(payload[key]))
        if payload.get("agency_id") is not None:
            item.agency_id = int(payload["agency_id"])
        if isinstance(payload.get("units"), list):
            item.units = [
                {key: str(u.get(key) or "") for key in ("call_sign", "type", "status")}
                for u in payload["units"]
                if isinstance(u, dict)
            ][:20]
        if event_type == "hotline112.incident_closed":
            item.state = "closed"
            item.closed_at = dt.datetime.now(dt.UTC)
        await self._changed(item, alert=created and item.emergency)
        return item

    def _describe(self, item: BoardItem, payload: dict[str, Any]) -> None:
        if payload.get("summary") is not None:
            item.title = str(payload["summary"])[:200]
        if payload.get("priority") in PRIORITIES:
            item.priority = payload["priority"]
        if "emergency" in payload:
            item.emergency = bool(payload["emergency"])
        item.rank = rank(item.priority or "normal", item.emergency)
        for key in ("category_id", "agency_id", "kecamatan", "kecamatan_code", "lat", "lon"):
            if key in payload:
                setattr(item, key, payload[key])

    async def _item_for(self, kind: str, source_id: int) -> tuple[BoardItem, bool]:
        """The source's item, locked; made first if missing. Two consumers of one complaint's
        events run at once: the insert that loses waits for the winner's row instead of failing."""
        made = await self.session.scalar(
            pg_insert(BoardItem)
            .values(kind=kind, source_id=source_id, state="new", version=0, forwarded_to=[], source_seq=0)
            .on_conflict_do_nothing(index_elements=["kind", "source_id"])
            .returning(BoardItem.id)
        )
        item = await self.session.scalar(
            select(BoardItem)
            .where(BoardItem.kind == kind, BoardItem.source_id == source_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert item is not None
        return item, made is not None

    # ---- what operators do ---------------------------------------------------------------------

    async def _load(self, item_id: int) -> BoardItem:
        item = await self.session.scalar(
            select(BoardItem)
            .where(BoardItem.id == item_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if item is None:
            raise BoardError(404, "not_found", "item_id", id=item_id)
        return item

    async def _holder_name(self, employee_id: int | None) -> str | None:
        if employee_id is None:
            return None
        return await self.session.scalar(select(Employee.name).where(Employee.id == employee_id))

    async def _require_hold(self, item: BoardItem, who: Operator) -> None:
        """The operator holds the item's claim, or takes it when nobody does."""
        if item.claimed_by is None or self._claim_expired(item):
            item.claimed_by, item.claimed_at = who.id, dt.datetime.now(dt.UTC)
        elif item.claimed_by != who.id and not who.supervisor:
            raise BoardError(
                409,
                "claimed_by_other",
                "item_id",
                by=item.claimed_by,
                by_name=await self._holder_name(item.claimed_by),
                since=_iso(item.claimed_at),
            )

    @staticmethod
    def _claim_expired(item: BoardItem) -> bool:
        at = item.claimed_at
        return at is not None and dt.datetime.now(dt.UTC) - at > dt.timedelta(minutes=CLAIM_MINUTES)

    def _require_open(self, item: BoardItem, allowed: Sequence[str] = ACTION_STATES) -> None:
        if item.state not in allowed:
            raise BoardError(409, f"state_{item.state}", "state", state=item.state)

    async def claim(self, who: Operator, item_id: int) -> BoardItem:
        item = await self._load(item_id)
        self._require_open(item, (*ACTION_STATES, "routed"))
        if item.claimed_by == who.id:
            return item
        await self._require_hold(item, who)
        item.claimed_by, item.claimed_at = who.id, dt.datetime.now(dt.UTC)
        if item.state in ("new", "routed"):
            item.state = "claimed"
        self._note(item, who, "claimed", "")
        await self._changed(item)
        return item

    async def release(self, who: Operator, item_id: int) -> BoardItem:
        item = await self._load(item_id)
        if item.claimed_by is None:
            return item
        if item.claimed_by != who.id and not who.supervisor:
            raise BoardError(409, "claimed_by_other", "item_id", by=item.claimed_by)
        item.claimed_by = item.claimed_at = None
        if item.state == "claimed":
            item.state = "new"
        self._note(item, who, "released", "")
        await self._changed(item)
        return item

    async def classify(
        self,
        who: Operator,
        item_id: int,
        *,
        category_id: Any = None,
        priority: Any = None,
        emergency: Any = None,
        note: Any = None,
    ) -> BoardItem:
        item = await self._load(item_id)
        self._require_open(item, (*ACTION_STATES, "routed"))
        await self._require_hold(item, who)
        if priority is not None and priority not in PRIORITIES:
            raise BoardError(422, "unknown", "priority", allowed=list(PRIORITIES))
        if category_id is not None and (not isinstance(category_id, int) or isinstance(category_id, bool)):
            raise BoardError(422, "not_an_id", "category_id")
        if emergency is not None and not isinstance(emergency, bool):
            raise BoardError(422, "not_a_boolean", "emergency")
        if category_id is None and priority is None and emergency is None:
            raise BoardError(422, "nothing_to_change", "priority")
        body = _text(note, "note")
        if priority is not None:
            item.priority = priority
        if emergency is not None:
            item.emergency = emergency
        if category_id is not None:
            item.category_id = category_id
        item.rank = rank(item.priority, item.emergency)
        self._triaged(item, who)
        if item.state in ("new", "routed"):
            item.state = "claimed"
        self._note(item, who, "classified", body)
        if item.kind == "complaint":
            publish(
                self.session,
                "liveroom.classify_requested",
                {
                    "item_id": item.id,
                    "complaint_id": item.source_id,
                    "category_id": category_id,
                    "priority": priority,
                    "emergency": emergency,
                    "note": body,
                    "operator": {"id": who.id, "name": who.name},
                },
            )
        await self._changed(item)
        return item

    async def forward(self, who: Operator, item_id: int, agency_ids: Any, note: Any = None) -> BoardItem:
        """Send the item to one agency (the first) with copies to the others."""
        ids = _id_list(agency_ids, "agency_ids")
        if not ids:
            raise BoardError(422, "required", "agency_ids")
        if len(ids) > MAX_FORWARD_AGENCIES:
            raise BoardError(422, "too_many", "agency_ids", most=MAX_FORWARD_AGENCIES)
        body = _text(note, "note")
        item = await self._load(item_id)
        if item.state == "forwarded" or (item.forwarded_at is not None and item.state in ("acknowledged",)):
            raise BoardError(
                409,
                "already_forwarded",
                "item_id",
                by=item.forwarded_by,
                by_name=await self._holder_name(item.forwarded_by),
                at=_iso(item.forwarded_at),
                to=list(item.forwarded_to or ()),
            )
        self._require_open(item, (*ACTION_STATES, "routed"))
        await self._require_hold(item, who)
        agencies = {a.id: a for a in await self.session.scalars(select(Agency).where(Agency.id.in_(ids)))}
        for n, agency_id in enumerate(ids):
            agency = agencies.get(agency_id)
            if agency is None:
                raise BoardError(422, "unknown", f"agency_ids[{n}]", id=agency_id)
            if not agency.active:
                raise BoardError(422, "agency_inactive", f"agency_ids[{n}]", id=agency_id, name=agency.name)
        now = dt.datetime.now(dt.UTC)
        item.state = "forwarded"
        item.forwarded_to = ids
        item.forwarded_by = who.id
        item.forwarded_at = now
        item.forward_note = body or None
        item.acknowledged_at = None
        item.last_error = None
        self._triaged(item, who)
        self._note(item, who, "forwarded", body)
        event = "liveroom.forward_requested"
        publish(
            self.session,
            event,
            {
                "item_id": item.id,
                "kind": item.kind,
                "source_id": item.source_id,
                "complaint_id": item.source_id if item.kind == "complaint" else None,
                "incident_id": item.source_id if item.kind == "incident" else None,
                "agency_id": ids[0],
                "copy_agency_ids": ids[1:],
                "note": body,
                "operator": {"id": who.id, "name": who.name},
            },
        )
        await self._changed(item)
        return item

    async def mark_duplicate(
        self, who: Operator, item_id: int, of_item_id: Any, note: Any = None
    ) -> BoardItem:
        if not isinstance(of_item_id, int) or isinstance(of_item_id, bool):
            raise BoardError(422, "not_an_id", "of_item_id")
        if of_item_id == item_id:
            raise BoardError(422, "same_item", "of_item_id")
        body = _text(note, "note")
        # Lock both in id order: two operators merging a pair both ways never deadlock.
        first, second = sorted((item_id, of_item_id))
        loaded = {first: await self._load(first), second: await self._load(second)}
        item, original = loaded[item_id], loaded[of_item_id]
        if original.kind != item.kind:
            raise BoardError(422, "other_kind", "of_item_id")
        if original.state in ("duplicate", "closed"):
            raise BoardError(409, f"state_{original.state}", "of_item_id", state=original.state)
        self._require_open(item, OPEN_BOARD_STATES)
        await self._require_hold(item, who)
        item.state = "duplicate"
        item.merged_into = original.id
        item.closed_at = dt.datetime.now(dt.UTC)
        self._triaged(item, who)
        self._note(item, who, "duplicate", body or f"#{original.id}")
        publish(
            self.session,
            "liveroom.duplicate_marked",
            {
                "item_id": item.id,
                "kind": item.kind,
                "source_id": item.source_id,
                "complaint_id": item.source_id if item.kind == "complaint" else None,
                "of_source_id": original.source_id,
                "of_complaint_id": original.source_id if item.kind == "complaint" else None,
                "note": body,
                "operator": {"id": who.id, "name": who.name},
            },
        )
        await self._changed(item)
        return item

    async def escalate(self, who: Operator, item_id: int, note: Any) -> BoardItem:
        body = _text(note, "note")
        if not body:
            raise BoardError(422, "required", "note")
        item = await self._load(item_id)
        if item.state == "escalated":
            raise BoardError(409, "state_escalated", "state", state=item.state, at=_iso(item.escalated_at))
        self._require_open(item, OPEN_BOARD_STATES)
        await self._require_hold(item, who)
        item.state = "escalated"
        item.escalated_at = dt.datetime.now(dt.UTC)
        item.escalation_note = body
        self._note(item, who, "escalated", body)
        publish(
            self.session,
            "liveroom.item_escalated",
            {
                "item_id": item.id,
                "kind": item.kind,
                "source_id": item.source_id,
                "title": item.title,
                "emergency": item.emergency,
                "note": body,
                "operator": {"id": who.id, "name": who.name},
            },
        )
        await self._changed(item, alert=True)
        return item

    async def add_note(self, who: Operator, item_id: int, body: Any) -> ItemNote:
        text = _text(body, "body")
        if not text:
            raise BoardError(422, "required", "body")
        item = await self._load(item_id)
        entry = self._note(item, who, "note", text)
        await self._changed(item)
        return entry

    def _note(self, item: BoardItem, who: Operator, action: str, body: str) -> ItemNote:
        entry = ItemNote(item_id=item.id, employee_id=who.id, action=action, body=body)
        self.session.add(entry)
        return entry

    @staticmethod
    def _triaged(item: BoardItem, who: Operator) -> None:
        if item.triaged_at is None:
            item.triaged_at = dt.datetime.now(dt.UTC)
            item.triaged_by = who.id


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BoardError(422, "not_text", field)
    value = value.strip()
    if len(value) > MAX_NOTE:
        raise BoardError(422, "too_long", field, most=MAX_NOTE)
    if "\x00" in value:
        raise BoardError(422, "invalid_characters", field)
    return value


def _id_list(value: Any, field: str) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise BoardError(422, "not_a_list", field)
    ids: list[int] = []
    for n, v in enumerate(value):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise BoardError(422, "not_an_id", f"{field}[{n}]")
        if v not in ids:
            ids.append(v)
    return ids
