"""What the city admin's pages share: the sections (hidden when their module is off for the city),
the page frame, and refusals shown next to the field (or, to an API client, as JSON)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler

from kotalive.admin.web import FormErrors, admin_page, lang_of
from kotalive.context import current_tenant, current_tenant_or_none
from kotalive.i18n import translate
from kotalive.web import NO_STORE

PREFIX = "/admin"


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # text admin.city.nav.<key>
    path: str
    module: str | None = None  # hidden (and its pages 404) when this module is off for the city


SECTIONS: tuple[Section, ...] = (
    Section("home", f"{PREFIX}/"),
    Section("agencies", f"{PREFIX}/agencies"),
    Section("categories", f"{PREFIX}/categories", "laksa"),
    Section("rules", f"{PREFIX}/rules", "laksa"),
    Section("sla", f"{PREFIX}/sla", "laksa"),
    Section("boundaries", f"{PREFIX}/boundaries", "laksa"),
    Section("employees", f"{PREFIX}/employees"),
    Section("liveroom", f"{PREFIX}/liveroom", "liveroom"),
    Section("hotline112", f"{PREFIX}/112", "hotline112"),
    Section("integrations", f"{PREFIX}/integrations"),
    Section("branding", f"{PREFIX}/branding"),
    Section("messages", f"{PREFIX}/messages"),
    Section("open311", f"{PREFIX}/open311", "laksa"),
    Section("audit", f"{PREFIX}/audit"),
)


def module_on(name: str) -> Any:
    """A guard: this section's module is switched on for the city, else the page does not exist."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        tenant = current_tenant_or_none()
        if tenant is None or not tenant.has_module(name):
            raise NotFoundException()

    guard.__name__ = f"admin_module_{name}"
    return guard


def has_module(name: str) -> bool:
    return current_tenant().has_module(name)


def visible_sections(request: Request) -> list[Section]:
    tenant = current_tenant()
    loaded = set(request.app.state.modules.names)
    out = []
    for s in SECTIONS:
        if s.module and (s.module not in loaded or not tenant.has_module(s.module)):
            continue
        out.append(s)
    return out


def city_page(
    request: Request,
    template: str,
    section: str,
    *,
    status: int = 200,
    errors: Mapping[str, list[str]] | None = None,
    form: Mapping[str, Any] | None = None,
    **context: Any,
) -> Response[str]:
    response = admin_page(
        request,
        template,
        status=status,
        errors=errors,
        form=form,
        sections=visible_sections(request),
        section=section,
        branding=getattr(request.state, "branding", None),
        **context,
    )
    response.headers.update(NO_STORE)
    return response


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def errors_json(errors: Mapping[str, list[str]], status: int = 422) -> Response[Any]:
    return Response(
        {
            "status_code": status,
            "error": "invalid_input",
            "errors": [{"field": f, "reason": r} for f, reasons in errors.items() for r in reasons],
        },
        status_code=status,
    )


def refused(
    request: Request,
    template: str,
    section: str,
    errors: Mapping[str, list[str]],
    form: Mapping[str, Any] | None = None,
    *,
    status: int = 422,
    **context: Any,
) -> Response[Any]:
    """A form that was refused: JSON ``{errors: [{field, reason}]}`` to an API client, else the
    same page again with each message next to its field and what was typed kept."""
    if wants_json(request):
        return errors_json(errors, status)
    alert = translate("admin.city.form_refused", lang_of(request))
    return city_page(
        request, template, section, status=status, errors=errors, form=form, alert=alert, **context
    )


def problems_to_errors(problems: Iterable[Any], text: Callable[[Any], str]) -> FormErrors:
    """Field -> messages from a service's problems (each with a ``field``); ``text`` words one.
    An index such as ``shifts[2].name`` stays in the field name, so the page can show it by row."""
    out = FormErrors()
    for p in problems:
        out.add(str(p.field), text(p))
    return out


def one_error(field: str, message: str) -> FormErrors:
    out = FormErrors()
    out.add(field, message)
    return out


def parse_int(value: Any) -> Any:
    """An integer from a form field; anything else is passed on as it is, so the service that
    checks the field refuses it with its own reason (None for an empty field)."""
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return value
