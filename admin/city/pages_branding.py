"""Branding: the admin's form (name, colours, logo), and the two public answers every city page
uses, ``/branding.css`` and ``/branding/logo``."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException

from kotalive.admin.city import branding as service
from kotalive.admin.city.agencies import AdminInputError
from kotalive.admin.city.common import city_page, problems_to_errors, refused, wants_json
from kotalive.admin.web import audit, lang_of, redirect
from kotalive.db import tenant_session
from kotalive.i18n import translate
from kotalive.web import city_only

TEMPLATE = "admin/city/branding.html"


def _form(row: Any) -> dict[str, str]:
    return {
        "display_name": (row.display_name or "") if row else "",
        "primary_colour": row.primary_colour if row else service.DEFAULT_PRIMARY,
        "accent_colour": row.accent_colour if row else service.DEFAULT_ACCENT,
    }


@get("/branding", summary="The city's branding: name, colours, logo")
async def branding_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        row = await service.load(session)
    return city_page(
        request,
        TEMPLATE,
        "branding",
        form=_form(row),
        has_logo=bool(row and row.logo),
        version=row.version if row else 0,
    )


@post(
    "/branding",
    summary="Change the city's branding",
    request_max_body_size=service.MAX_LOGO_BYTES + 256 * 1024,
)
async def save_branding(request: Request) -> Response[Any]:
    form = await request.form()
    data = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    upload = form.get("logo")
    logo = await upload.read() if isinstance(upload, UploadFile) else None
    lang = lang_of(request)
    async with tenant_session() as session:
        try:
            row = await service.save(
                session, data, logo=logo or None, remove_logo=data.get("remove_logo") == "on"
            )
        except AdminInputError as exc:
            current = await service.load(session)
            errors = problems_to_errors(exc.problems, lambda p: translate(p.key, lang, **p.params))
            return refused(
                request,
                TEMPLATE,
                "branding",
                errors,
                data,
                has_logo=bool(current and current.logo),
                version=current.version if current else 0,
            )
        audit(
            session,
            request,
            "admin.branding.changed",
            target_kind="branding",
            detail={
                "display_name": row.display_name,
                "primary_colour": row.primary_colour,
                "accent_colour": row.accent_colour,
                "logo": "new" if logo else ("removed" if data.get("remove_logo") == "on" else "kept"),
            },
        )
        await session.commit()
    if wants_json(request):
        return Response({"status": "saved"})
    return redirect("/admin/branding", "admin.city.notice.branding_saved")


# ---- what every page of the city reads -----------------------------------------------------------


@get(
    "/branding.css",
    summary="The city's colours and logo over the platform's stylesheet",
    opt={"public": True},
)
async def branding_css() -> Response[str]:
    async with tenant_session() as session:
        found = await service.current(session)
    return Response(
        found.css,
        media_type="text/css",
        headers={"cache-control": f"public, max-age={int(service.CACHE_SECONDS)}"},
    )


@get("/branding/logo", summary="The city's logo (PNG)", opt={"public": True})
async def branding_logo() -> Response[bytes]:
    async with tenant_session() as session:
        row = await service.load(session)
    if row is None or not row.logo:
        raise NotFoundException()
    # The link carries the version (?v=), so a new logo is a new address: cache it long.
    return Response(
        row.logo,
        media_type=row.logo_type or "image/png",
        headers={"cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"},
    )


admin_handlers = [branding_page, save_branding]
public_router = Router(
    path="/", route_handlers=[branding_css, branding_logo], guards=[city_only], include_in_schema=False
)
