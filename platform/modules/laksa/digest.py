"""The agency supervisors' daily summary: open complaints, at risk and overdue, per agency."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select

from kotalive.db import TenantSession
from kotalive.modules.laksa.domain import OPEN_STATES, LaksaConfig
from kotalive.modules.laksa.messages import DIGEST
from kotalive.modules.laksa.models import Complaint
from kotalive.modules.laksa.subscribers import supervisors
from kotalive.notify import send
from kotalive.tenants.city_models import Agency


async def send_digests(session: TenantSession, *, now: dt.datetime | None = None) -> int:
    """One digest per agency with open complaints and supervisors, once a local day; returns how
    many agencies got theirs now."""
    tenant = session.tenant
    now = now or dt.datetime.now(dt.UTC)
    local = now.astimezone(ZoneInfo(tenant.timezone))
    config = LaksaConfig.of(tenant.module_config.get("laksa"))
    if local.hour < config.digest_hour:
        return 0
    c = Complaint.__table__.c
    rows = (
        await session.execute(
            select(
                c.agency_id,
                func.count().label("open"),
                func.count().filter(and_(c.at_risk_at <= now, c.due_at > now)).label("at_risk"),
                func.count().filter(c.due_at <= now).label("breached"),
            )
            .where(c.state.in_(OPEN_STATES), c.agency_id.is_not(None))
            .group_by(c.agency_id)
        )
    ).all()
    sent = 0
    for row in rows:
        people = await supervisors(session, row.agency_id)
        agency = await session.get(Agency, row.agency_id)
        if not people or agency is None:
            continue
        result = await send(
            session,
            DIGEST,
            people,
            {"agency_name": agency.name, "open": row.open, "at_risk": row.at_risk, "breached": row.breached},
            source=f"digest:{local.date().isoformat()}:{row.agency_id}",
        )
        sent += 1 if result.notifications or result.deliveries else 0
    return sent
