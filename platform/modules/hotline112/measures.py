"""The 112 measures of NFPA 1225 over a range of the city's days:

- answer time: the call offered -> answered (target: answered within 10 s);
- call processing time: answered -> the first dispatch of the call's incident (target: 60 s);
  a call answered after its incident's first dispatch (a second caller about the same fire) did not
  lead to that dispatch and is left out;
- turnout time: a unit assigned -> en route; travel time: en route -> on scene.

Each as count, median and 90th percentile (seconds) and, where NFPA 1225 sets a target, the share
of calls within it; for the whole centre, per shift and per call-taker (the employee known to have
answered, else the telephony agent/extension). Calls count in the range and the shift in which they
were offered, assignments in which they were made. The shifts are the centre's usual three, in the
city's own time: 07-15, 15-23 and 23-07.

One query computes it all in PostgreSQL (``percentile_cont`` over ``GROUPING SETS``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from kotalive.auth.models import Employee
from kotalive.db import TenantSession
from kotalive.modules.hotline112.units import Problem, invalid, utcnow
from kotalive.periods import DayRangeError, day_bounds, day_range

MEASURES = ("answer", "processing", "turnout", "travel")
CALL_MEASURES = ("answer", "processing")  # the ones a call-taker is measured by
TARGET_SECONDS: dict[str, int] = {"answer": 10, "processing": 60}
DEFAULT_DAYS = 7
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class ShiftDef:
    code: str
    starts: int  # hour of the day, city time
    ends: int


SHIFTS = (ShiftDef("pagi", 7, 15), ShiftDef("siang", 15, 23), ShiftDef("malam", 23, 7))


def shift_of(moment: dt.datetime, tz: ZoneInfo) -> str:
    hour = moment.astimezone(tz).hour
    for s in SHIFTS:
        if (s.starts <= hour < s.ends) if s.starts < s.ends else (hour >= s.starts or hour < s.ends):
            return s.code
    raise AssertionError("the shifts cover the day")


def _shift_case(column: str) -> str:
    hour = f"extract(hour FROM ({column} AT TIME ZONE :tz))"
    parts = []
    for s in SHIFTS:
        if s.starts < s.ends:
            parts.append(f"WHEN {hour} >= {s.starts} AND {hour} < {s.ends} THEN '{s.code}'")
        else:
            parts.append(f"WHEN {hour} >= {s.starts} OR {hour} < {s.ends} THEN '{s.code}'")
    return "CASE " + " ".join(parts) + " END"


# Only the shift constants are formatted in; every value is a bound parameter.
_SQL = f"""
WITH calls AS (
    SELECT c.offered_at, c.answered_at, c.calltaker_id, c.agent, i.first_dispatch_at,
           {_shift_case("c.offered_at")} AS shift,
           CASE WHEN c.calltaker_id IS NOT NULL THEN 'e' || c.calltaker_id
                WHEN c.agent IS NOT NULL THEN 'a' || c.agent END AS who
      FROM {{city}}.h112_call c LEFT JOIN {{city}}.h112_incident i ON i.id = c.incident_id
     WHERE c.offered_at >= :since AND c.offered_at < :until
),
units AS (
    SELECT a.assigned_at, a.en_route_at, a.on_scene_at, {_shift_case("a.assigned_at")} AS shift
      FROM {{city}}.h112_assignment a
     WHERE a.assigned_at >= :since AND a.assigned_at < :until
),
spans AS (
    SELECT 'answer' AS measure, shift, who,
           greatest(extract(epoch FROM answered_at - offered_at), 0) AS secs
      FROM calls WHERE answered_at IS NOT NULL
    UNION ALL
    SELECT 'processing', shift, who, extract(epoch FROM first_dispatch_at - answered_at)
      FROM calls WHERE answered_at IS NOT NULL AND first_dispatch_at >= answered_at
    UNION ALL
    SELECT 'turnout', shift, NULL, greatest(extract(epoch FROM en_route_at - assigned_at), 0)
      FROM units WHERE en_route_at IS NOT NULL
    UNION ALL
    SELECT 'travel', shift, NULL, greatest(extract(epoch FROM on_scene_at - en_route_at), 0)
      FROM units WHERE on_scene_at IS NOT NULL AND en_route_at IS NOT NULL
)
SELECT measure, shift, who, GROUPING(shift, who) AS level, count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) AS median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY secs) AS p90,
       avg(CASE measure WHEN 'answer' THEN (secs <= :answer_target)::int
                        WHEN 'processing' THEN (secs <= :processing_target)::int END) AS within
  FROM spans
 GROUP BY GROUPING SETS ((measure), (measure, shift), (measure, who))
"""  # noqa: S608
# GROUPING(shift, who): 3 the whole centre, 1 per shift, 2 per call-taker.
_ALL, _PER_SHIFT, _PER_CALLTAKER = 3, 1, 2


@dataclass(frozen=True, slots=True)
class Figure:
    measure: str
    count: int = 0
    median_seconds: float | None = None
    p90_seconds: float | None = None
    within_target: float | None = None  # share 0..1 of those within the target, if the measure has one

    @property
    def target_seconds(self) -> int | None:
        return TARGET_SECONDS.get(self.measure)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "median_seconds": self.median_seconds,
            "p90_seconds": self.p90_seconds,
            "target_seconds": self.target_seconds,
            "within_target": self.within_target,
        }


def _empty(names: tuple[str, ...] = MEASURES) -> dict[str, Figure]:
    return {m: Figure(m) for m in names}


@dataclass(slots=True)
class Group:
    key: str | None  # the shift code; "e<id>" an employee, "a<agent>" an extension; None: unknown
    name: str | None
    figures: dict[str, Figure] = field(default_factory=_empty)

    @property
    def employee_id(self) -> int | None:
        return int(self.key[1:]) if self.key and self.key.startswith("e") else None

    @property
    def agent(self) -> str | None:
        return self.key[1:] if self.key and self.key.startswith("a") else None


@dataclass(slots=True)
class Measures:
    since: dt.date
    until: dt.date
    timezone: str
    overall: dict[str, Figure]
    shifts: list[Group]
    calltakers: list[Group]


def date_range(since: Any, until: Any, today: dt.date) -> tuple[dt.date, dt.date]:
    """Both days included; ``until`` defaults to today, ``since`` to a week before it."""
    try:
        return day_range(since, until, today, default_days=DEFAULT_DAYS, max_days=MAX_DAYS)
    except DayRangeError as exc:
        raise invalid(*(Problem(field, code, params) for field, code, params in exc.problems)) from None


def _round(value: Any, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


async def measure(session: TenantSession, since: Any = None, until: Any = None) -> Measures:
    tz = ZoneInfo(session.tenant.timezone)
    first, last = date_range(since, until, utcnow().astimezone(tz).date())
    begins, ends = day_bounds(first, last, tz)
    rows = (
        await session.execute_sql(
            _SQL,
            {
                "tz": session.tenant.timezone,
                "since": begins,
                "until": ends,
                "answer_target": TARGET_SECONDS["answer"],
                "processing_target": TARGET_SECONDS["processing"],
            },
        )
    ).all()
    overall = _empty()
    per_shift: dict[str | None, Group] = {s.code: Group(s.code, None) for s in SHIFTS}
    per_calltaker: dict[str | None, Group] = {}
    for r in rows:
        figure = Figure(r.measure, int(r.n), _round(r.median), _round(r.p90), _round(r.within, 4))
        if r.level == _ALL:
            overall[r.measure] = figure
        elif r.level == _PER_SHIFT:
            per_shift.setdefault(r.shift, Group(r.shift, None)).figures[r.measure] = figure
        elif r.level == _PER_CALLTAKER and r.measure in CALL_MEASURES:
            group = per_calltaker.setdefault(r.who, Group(r.who, None, _empty(CALL_MEASURES)))
            group.figures[r.measure] = figure
    ids = [g.employee_id for g in per_calltaker.values() if g.employee_id is not None]
    names: dict[int, str] = {}
    if ids:
        names = dict(
            (await session.execute(select(Employee.id, Employee.name).where(Employee.id.in_(ids)))).all()
        )
    for group in per_calltaker.values():
        if group.employee_id is not None:
            group.name = names.get(group.employee_id) or f"#{group.employee_id}"
        elif group.agent is not None:
            group.name = group.agent
    calltakers = sorted(
        per_calltaker.values(),
        key=lambda g: (g.key is None, g.employee_id is None, (g.name or "").casefold()),
    )
    return Measures(first, last, session.tenant.timezone, overall, list(per_shift.values()), calltakers)


def shift_name(code: str | None, lang: str) -> str:
    from kotalive.i18n import translate

    if code is None:
        return "-"
    s = next(s for s in SHIFTS if s.code == code)
    return translate(f"h112.measures.shift.{code}", lang, starts=f"{s.starts:02d}", ends=f"{s.ends:02d}")


def as_dict(m: Measures, lang: str = "id") -> dict[str, Any]:
    def figures(g: Group) -> dict[str, Any]:
        return {k: f.as_dict() for k, f in g.figures.items()}

    return {
        "since": m.since.isoformat(),
        "until": m.until.isoformat(),
        "timezone": m.timezone,
        "targets": dict(TARGET_SECONDS),
        "overall": {k: f.as_dict() for k, f in m.overall.items()},
        "shifts": [{"code": g.key, "name": shift_name(g.key, lang), **figures(g)} for g in m.shifts],
        "calltakers": [
            {"employee_id": g.employee_id, "agent": g.agent, "name": g.name, **figures(g)}
            for g in m.calltakers
        ],
    }


CSV_COLUMNS = (
    "level",
    "key",
    "name",
    "measure",
    "count",
    "median_seconds",
    "p90_seconds",
    "target_seconds",
    "within_target",
    "since",
    "until",
)


def csv_rows(m: Measures, lang: str = "id") -> list[list[Any]]:
    out: list[list[Any]] = []
    span = [m.since.isoformat(), m.until.isoformat()]

    def add(level: str, key: str | None, name: str | None, figures: dict[str, Figure]) -> None:
        for f in figures.values():
            out.append(
                [level, key, name, f.measure, f.count, f.median_seconds, f.p90_seconds, f.target_seconds,
                 f.within_target, *span]
            )  # fmt: skip

    add("overall", None, None, m.overall)
    for g in m.shifts:
        add("shift", g.key, shift_name(g.key, lang), g.figures)
    for g in m.calltakers:
        add("calltaker", g.key, g.name, g.figures)
    return out
