"""The shift log: what one shift hands to the next.

An operator on duty in the running shift writes its handover: notes, a snapshot of the board's
open items (as they are at that moment, so the next shift reads what was handed over even after
the board moved on) and counts of the shift's window (appeared, forwarded, closed, incidents).
Until it is acknowledged the handover may be written again (a fresh snapshot). An operator on duty
in a later shift acknowledges it, once: a second acknowledgement is refused (409) with who did it
and when. Writing and acknowledging are audited and go to the board's event log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import aliased

from kotalive.auth import audit
from kotalive.auth.models import Employee
from kotalive.db import TenantSession
from kotalive.modules.liveroom.domain import ACTION_STATES, OPEN_BOARD_STATES, shift_window
from kotalive.modules.liveroom.models import BoardEvent, BoardItem, Handover, Shift
from kotalive.modules.liveroom.shifts import (
    Problem,
    ShiftNow,
    ShiftRefusal,
    city_zone,
    invalid,
    open_duty,
    shift_at,
    utcnow,
)

NOTES_MAX = 10_000
ACK_NOTE_MAX = 2_000
SNAPSHOT_LIMIT = 2_000  # open items kept in one handover; the summary still counts them all
SNAPSHOT_FIELDS = ("id", "kind", "source_id", "title", "state", "priority", "emergency", "claimed_by")
LIST_LIMIT = 100


@dataclass(frozen=True, slots=True)
class HandoverView:
    id: int
    day: dt.date
    shift_id: int
    shift_code: str
    shift_name: str
    begins: dt.datetime
    ends: dt.datetime
    notes: str
    open_items: list[dict[str, Any]]
    summary: dict[str, Any]
    written_by: int | None
    written_by_name: str | None
    written_at: dt.datetime
    acknowledged_by: int | None
    acknowledged_by_name: str | None
    acknowledged_at: dt.datetime | None
    acknowledgement_note: str | None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


def _text(value: Any, field_name: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(Problem(field_name, "not_text"))
    if len(value) > limit:
        raise invalid(Problem(field_name, "too_long", {"max": limit}))
    return value.strip()


async def _running_duty(session: TenantSession, employee_id: int, now: dt.datetime) -> ShiftNow:
    """The running shift, when the operator is checked in to it; else 409."""
    running = await shift_at(session, now)
    duty = await open_duty(session, employee_id)
    if running is None or duty is None or (duty.shift_id, duty.day) != (running.shift.id, running.day):
        raise ShiftRefusal(409, "not_on_duty")
    return running


async def snapshot(session: TenantSession) -> list[dict[str, Any]]:
    """The board's open items now, emergencies and high priorities first."""
    rows = (
        await session.execute(
            select(*(getattr(BoardItem, name) for name in SNAPSHOT_FIELDS))
            .where(BoardItem.state.in_(OPEN_BOARD_STATES))
            .order_by(BoardItem.rank, BoardItem.id.desc())
            .limit(SNAPSHOT_LIMIT)
        )
    ).all()
    return [dict(zip(SNAPSHOT_FIELDS, row, strict=True)) for row in rows]


async def summary(session: TenantSession, begins: dt.datetime, ends: dt.datetime) -> dict[str, Any]:
    """Counts of the shift's window and of the board now, in one query."""

    def within(column: Any) -> Any:
        return (column >= begins) & (column < ends)

    is_open = BoardItem.state.in_(OPEN_BOARD_STATES)
    row = (
        await session.execute(
            select(
                func.count().filter(within(BoardItem.appeared_at)).label("appeared"),
                func.count().filter(within(BoardItem.forwarded_at)).label("forwarded"),
                func.count().filter(within(BoardItem.closed_at)).label("closed"),
                func.count()
                .filter(within(BoardItem.appeared_at), BoardItem.kind == "incident")
                .label("incidents"),
                func.count().filter(is_open).label("open"),
                func.count().filter(is_open, BoardItem.emergency).label("open_emergencies"),
                func.count().filter(is_open, BoardItem.kind == "incident").label("open_incidents"),
                func.count().filter(BoardItem.state.in_(ACTION_STATES)).label("needs_action"),
            ).where(
                or_(
                    is_open,
                    within(BoardItem.appeared_at),
                    within(BoardItem.forwarded_at),
                    within(BoardItem.closed_at),
                )
            )
        )
    ).one()
    counts = {key: int(value) for key, value in row._mapping.items()}
    return {**counts, "window": {"from": begins.isoformat(), "to": ends.isoformat()}}


async def write(
    session: TenantSession, employee_id: int, data: dict[str, Any], now: dt.datetime | None = None
) -> tuple[HandoverView, bool]:
    """Write (or write again, until acknowledged) the running shift's handover; (view, created)."""
    now = now or utcnow()
    notes = _text(data.get("notes"), "notes", NOTES_MAX)
    running = await _running_duty(session, employee_id, now)
    items = await snapshot(session)
    counts = await summary(session, running.begins, running.ends)
    counts["snapshot_truncated"] = counts["open"] > len(items)
    values = {
        "notes": notes,
        "open_items": items,
        "summary": counts,
        "written_by": employee_id,
        "written_at": now,
    }
    # One statement decides, race-free: a new handover, a rewrite of one not yet acknowledged, or
    # nothing (acknowledged meanwhile). ``xmax = 0`` tells an insert from an update.
    stmt: Any = (
        insert(Handover)
        .values(day=running.day, shift_id=running.shift.id, **values)
        .on_conflict_do_update(
            index_elements=["day", "shift_id"], set_=values, where=Handover.acknowledged_at.is_(None)
        )
        .returning(Handover.id, literal_column("(xmax = 0)").label("created"))
    )
    written = (await session.execute(stmt)).first()
    if written is None:
        existing = await session.scalar(
            select(Handover.id).where(Handover.day == running.day, Handover.shift_id == running.shift.id)
        )
        assert existing is not None
        raise await _already_acknowledged(session, existing)
    audit.record(
        session,
        "liveroom.handover.written",
        target_kind="liveroom_handover",
        target_id=written.id,
        detail={"shift": running.shift.code, "day": running.day.isoformat(), "open_items": len(items)},
    )
    session.add(BoardEvent(kind="handover", data={"action": "written", "handover_id": written.id}))
    await session.flush()
    view = await get(session, written.id)
    return view, bool(written.created)


async def _already_acknowledged(session: TenantSession, handover_id: int) -> ShiftRefusal:
    view = await get(session, handover_id)
    return ShiftRefusal(
        409,
        "already_acknowledged",
        handover_id=handover_id,
        acknowledged_by=view.acknowledged_by,
        acknowledged_by_name=view.acknowledged_by_name,
        acknowledged_at=view.acknowledged_at.isoformat() if view.acknowledged_at else None,
    )


async def acknowledge(
    session: TenantSession,
    handover_id: int,
    employee_id: int,
    data: dict[str, Any],
    now: dt.datetime | None = None,
) -> HandoverView:
    """An operator on duty in a later shift takes the handover over, once."""
    now = now or utcnow()
    note = _text(data.get("note"), "note", ACK_NOTE_MAX) or None
    row = await session.scalar(select(Handover).where(Handover.id == handover_id).with_for_update())
    if row is None:
        raise ShiftRefusal(404, "handover", id=handover_id)
    if row.acknowledged_at is not None:
        raise await _already_acknowledged(session, handover_id)
    if row.written_by == employee_id:
        raise ShiftRefusal(409, "own_handover")
    running = await _running_duty(session, employee_id, now)
    shift = await session.get(Shift, row.shift_id)
    assert shift is not None
    handed_ends = shift_window(row.day, shift.starts, shift.hours, city_zone(session))[1]
    if running.begins < handed_ends:
        raise ShiftRefusal(409, "not_next_shift", shift=shift.name)
    row.acknowledged_by, row.acknowledged_at, row.acknowledgement_note = employee_id, now, note
    await session.flush()
    audit.record(
        session, "liveroom.handover.acknowledged", target_kind="liveroom_handover", target_id=handover_id
    )
    session.add(BoardEvent(kind="handover", data={"action": "acknowledged", "handover_id": handover_id}))
    return await get(session, handover_id)


# ---- reading ------------------------------------------------------------------------------------------


def _views_query() -> Any:
    writer, acker = aliased(Employee), aliased(Employee)
    return (
        select(
            Handover,
            Shift.code,
            Shift.name,
            Shift.starts,
            Shift.hours,
            writer.name.label("writer"),
            acker.name.label("acker"),
        )
        .join(Shift, Shift.id == Handover.shift_id)
        .outerjoin(writer, writer.id == Handover.written_by)
        .outerjoin(acker, acker.id == Handover.acknowledged_by)
    )


def _view(session: TenantSession, row: Any) -> HandoverView:
    h: Handover = row[0]
    begins, ends = shift_window(h.day, row.starts, row.hours, city_zone(session))
    return HandoverView(
        id=h.id,
        day=h.day,
        shift_id=h.shift_id,
        shift_code=row.code,
        shift_name=row.name,
        begins=begins,
        ends=ends,
        notes=h.notes,
        open_items=list(h.open_items or []),
        summary=dict(h.summary or {}),
        written_by=h.written_by,
        written_by_name=row.writer,
        written_at=h.written_at,
        acknowledged_by=h.acknowledged_by,
        acknowledged_by_name=row.acker,
        acknowledged_at=h.acknowledged_at,
        acknowledgement_note=h.acknowledgement_note,
    )


async def get(session: TenantSession, handover_id: int) -> HandoverView:
    row = (await session.execute(_views_query().where(Handover.id == handover_id))).first()
    if row is None:
        raise ShiftRefusal(404, "handover", id=handover_id)
    return _view(session, row)


async def find(session: TenantSession, day: dt.date, shift_id: int) -> HandoverView | None:
    row = (
        await session.execute(_views_query().where(Handover.day == day, Handover.shift_id == shift_id))
    ).first()
    return _view(session, row) if row is not None else None


async def recent(
    session: TenantSession,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 30,
    before_id: int | None = None,
) -> list[HandoverView]:
    """Newest first; ``since``/``until`` are days of the city (both included)."""
    query = _views_query()
    if since is not None:
        query = query.where(Handover.day >= since)
    if until is not None:
        query = query.where(Handover.day <= until)
    if before_id is not None:
        query = query.where(Handover.id < before_id)
    query = query.order_by(Handover.day.desc(), Shift.starts.desc(), Handover.id.desc())
    rows = (await session.execute(query.limit(max(1, min(limit, LIST_LIMIT * 50))))).all()
    return [_view(session, r) for r in rows]


@dataclass(frozen=True, slots=True)
class CurrentHandovers:
    running: ShiftNow | None
    this_shift: HandoverView | None  # the running shift's own (being written)
    previous_shift: ShiftNow | None
    previous: HandoverView | None  # what the shift before handed to this one


async def current(session: TenantSession, now: dt.datetime | None = None) -> CurrentHandovers:
    now = now or utcnow()
    running = await shift_at(session, now)
    if running is None:
        return CurrentHandovers(None, None, None, None)
    before = await shift_at(session, running.begins - dt.timedelta(minutes=1))
    this_shift = await find(session, running.day, running.shift.id)
    previous = await find(session, before.day, before.shift.id) if before is not None else None
    return CurrentHandovers(running, this_shift, before, previous)


def as_dict(view: HandoverView, tz: dt.tzinfo) -> dict[str, Any]:
    """The JSON shape of a handover (moments in the city's zone)."""

    def local(moment: dt.datetime | None) -> str | None:
        return moment.astimezone(tz).isoformat() if moment is not None else None

    return {
        "id": view.id,
        "day": view.day.isoformat(),
        "shift": {"id": view.shift_id, "code": view.shift_code, "name": view.shift_name},
        "window": {"from": local(view.begins), "to": local(view.ends)},
        "notes": view.notes,
        "open_items": view.open_items,
        "summary": view.summary,
        "written_by": {"id": view.written_by, "name": view.written_by_name},
        "written_at": local(view.written_at),
        "acknowledged": view.acknowledged,
        "acknowledged_by": (
            {"id": view.acknowledged_by, "name": view.acknowledged_by_name} if view.acknowledged else None
        ),
        "acknowledged_at": local(view.acknowledged_at),
        "acknowledgement_note": view.acknowledgement_note,
    }


CSV_COLUMNS = (
    "id",
    "day",
    "shift",
    "window_from",
    "window_to",
    "written_by",
    "written_at",
    "acknowledged_by",
    "acknowledged_at",
    "appeared",
    "forwarded",
    "closed",
    "incidents",
    "open",
    "open_emergencies",
    "notes",
    "acknowledgement_note",
    "open_item_ids",
)


def csv_row(view: HandoverView, tz: dt.tzinfo) -> list[Any]:
    def local(moment: dt.datetime | None) -> str:
        return moment.astimezone(tz).isoformat() if moment is not None else ""

    s = view.summary
    return [
        view.id,
        view.day.isoformat(),
        view.shift_name,
        local(view.begins),
        local(view.ends),
        view.written_by_name or "",
        local(view.written_at),
        view.acknowledged_by_name or "",
        local(view.acknowledged_at),
        s.get("appeared", 0),
        s.get("forwarded", 0),
        s.get("closed", 0),
        s.get("incidents", 0),
        s.get("open", 0),
        s.get("open_emergencies", 0),
        view.notes,
        view.acknowledgement_note or "",
        " ".join(str(i.get("id")) for i in view.open_items),
    ]
