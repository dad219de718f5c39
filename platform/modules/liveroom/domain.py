"""The Live Room's words and rules, free of the database: item kinds and states, how a complaint's
or incident's event moves its board item, the order of the board, and the default shifts.

States of a board item:
- ``new``: needs the room (an untagged complaint in triage, an emergency, an SLA breach escalated
  to the room, a 112 incident); ``claimed``: an operator works it (nobody else may);
- ``routed``: a rule sent it to an agency, the room only watches; ``forwarded``: the room sent it,
  waiting for the agency; ``acknowledged``: the agency took it (in progress counts here too);
- ``escalated``: the operator asked the supervisor; ``duplicate``: merged into another item;
- ``closed``: resolved, closed or rejected by its owner (off the board).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

ITEM_KINDS = ("complaint", "incident")
BOARD_STATES = (
    "new",
    "claimed",
    "routed",
    "forwarded",
    "acknowledged",
    "escalated",
    "duplicate",
    "closed",
)
OPEN_BOARD_STATES = ("new", "claimed", "routed", "forwarded", "acknowledged", "escalated")
ACTION_STATES = ("new", "claimed", "escalated")  # the room must act
PROGRESS_STATES = ("forwarded", "acknowledged")  # the room waits for an agency
PRIORITIES = ("low", "normal", "high", "emergency")
PRIORITY_RANK = {"emergency": 0, "high": 1, "normal": 2, "low": 3}
SLA_STATES = ("ok", "at_risk", "breached")

# 112 priorities P1-P4 on the board's scale.
INCIDENT_PRIORITY = {"P1": "emergency", "P2": "high", "P3": "normal", "P4": "low"}

# Laksa states -> the board state an item takes when its complaint reaches them (None: unchanged).
COMPLAINT_STATES: dict[str, str | None] = {
    "submitted": None,
    "triage": "new",
    "forwarded": None,  # routed by a rule, or forwarded by the room: decided by who did it
    "acknowledged": "acknowledged",
    "in_progress": "acknowledged",
    "reopened": "acknowledged",
    "resolved": "closed",
    "closed": "closed",
    "rejected": "closed",
    "duplicate": "duplicate",
}

CLAIM_MINUTES = 30  # a claim nobody touched for this long may be taken over


def rank(priority: str, emergency: bool) -> int:
    return 0 if emergency else PRIORITY_RANK.get(priority, 2)


class BoardError(Exception):
    """A request the board cannot honour: ``status`` 404/409/422, a field and a reason."""

    def __init__(self, status: int, reason: str, field: str | None = None, **detail: object) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ShiftDef:
    code: str
    name: str
    starts: dt.time
    hours: int


DEFAULT_SHIFTS = (
    ShiftDef("pagi", "Shift Pagi", dt.time(7, 0), 8),
    ShiftDef("siang", "Shift Siang", dt.time(15, 0), 8),
    ShiftDef("malam", "Shift Malam", dt.time(23, 0), 8),
)


def shift_window(day: dt.date, starts: dt.time, hours: int, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The shift of ``day`` from its start for ``hours``, in the city's zone (may end the next day)."""
    begin = dt.datetime.combine(day, starts, tzinfo=tz)
    return begin, begin + dt.timedelta(hours=hours)


def current_shift(
    shifts: list[tuple[int, dt.time, int]], now: dt.datetime, tz: dt.tzinfo
) -> tuple[int, dt.date] | None:
    """(shift id, the day it started) of the shift ``now`` falls in; ``shifts``: (id, starts, hours)."""
    local = now.astimezone(tz)
    for day in (local.date(), local.date() - dt.timedelta(days=1)):
        for shift_id, starts, hours in shifts:
            begin, end = shift_window(day, starts, hours, tz)
            if begin <= local < end:
                return shift_id, day
    return None
