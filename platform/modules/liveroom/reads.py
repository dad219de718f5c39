"""What the board reads: open items in the board's order with filters and keyset paging (fast at
10,000 open items: one index range scan), one item with its notes, and the board's log after a
given event (a reconnecting screen's catch-up)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select

from kotalive.db import TenantSession
from kotalive.modules.liveroom.domain import (
    ACTION_STATES,
    BOARD_STATES,
    ITEM_KINDS,
    OPEN_BOARD_STATES,
    PROGRESS_STATES,
    SLA_STATES,
    BoardError,
)
from kotalive.modules.liveroom.models import BoardEvent, BoardItem, ItemNote

MAX_PAGE = 200
REPLAY_LIMIT = 500  # events a reconnecting screen catches up; further behind, it reloads

VIEWS = {"action": ACTION_STATES, "progress": PROGRESS_STATES, "open": OPEN_BOARD_STATES}


@dataclass(frozen=True, slots=True)
class BoardFilter:
    view: str = "open"  # action | progress | open | all
    states: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    agency_id: int | None = None
    kecamatan_code: str | None = None
    sla: str | None = None
    emergency: bool | None = None

    def check(self) -> None:
        if self.view not in (*VIEWS, "all"):
            raise BoardError(422, "unknown", "view", allowed=[*VIEWS, "all"])
        for s in self.states:
            if s not in BOARD_STATES:
                raise BoardError(422, "unknown", "state", allowed=list(BOARD_STATES))
        for k in self.kinds:
            if k not in ITEM_KINDS:
                raise BoardError(422, "unknown", "kind", allowed=list(ITEM_KINDS))
        if self.sla is not None and self.sla not in SLA_STATES:
            raise BoardError(422, "unknown", "sla", allowed=list(SLA_STATES))


def encode_cursor(item: BoardItem) -> str:
    return f"{item.rank}.{item.id}"


def decode_cursor(raw: str | None) -> tuple[int, int] | None:
    if not raw:
        return None
    try:
        r, i = raw.split(".", 1)
        return int(r), int(i)
    except ValueError:
        raise BoardError(422, "invalid", "cursor") from None


async def board(
    session: TenantSession, f: BoardFilter, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[BoardItem], str | None, dict[str, int]]:
    """A page of items, emergencies first, then priority, newest first; the next page's cursor;
    and counts of the open items by view (for the board's tabs)."""
    f.check()
    if not 1 <= limit <= MAX_PAGE:
        raise BoardError(422, "out_of_range", "limit", most=MAX_PAGE)
    after = decode_cursor(cursor)
    stmt = select(BoardItem)
    states: Sequence[str] = f.states or (VIEWS.get(f.view) or BOARD_STATES)
    if f.view != "all" or f.states:
        # Open views keep to the board index's predicate (state IN the open states) as a range.
        stmt = stmt.where(BoardItem.state.in_(list(states)))
        if set(states) <= set(OPEN_BOARD_STATES):
            stmt = stmt.where(BoardItem.state.in_(list(OPEN_BOARD_STATES)))
    if f.kinds:
        stmt = stmt.where(BoardItem.kind.in_(list(f.kinds)))
    if f.agency_id is not None:
        stmt = stmt.where(
            or_(BoardItem.agency_id == f.agency_id, BoardItem.forwarded_to.contains([f.agency_id]))
        )
    if f.kecamatan_code:
        stmt = stmt.where(BoardItem.kecamatan_code == f.kecamatan_code)
    if f.sla:
        stmt = stmt.where(BoardItem.sla == f.sla)
    if f.emergency is not None:
        stmt = stmt.where(BoardItem.emergency.is_(f.emergency))
    if after is not None:
        r, i = after
        # The redundant ``rank >= r`` lets the index scan start at the cursor's rank instead of
        # reading and discarding every earlier row (deep pages stay as cheap as the first).
        stmt = stmt.where(
            BoardItem.rank >= r, or_(BoardItem.rank > r, and_(BoardItem.rank == r, BoardItem.id < i))
        )
    rows = list(await session.scalars(stmt.order_by(BoardItem.rank, BoardItem.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor, await counts(session)


async def counts(session: TenantSession) -> dict[str, int]:
    rows = await session.execute(
        select(BoardItem.state, func.count())
        .where(BoardItem.state.in_(list(OPEN_BOARD_STATES)))
        .group_by(BoardItem.state)
    )
    by_state = {s: int(n) for s, n in rows}
    emergencies = await session.scalar(
        select(func.count())
        .select_from(BoardItem)
        .where(BoardItem.state.in_(list(ACTION_STATES)), BoardItem.emergency.is_(True))
    )
    return {
        **{view: sum(by_state.get(s, 0) for s in states) for view, states in VIEWS.items()},
        "emergency": int(emergencies or 0),
        **{f"state_{s}": n for s, n in by_state.items()},
    }


async def item(session: TenantSession, item_id: int) -> tuple[BoardItem, list[ItemNote]]:
    found = await session.get(BoardItem, item_id)
    if found is None:
        raise BoardError(404, "not_found", "item_id", id=item_id)
    notes = list(
        await session.scalars(select(ItemNote).where(ItemNote.item_id == item_id).order_by(ItemNote.id))
    )
    return found, notes


async def by_source(session: TenantSession, kind: str, source_id: int) -> BoardItem | None:
    return await session.scalar(
        select(BoardItem).where(BoardItem.kind == kind, BoardItem.source_id == source_id)
    )


async def replay(session: TenantSession, after: int) -> tuple[list[BoardEvent], bool]:
    """The board's events after ``after``, oldest first; True when there were more than a screen
    catches up with (it should reload the board)."""
    rows = list(
        await session.scalars(
            select(BoardEvent).where(BoardEvent.id > after).order_by(BoardEvent.id).limit(REPLAY_LIMIT + 1)
        )
    )
    return rows[:REPLAY_LIMIT], len(rows) > REPLAY_LIMIT


async def last_event_id(session: TenantSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(BoardEvent.id), 0))) or 0)
