"""Fixtures of the Live Room's shift, handover and measures tests: a provisioned city (the room's
default shifts seeded by provisioning) and board items written straight into its schema."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kotalive.modules.liveroom.domain import rank
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
