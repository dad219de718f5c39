"""Agencies: the list, a new one, changing one (with the Laksa categories it handles), switching one
off and on, and importing the default catalogue."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from sqlalchemy import func, select

from kotalive.admin.city import agencies as service
from kotalive.admin.city.common import city_page, has_module, problems_to_errors, refused, wants_json
from kotalive.admin.web import audit, form_data, form_lists, lang_of, redirect
from kotalive.db import TenantSession, tenant_session
from kotalive.i18n import translate
from kotalive.tenants.city_models import AGENCY_KINDS, Agency

TEMPLATE_LIST = "admin/city/agencies.html"
TEMPLATE_FORM = "admin/city/agency_form.html"


def _form_of(agency: Agency | None) -> dict[str, Any]:
    if agency is None:
        return {"kind": "dinas"}
    contact = agency.contact or {}
    return {
        "code": agency.code,
        "name": agency.name,
        "abbreviation": agency.abbreviation,
        "kind": agency.kind,
        "parent_id": agency.parent_id or "",
        **{f"contact_{k}": contact.get(k, "") for k in service.CONTACT_FIELDS},
    }


async def _categories(session: TenantSession) -> list[Any]:
    if not has_module("laksa"):
        return []
    from kotalive.modules.laksa import configuration as laksa_config

    return await laksa_config.list_categories(session, include_inactive=True)


async def _form_context(session: TenantSession, agency: Agency | None) -> dict[str, Any]:
    agencies = await service.list_agencies(session)
    return {
        "agency": agency,
        "by_id": {a.id: a for a in agencies},
        "parents": [
            (a.id, f"{a.abbreviation} — {a.name}") for a in agencies if agency is None or a.id != agency.id
        ],
        "kinds": AGENCY_KINDS,
        "categories": await _categories(session),
    }


async def _set_categories(session: TenantSession, agency_id: int, wanted: set[str]) -> list[str]:
    """The Laksa categories this agency handles become ``wanted`` (through Laksa's own service, so
    its caches and checks apply); returns the codes that changed."""
    if not has_module("laksa"):
        return []
    from kotalive.modules.laksa import configuration as laksa_config

    changed = []
    for category in await laksa_config.list_categories(session, include_inactive=True):
        if category.code in wanted and category.agency_id != agency_id:
            await laksa_config.save_category(session, {"agency_id": agency_id}, code=category.code)
            changed.append(category.code)
        elif category.code not in wanted and category.agency_id == agency_id:
            await laksa_config.save_category(session, {"agency_id": None}, code=category.code)
            changed.append(category.code)
    return changed


@get("/agencies", summary="The city's agencies")
async def agencies_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        rows = await service.list_agencies(session)
        handled: dict[int, int] = {}
        if has_module("laksa"):
            from kotalive.modules.laksa.models import Category

            counted = await session.execute(
                select(Category.agency_id, func.count())
                .where(Category.agency_id.is_not(None))
                .group_by(Category.agency_id)
            )
            handled = {int(agency): int(n) for agency, n in counted.all() if agency is not None}
    by_id = {a.id: a for a in rows}
    return city_page(request, TEMPLATE_LIST, "agencies", agencies=rows, by_id=by_id, handled=handled)


@get("/agencies/new", summary="Form: a new agency")
async def new_agency_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _form_context(session, None)
    return city_page(request, TEMPLATE_FORM, "agencies", form=_form_of(None), handled_codes=[], **ctx)


async def _save(request: Request, agency_id: int | None) -> Response[Any]:
    data = await form_data(request)
    wanted = set((await form_lists(request, "categories"))["categories"])
    lang = lang_of(request)
    async with tenant_session() as session:
        try:
            agency = await service.save_agency(session, data, agency_id=agency_id)
        except service.AgencyNotFound:
            raise NotFoundException() from None
        except service.AdminInputError as exc:
            ctx = await _form_context(
                session, await session.get(Agency, agency_id) if agency_id is not None else None
            )
            errors = problems_to_errors(exc.problems, lambda p: translate(p.key, lang, **p.params))
            return refused(
                request, TEMPLATE_FORM, "agencies", errors, data, handled_codes=sorted(wanted), **ctx
            )
        changed = await _set_categories(session, agency.id, wanted) if "categories_sent" in data else []
        audit(
            session,
            request,
            "admin.agency.created" if agency_id is None else "admin.agency.changed",
            target_kind="agency",
            target_id=agency.id,
            detail={"code": agency.code, "categories_changed": changed},
        )
        await session.commit()
        new_id = agency.id
    if wants_json(request):
        return Response({"id": new_id, "code": agency.code}, status_code=201 if agency_id is None else 200)
    return redirect(f"/admin/agencies/{new_id}", "admin.city.notice.agency_saved")


@post("/agencies", summary="Create an agency")
async def create_agency(request: Request) -> Response[Any]:
    return await _save(request, None)


@get("/agencies/{agency_id:int}", summary="Form: change an agency")
async def agency_page(agency_id: FromPath[int], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        agency = await session.get(Agency, agency_id)
        if agency is None:
            raise NotFoundException()
        ctx = await _form_context(session, agency)
    handled_codes = [c.code for c in ctx["categories"] if c.agency_id == agency_id]
    return city_page(
        request, TEMPLATE_FORM, "agencies", form=_form_of(agency), handled_codes=handled_codes, **ctx
    )


@post("/agencies/{agency_id:int}", summary="Change an agency")
async def change_agency(agency_id: FromPath[int], request: Request) -> Response[Any]:
    return await _save(request, agency_id)


async def _switch(request: Request, agency_id: int, active: bool) -> Response[Any]:
    async with tenant_session() as session:
        try:
            agency = await service.set_active(session, agency_id, active)
        except service.AgencyNotFound:
            raise NotFoundException() from None
        audit(
            session,
            request,
            "admin.agency.activated" if active else "admin.agency.deactivated",
            target_kind="agency",
            target_id=agency_id,
            detail={"code": agency.code},
        )
        await session.commit()
    if has_module("laksa"):
        from kotalive.modules.laksa import configuration as laksa_config

        laksa_config.forget_city(session.tenant.schema)  # rules of a switched-off agency stop routing
    if wants_json(request):
        return Response({"id": agency_id, "active": active})
    return redirect(
        f"/admin/agencies/{agency_id}",
        "admin.city.notice.agency_activated" if active else "admin.city.notice.agency_deactivated",
    )


@post("/agencies/{agency_id:int}/deactivate", summary="Switch an agency off")
async def deactivate_agency(agency_id: FromPath[int], request: Request) -> Response[Any]:
    return await _switch(request, agency_id, False)


@post("/agencies/{agency_id:int}/activate", summary="Switch an agency on again")
async def activate_agency(agency_id: FromPath[int], request: Request) -> Response[Any]:
    return await _switch(request, agency_id, True)


@post("/agencies/import", summary="Import the default agency catalogue")
async def import_agencies(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        added = await service.import_catalogue(session)
        audit(session, request, "admin.agency.imported", target_kind="agency", detail={"added": added})
        await session.commit()
    if wants_json(request):
        return Response({"added": added})
    return redirect("/admin/agencies", "admin.city.notice.catalogue_imported")


route_handlers = [
    agencies_page,
    new_agency_page,
    create_agency,
    agency_page,
    change_agency,
    deactivate_agency,
    activate_agency,
    import_agencies,
]
