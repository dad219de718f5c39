"""Fixtures of the Live Room's shift, handover and measures tests: a provisioned city (the room's
default shifts seeded by provisioning) and board items written straight into its schema."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kotalive.modules.liveroom.domain import DEFAULT_SHIFTS, rank
from kotalive.modules.liveroom.models import BoardItem

_source_ids = itertools.count(700_000)


@pytest.fixture
async def shift_city(make_city):
    return await make_city("liveroom", region_code="3671", name="Kota Uji Live Room")


@pytest.fixture
def add_board_items(database) -> Callable[..., Awaitable[list[int]]]:
    """``await add_board_items(city, {field: value}, ...)``: BoardItem rows as the board would
    hold them (measure timestamps included); returns their ids."""

    async def add(city: Any, *rows: dict[str, Any]) -> list[int]:
        async with database.tenant_session(city) as session:
            items = []
            for fields in rows:
                values = {"kind": "complaint", "title": "Lampu jalan mati", "priority": "normal", **fields}
                values.setdefault("source_id", next(_source_ids))
                values.setdefault("rank", rank(values["priority"], bool(values.get("emergency"))))
                items.append(BoardItem(**values))
            session.add_all(items)
            await session.commit()
            return [i.id for i in items]

    return add


# The shift tests use the real clock (the API has no other). A test that straddles a shift change
# of the default shifts (07:00, 15:00, 23:00 WIB) would see the running shift change under it, so a
# test that would start in the last seconds before one waits until it has passed.
_GUARD_SECONDS = 45


@pytest.fixture(autouse=True)
async def _not_across_a_shift_change() -> None:
    now = dt.datetime.now(ZoneInfo("Asia/Jakarta"))
    for shift in DEFAULT_SHIFTS:
        change = now.replace(hour=shift.starts.hour, minute=shift.starts.minute, second=0, microsecond=0)
        if change < now:
            change += dt.timedelta(days=1)
        wait = (change - now).total_seconds()
        if wait < _GUARD_SECONDS:
            await asyncio.sleep(wait + 1)
