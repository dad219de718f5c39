"""The room's measures over a range of days: time to triage (appeared -> triaged), to forward
(appeared -> forwarded) and to the agency's acknowledgement (forwarded -> acknowledged), each as
count, median and 90th percentile, for the whole room, per shift and per operator.

One query computes all of it in PostgreSQL (``percentile_cont`` over ``GROUPING SETS``), so a year
of items is never pulled into Python. An item counts in the range and in the shift in which it
*appeared* (the city's days and the shifts as they are configured now); triage belongs to the
operator who triaged it, forwarding and the agency's acknowledgement to the one who forwarded it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from kotalive.auth.models import Employee
from kotalive.db import TenantSession
from kotalive.modules.liveroom.shifts import Problem, city_zone, invalid, list_shifts, utcnow
from kotalive.periods import DayRangeError, day_bounds, day_range

MEASURES = ("triage", "forward", "acknowledge")
DEFAULT_DAYS = 7
MAX_DAYS = 366

_SQL = """
WITH items AS (
    SELECT i.appeared_at, i.triaged_at, i.triaged_by, i.forwarded_at, i.forwarded_by, i.acknowledged_at,
           (SELECT s.id FROM {city}.liveroom_shift s
             WHERE s.active
               AND mod(extract(epoch FROM (i.appeared_at AT TIME ZONE :tz)::time)
                       - extract(epoch FROM s.starts) + 86400, 86400) < s.hours * 3600
             ORDER BY s.position, s.id LIMIT 1) AS shift_id
      FROM {city}.liveroom_item i
     WHERE i.appeared_at >= :since AND i.appeared_at < :until
),
spans AS (
    SELECT 'triage' AS measure, shift_id, triaged_by AS operator_id,
           greatest(extract(epoch FROM triaged_at - appeared_at), 0) AS secs
      FROM items WHERE triaged_at IS NOT NULL
    UNION ALL
    SELECT 'forward', shift_id, forwarded_by, greatest(extract(epoch FROM forwarded_at - appeared_at), 0)
      FROM items WHERE forwarded_at IS NOT NULL
    UNION ALL
    SELECT 'acknowledge', shift_id, forwarded_by,
           greatest(extract(epoch FROM acknowledged_at - forwarded_at), 0)
      FROM items WHERE acknowledged_at IS NOT NULL AND forwarded_at IS NOT NULL
)
SELECT measure, shift_id, operator_id, GROUPING(shift_id, operator_id) AS level, count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) AS median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY secs) AS p90
  FROM spans
 GROUP BY GROUPING SETS ((measure), (measure, shift_id), (measure, operator_id))
"""
# GROUPING(shift_id, operator_id): 3 the whole room, 1 per shift, 2 per operator.
_ROOM, _PER_SHIFT, _PER_OPERATOR = 3, 1, 2


@dataclass(frozen=True, slots=True)
class Figure:
    count: int = 0
    median_seconds: float | None = None
    p90_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "median_seconds": self.median_seconds, "p90_seconds": self.p90_seconds}


def _empty() -> dict[str, Figure]:
    return {m: Figure() for m in MEASURES}


@dataclass(slots=True)
class Group:
    key: int | None  # shift or employee id; None: items outside any shift / nobody recorded
    name: str | None
    figures: dict[str, Figure] = field(default_factory=_empty)


@dataclass(slots=True)
class Measures:
    since: dt.date
    until: dt.date
    timezone: str
    room: dict[str, Figure]
    shifts: list[Group]
    operators: list[Group]


def date_range(since: Any, until: Any, today: dt.date) -> tuple[dt.date, dt.date]:
    """Both days included; ``until`` defaults to today, ``since`` to a week before it."""
    try:
        return day_range(since, until, today, default_days=DEFAULT_DAYS, max_days=MAX_DAYS)
    except DayRangeError as exc:
        raise invalid(*(Problem(field, code, params) for field, code, params in exc.problems)) from None


async def measure(session: TenantSession, since: Any = None, until: Any = None) -> Measures:
    tz = city_zone(session)
    first, last = date_range(since, until, utcnow().astimezone(tz).date())
    begins, ends = day_bounds(first, last, tz)
    rows = (
        await session.execute_sql(_SQL, {"tz": session.tenant.timezone, "since": begins, "until": ends})
    ).all()
    shifts = await list_shifts(session)
    room = _empty()
    per_shift: dict[int | None, Group] = {s.id: Group(s.id, s.name) for s in shifts}
    per_operator: dict[int | None, Group] = {}
    for r in rows:
        figure = Figure(
            int(r.n),
            None if r.median is None else round(float(r.median), 1),
            None if r.p90 is None else round(float(r.p90), 1),
        )
        if r.level == _ROOM:
            room[r.measure] = figure
        elif r.level == _PER_SHIFT:
            per_shift.setdefault(r.shift_id, Group(r.shift_id, None)).figures[r.measure] = figure
        elif r.level == _PER_OPERATOR:
            per_operator.setdefault(r.operator_id, Group(r.operator_id, None)).figures[r.measure] = figure
    ids = [k for k in per_operator if k is not None]
    if ids:
        names = dict(
            (await session.execute(select(Employee.id, Employee.name).where(Employee.id.in_(ids)))).all()
        )
        for key, group in per_operator.items():
            group.name = names.get(key) if key is not None else None
    operators = sorted(
        per_operator.values(), key=lambda g: (g.key is None, (g.name or "").casefold(), g.key or 0)
    )
    return Measures(first, last, session.tenant.timezone, room, list(per_shift.values()), operators)


def as_dict(m: Measures) -> dict[str, Any]:
    def group(g: Group) -> dict[str, Any]:
        return {"id": g.key, "name": g.name, **{k: f.as_dict() for k, f in g.figures.items()}}

    return {
        "since": m.since.isoformat(),
        "until": m.until.isoformat(),
        "timezone": m.timezone,
        "room": {k: f.as_dict() for k, f in m.room.items()},
        "shifts": [group(g) for g in m.shifts],
        "operators": [group(g) for g in m.operators],
    }


CSV_COLUMNS = ("level", "id", "name", "measure", "count", "median_seconds", "p90_seconds", "since", "until")


def csv_rows(m: Measures) -> list[list[Any]]:
    out: list[list[Any]] = []
    span = [m.since.isoformat(), m.until.isoformat()]

    def add(level: str, key: int | None, name: str | None, figures: dict[str, Figure]) -> None:
        for measure_name in MEASURES:
            f = figures[measure_name]
            out.append([level, key, name, measure_name, f.count, f.median_seconds, f.p90_seconds, *span])

    add("room", None, None, m.room)
    for g in m.shifts:
        add("shift", g.key, g.name, g.figures)
    for g in m.operators:
        add("operator", g.key, g.name, g.figures)
    return out
