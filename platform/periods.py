"""Ranges of a city's days, as the measures pages take them (``?since=YYYY-MM-DD&until=...``).

Modules turn a ``DayRangeError``'s problems (field, code, params) into their own refusal, so the
texts stay the module's: codes ``date_format``, ``range_order`` and ``range_too_long`` (``max``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo


class DayRangeError(ValueError):
    def __init__(self, problems: list[tuple[str, str, dict[str, Any]]]) -> None:
        super().__init__(", ".join(f"{field}: {code}" for field, code, _ in problems))
        self.problems = problems


def day_range(
    since: Any, until: Any, today: dt.date, *, default_days: int = 7, max_days: int = 366
) -> tuple[dt.date, dt.date]:
    """Both days included; ``until`` defaults to ``today``, ``since`` to ``default_days`` before
    it. A moment (``2026-12-01T10:00``) counts as its day."""
    problems: list[tuple[str, str, dict[str, Any]]] = []

    def parse(value: Any, name: str) -> dt.date | None:
        if value in (None, ""):
            return None
        try:
            return dt.date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            problems.append((name, "date_format", {}))
            return None

    first, last = parse(since, "since"), parse(until, "until")
    if problems:
        raise DayRangeError(problems)
    last = last or today
    first = first or last - dt.timedelta(days=default_days - 1)
    if first > last:
        raise DayRangeError([("until", "range_order", {})])
    if (last - first).days + 1 > max_days:
        raise DayRangeError([("since", "range_too_long", {"max": max_days})])
    return first, last


def day_bounds(first: dt.date, last: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """From the start of ``first`` to the start of the day after ``last``, in the city's zone."""
    begins = dt.datetime.combine(first, dt.time(0), tzinfo=tz)
    ends = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return begins, ends
