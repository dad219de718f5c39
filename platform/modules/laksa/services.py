"""Laksa use cases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from kotalive.db import TenantSession
from kotalive.modules.laksa.domain import DEFAULT_RULES
from kotalive.modules.laksa.models import HashtagRule
from kotalive.tenants.city_models import Agency


async def seed_city_defaults(session: TenantSession) -> None:
    """Default hashtag rules for a new city; re-running adds nothing twice."""
    agencies = {code: id_ for code, id_ in (await session.execute(select(Agency.code, Agency.id))).all()}
    rows = [
        {
            "code": r.code,
            "hashtags": list(r.hashtags),
            "agency_id": agencies[r.agency_code],
            "category_code": r.category_code,
            "priority": r.priority,
            "sla_hours": r.sla_hours,
            "precedence": r.precedence,
        }
        for r in DEFAULT_RULES
        if r.agency_code in agencies
    ]
    if rows:
        await session.execute(
            insert(HashtagRule).values(rows).on_conflict_do_nothing(index_elements=["code"])
        )


async def list_rules(session: TenantSession) -> list[HashtagRule]:
    result = await session.scalars(
        select(HashtagRule).where(HashtagRule.active).order_by(HashtagRule.precedence, HashtagRule.id)
    )
    return list(result)
