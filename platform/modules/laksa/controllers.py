"""Laksa JSON API (thin: parse, call a service, shape the answer)."""

from __future__ import annotations

import msgspec
from litestar import Router, get

from kotalive.db import tenant_session
from kotalive.modules.laksa import services


class RuleOut(msgspec.Struct):
    id: int
    code: str
    hashtags: list[str]
    agency_id: int
    category_code: str | None
    priority: str
    sla_hours: int
    precedence: int


@get(
    "/rules",
    summary="Hashtag routing rules of this city (public: citizens see where a tag goes)",
    opt={"public": True},
)
async def list_rules() -> list[RuleOut]:
    async with tenant_session() as session:
        rules = await services.list_rules(session)
    return [
        RuleOut(
            r.id,
            r.code,
            list(r.hashtags),
            r.agency_id,
            r.category_code,
            r.priority,
            r.sla_hours,
            r.precedence,
        )
        for r in rules
    ]


route_handlers = [Router(path="/api/v1/laksa", route_handlers=[list_rules], tags=["laksa"])]
