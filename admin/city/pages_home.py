"""The dashboard: how far the city is configured, and what to do next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get
from sqlalchemy import func, select

from kotalive.admin.city.common import city_page, has_module
from kotalive.auth.models import Employee, RoleGrant
from kotalive.db import TenantSession, tenant_session
from kotalive.tenants.city_models import Agency, IntegrationSetting


@dataclass(frozen=True, slots=True)
class NextStep:
    key: str  # text admin.city.next.<key>
    path: str


async def _count(session: TenantSession, stmt: Any) -> int:
    return int(await session.scalar(stmt) or 0)


async def city_overview(session: TenantSession) -> tuple[dict[str, int], set[str], list[NextStep]]:
    """Counts of what the city has, the integrations it connected, and the steps still open."""
    counts = {
        "agencies": await _count(session, select(func.count()).select_from(Agency).where(Agency.active)),
        "employees": await _count(session, select(func.count()).select_from(Employee).where(Employee.active)),
    }
    integrations = set(
        (await session.scalars(select(IntegrationSetting.kind).where(IntegrationSetting.enabled))).all()
    )
    steps: list[NextStep] = []
    if counts["agencies"] == 0:
        steps.append(NextStep("agencies", "/admin/agencies"))
    if has_module("laksa"):
        from kotalive.modules.laksa.models import ApiKey, Area, Category, HashtagRule

        counts["categories"] = await _count(
            session, select(func.count()).select_from(Category).where(Category.active)
        )
        counts["rules"] = await _count(
            session, select(func.count()).select_from(HashtagRule).where(HashtagRule.active)
        )
        counts["kecamatan"] = await _count(
            session, select(func.count()).select_from(Area).where(Area.kind == "kecamatan")
        )
        counts["open311_keys"] = await _count(
            session, select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
        )
        if counts["kecamatan"] == 0:
            steps.append(NextStep("boundaries", "/admin/boundaries"))
        if counts["rules"] == 0:
            steps.append(NextStep("rules", "/admin/rules/new"))
    for kind in ("siak", "simpeg", "oidc"):
        if kind not in integrations:
            steps.append(NextStep(f"integration_{kind}", f"/admin/integrations/{kind}"))
    if "simpeg" in integrations and counts["employees"] == 0:
        steps.append(NextStep("sync", "/admin/employees"))
    admins = await _count(
        session, select(func.count()).select_from(RoleGrant).where(RoleGrant.role == "city_admin")
    )
    counts["city_admins"] = admins
    if has_module("liveroom"):
        counts["operators"] = await _count(
            session,
            select(func.count(func.distinct(RoleGrant.subject_id))).where(
                RoleGrant.subject_kind == "employee",
                RoleGrant.role.in_(("liveroom_operator", "liveroom_supervisor")),
            ),
        )
        if counts["operators"] == 0:
            steps.append(NextStep("operators", "/admin/employees"))
    if has_module("hotline112"):
        from kotalive.modules.hotline112.models import Unit

        counts["units"] = await _count(session, select(func.count()).select_from(Unit).where(Unit.active))
        if counts["units"] == 0:
            steps.append(NextStep("units", "/admin/112"))
    return counts, integrations, steps


@get("/", summary="The city admin's dashboard")
async def dashboard(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        counts, integrations, steps = await city_overview(session)
    return city_page(
        request, "admin/city/home.html", "home", counts=counts, integrations=integrations, steps=steps
    )


route_handlers = [dashboard]
