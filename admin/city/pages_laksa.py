"""Laksa's configuration pages: categories (Open311 services with their attributes), hashtag rules
with the "test a complaint text" box, SLA policies with the working-hours calendar and holidays,
the kecamatan/kelurahan boundaries, and Open311 partner keys.

Every rule stays in Laksa's own services (``kotalive.modules.laksa.configuration``) and routing
(``domain.route``): these pages turn form fields into the values those services take, and their
refusals into messages next to the fields.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from sqlalchemy import select

from kotalive.admin.city.common import (
    city_page,
    module_on,
    one_error,
    parse_int,
    problems_to_errors,
    refused,
    wants_json,
)
from kotalive.admin.web import FormErrors, audit, form_data, form_lists, lang_of, redirect
from kotalive.context import current_tenant
from kotalive.db import TenantSession, tenant_session
from kotalive.i18n import translate
from kotalive.modules.laksa import configuration as config
from kotalive.modules.laksa.domain import (
    PRIORITIES,
    InputErrors,
    LaksaConfig,
    NotFound,
    Routing,
    extract_hashtags,
    route,
)
from kotalive.modules.laksa.models import ApiKey, Area, Category, HashtagRule, Holiday
from kotalive.modules.laksa.web import problem_text
from kotalive.tenants.city_models import Agency
from kotalive.web import NO_STORE

LAKSA = [module_on("laksa")]
MAX_BOUNDARY_BYTES = 20 * 1024 * 1024
ATTRIBUTE_ROWS_EXTRA = 2
WEEKDAYS = tuple(range(1, 8))


def _laksa_errors(exc: InputErrors, lang: str) -> FormErrors:
    def text(p: Any) -> str:
        if p.field == "agency_id" and p.params.get("id") in (None, -1):
            return translate("laksa.error.agency_id.invalid", lang)  # none chosen, not an unknown one
        return problem_text(p, lang)

    return problems_to_errors(exc.problems, text)


async def _agency_options(session: TenantSession) -> list[tuple[int, str]]:
    rows = await session.scalars(select(Agency).where(Agency.active).order_by(Agency.abbreviation))
    return [(a.id, f"{a.abbreviation} — {a.name}") for a in rows]


async def _kecamatan(session: TenantSession) -> list[Area]:
    return list(await session.scalars(select(Area).where(Area.kind == "kecamatan").order_by(Area.name)))


def _checked(data: dict[str, str], name: str) -> bool:
    return data.get(name, "") not in ("", "0", "false", "off")


# ---- categories ----------------------------------------------------------------------------------


def _attribute_rows(attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [
        {
            "code": a.get("code", ""),
            "description": a.get("description", ""),
            "datatype": a.get("datatype", "string"),
            "required": bool(a.get("required")),
            "values": "\n".join(f"{v['key']}: {v['name']}" for v in a.get("values") or []),
        }
        for a in attributes
    ]
    return rows + [
        {"code": "", "description": "", "datatype": "string", "required": False, "values": ""}
        for _ in range(ATTRIBUTE_ROWS_EXTRA)
    ]


def _category_form(category: Category | None) -> dict[str, Any]:
    if category is None:
        return {"priority": "normal", "active": "on"}
    return {
        "code": category.code,
        "name": category.name,
        "name_en": category.name_en or "",
        "description": category.description or "",
        "group_name": category.group_name or "",
        "agency_id": category.agency_id or "",
        "priority": category.priority,
        "emergency": "on" if category.emergency else "",
        "sensitive": "on" if category.sensitive else "",
        "active": "on" if category.active else "",
        "keywords": ", ".join(category.keywords or []),
    }


async def _attributes_sent(request: Request) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(attributes for Laksa's service, the rows as typed): a row without code and description is
    an unused blank row and left out."""
    lists = await form_lists(
        request, "attr_code", "attr_description", "attr_datatype", "attr_values", "attr_required"
    )
    required = set(lists["attr_required"])
    out: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for i, code in enumerate(lists["attr_code"]):
        description = lists["attr_description"][i] if i < len(lists["attr_description"]) else ""
        datatype = lists["attr_datatype"][i] if i < len(lists["attr_datatype"]) else "string"
        values_text = lists["attr_values"][i] if i < len(lists["attr_values"]) else ""
        if not code and not description:
            continue
        values = []
        for line in values_text.splitlines():
            key, _, name = line.partition(":")
            if key.strip():
                values.append({"key": key.strip(), "name": name.strip() or key.strip()})
        row = {
            "code": code,
            "description": description,
            "datatype": datatype,
            "required": str(i) in required,
            "values": values_text,
        }
        rows.append(row)
        out.append({**row, "values": values, "order": len(out) + 1})
    return out, rows


async def _category_context(session: TenantSession) -> dict[str, Any]:
    return {
        "agency_options": await _agency_options(session),
        "priorities": PRIORITIES,
        "datatypes": config.DATATYPES,
    }


@get("/categories", guards=LAKSA, summary="Complaint categories (Open311 services)")
async def categories_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        categories = await config.list_categories(session, include_inactive=True)
        agencies = {a.id: a for a in await session.scalars(select(Agency))}
    return city_page(
        request, "admin/city/categories.html", "categories", categories=categories, agencies=agencies
    )


@get("/categories/new", guards=LAKSA, summary="Form: a new category")
async def new_category_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _category_context(session)
    return city_page(
        request,
        "admin/city/category_form.html",
        "categories",
        form=_category_form(None),
        category=None,
        attribute_rows=_attribute_rows([]),
        **ctx,
    )


@get("/categories/{code:str}", guards=LAKSA, summary="Form: change a category")
async def category_page(code: FromPath[str], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        category = await session.scalar(select(Category).where(Category.code == code))
        if category is None:
            raise NotFoundException()
        ctx = await _category_context(session)
    return city_page(
        request,
        "admin/city/category_form.html",
        "categories",
        form=_category_form(category),
        category=category,
        attribute_rows=_attribute_rows(list(category.attributes or [])),
        **ctx,
    )


async def _save_category(request: Request, code: str | None) -> Response[Any]:
    data = await form_data(request)
    attributes, rows = await _attributes_sent(request)
    fields: dict[str, Any] = {
        "name": data.get("name", ""),
        "name_en": data.get("name_en") or None,
        "description": data.get("description") or None,
        "group_name": data.get("group_name") or None,
        "agency_id": parse_int(data.get("agency_id")),
        "priority": data.get("priority") or "normal",
        "emergency": _checked(data, "emergency"),
        "sensitive": _checked(data, "sensitive"),
        "active": _checked(data, "active"),
        "keywords": [k.strip() for k in re.split(r"[,\n]", data.get("keywords", "")) if k.strip()],
        "attributes": attributes,
    }
    if code is None:
        fields["code"] = data.get("code", "")
    lang = lang_of(request)
    async with tenant_session() as session:
        existing = await session.scalar(select(Category).where(Category.code == code)) if code else None
        if code is not None and existing is None:
            raise NotFoundException()
        if not isinstance(fields["agency_id"], int | None):
            fields["agency_id"] = -1  # not a number: Laksa refuses it as an unknown agency
        try:
            category = await config.save_category(session, fields, code=code)
        except InputErrors as exc:
            ctx = await _category_context(session)
            return refused(
                request,
                "admin/city/category_form.html",
                "categories",
                _laksa_errors(exc, lang),
                data,
                category=existing,
                attribute_rows=rows + _attribute_rows([]),
                **ctx,
            )
        audit(
            session,
            request,
            "admin.category.created" if code is None else "admin.category.changed",
            target_kind="category",
            target_id=category.code,
        )
        await session.commit()
        saved = category.code
    if wants_json(request):
        return Response({"code": saved}, status_code=201 if code is None else 200)
    return redirect(f"/admin/categories/{saved}", "admin.city.notice.category_saved")


@post("/categories", guards=LAKSA, summary="Create a category")
async def create_category(request: Request) -> Response[Any]:
    return await _save_category(request, None)


@post("/categories/{code:str}", guards=LAKSA, summary="Change a category")
async def change_category(code: FromPath[str], request: Request) -> Response[Any]:
    return await _save_category(request, code)


# ---- hashtag rules and the test box --------------------------------------------------------------


def split_hashtags(text: str) -> list[str]:
    """``#lampumati, pju lampu_jalan`` -> ``["lampumati", "pju", "lampu_jalan"]`` (Laksa's service
    normalises and checks each)."""
    return [t.lstrip("#") for t in re.split(r"[\s,;]+", text or "") if t.strip("#")]


def _rule_form(rule: HashtagRule | None) -> dict[str, Any]:
    if rule is None:
        return {"priority": "normal", "sla_hours": "72", "precedence": "100", "active": "on"}
    return {
        "code": rule.code,
        "hashtags": " ".join(f"#{t}" for t in rule.hashtags),
        "agency_id": rule.agency_id,
        "category_code": rule.category_code or "",
        "priority": rule.priority,
        "sla_hours": str(rule.sla_hours),
        "precedence": str(rule.precedence),
        "active": "on" if rule.active else "",
        "description": rule.description or "",
    }


async def _rule_context(session: TenantSession) -> dict[str, Any]:
    categories = await config.list_categories(session, include_inactive=True)
    return {
        "agency_options": await _agency_options(session),
        "category_options": [(c.code, c.name) for c in categories],
        "kecamatan": await _kecamatan(session),
        "priorities": PRIORITIES,
    }


async def explain(
    session: TenantSession, description: str, kecamatan_code: str | None, category_code: str | None
) -> dict[str, Any]:
    """Which rule a complaint text would match and why, by Laksa's own routing (nothing stored)."""
    categories = await config.category_views(session)
    category = categories.get(category_code) if category_code else None
    tags = extract_hashtags(description)
    decision: Routing = route(
        tags, kecamatan_code or None, await config.rule_views(session), category, categories
    )
    agency = await session.get(Agency, decision.agency_id) if decision.agency_id is not None else None
    copies = [a for a in [await session.get(Agency, i) for i in decision.copy_agency_ids] if a is not None]
    return {
        "hashtags": tags,
        "decision": decision,
        "agency": agency,
        "copies": copies,
        "category": category,
    }


@get("/rules", guards=LAKSA, summary="Hashtag rules and the test box")
async def rules_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        rules = await config.list_rules(session, include_inactive=True)
        agencies = {a.id: a for a in await session.scalars(select(Agency))}
        ctx = await _rule_context(session)
    return city_page(
        request, "admin/city/rules.html", "rules", rules=rules, agencies=agencies, test=None, **ctx
    )


@post("/rules/test", guards=LAKSA, summary="Test a complaint text against the rules (nothing is stored)")
async def test_rules(request: Request) -> Response[Any]:
    data = await form_data(request)
    description = data.get("description", "")[:4000]
    lang = lang_of(request)
    async with tenant_session() as session:
        category_code = data.get("category_code") or None
        if category_code and category_code not in await config.category_views(session):
            errors = one_error(
                "category_code", translate("laksa.error.category.unknown", lang, code=category_code[:64])
            )
            if wants_json(request):
                from kotalive.admin.city.common import errors_json

                return errors_json(errors)
            category_code = None
        result = await explain(session, description, data.get("kecamatan_code"), category_code)
        if wants_json(request):
            d = result["decision"]
            return Response(
                {
                    "hashtags": result["hashtags"],
                    "agency": {"id": result["agency"].id, "abbreviation": result["agency"].abbreviation}
                    if result["agency"]
                    else None,
                    **d.explanation(),
                }
            )
        if request.headers.get("hx-request"):
            return city_page(request, "admin/city/_rule_test.html", "rules", test=result, test_form=data)
        rules = await config.list_rules(session, include_inactive=True)
        agencies = {a.id: a for a in await session.scalars(select(Agency))}
        ctx = await _rule_context(session)
    return city_page(
        request,
        "admin/city/rules.html",
        "rules",
        rules=rules,
        agencies=agencies,
        test=result,
        test_form=data,
        **ctx,
    )


@get("/rules/new", guards=LAKSA, summary="Form: a new hashtag rule")
async def new_rule_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _rule_context(session)
    return city_page(
        request,
        "admin/city/rule_form.html",
        "rules",
        form=_rule_form(None),
        rule=None,
        copies=[],
        kecamatan_codes=[],
        **ctx,
    )


@get("/rules/{rule_id:int}", guards=LAKSA, summary="Form: change a hashtag rule")
async def rule_page(rule_id: FromPath[int], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        rule = await session.get(HashtagRule, rule_id)
        if rule is None:
            raise NotFoundException()
        ctx = await _rule_context(session)
    return city_page(
        request,
        "admin/city/rule_form.html",
        "rules",
        form=_rule_form(rule),
        rule=rule,
        copies=list(rule.copy_agency_ids or []),
        kecamatan_codes=list(rule.kecamatan_codes or []),
        **ctx,
    )


async def _save_rule(request: Request, rule_id: int | None) -> Response[Any]:
    data = await form_data(request)
    lists = await form_lists(request, "copy_agency_ids", "kecamatan_codes")
    copies = [parse_int(v) for v in lists["copy_agency_ids"] if v]
    fields: dict[str, Any] = {
        "code": data.get("code", ""),
        "hashtags": split_hashtags(data.get("hashtags", "")),
        "agency_id": parse_int(data.get("agency_id")),
        "copy_agency_ids": copies,
        "category_code": data.get("category_code") or None,
        "priority": data.get("priority") or "normal",
        "sla_hours": parse_int(data.get("sla_hours")),
        "precedence": parse_int(data.get("precedence")),
        "kecamatan_codes": [k for k in lists["kecamatan_codes"] if k],
        "active": _checked(data, "active"),
        "description": data.get("description") or None,
    }
    if rule_id is not None and not fields["code"]:
        del fields["code"]
    for key in ("sla_hours", "precedence"):
        if fields[key] is None:
            del fields[key]  # the rule's own value, or Laksa's default
    lang = lang_of(request)
    async with tenant_session() as session:
        try:
            rule = await config.save_rule(session, fields, rule_id=rule_id)
        except NotFound:
            raise NotFoundException() from None
        except InputErrors as exc:
            ctx = await _rule_context(session)
            return refused(
                request,
                "admin/city/rule_form.html",
                "rules",
                _laksa_errors(exc, lang),
                data,
                rule=await session.get(HashtagRule, rule_id) if rule_id else None,
                copies=[c for c in copies if isinstance(c, int)],
                kecamatan_codes=fields["kecamatan_codes"],
                **ctx,
            )
        audit(
            session,
            request,
            "admin.rule.created" if rule_id is None else "admin.rule.changed",
            target_kind="hashtag_rule",
            target_id=rule.id,
            detail={"code": rule.code, "hashtags": list(rule.hashtags), "agency_id": rule.agency_id},
        )
        await session.commit()
        saved = rule.id
    if wants_json(request):
        return Response({"id": saved}, status_code=201 if rule_id is None else 200)
    return redirect(f"/admin/rules/{saved}", "admin.city.notice.rule_saved")


@post("/rules", guards=LAKSA, summary="Create a hashtag rule")
async def create_rule(request: Request) -> Response[Any]:
    return await _save_rule(request, None)


@post("/rules/{rule_id:int}", guards=LAKSA, summary="Change a hashtag rule")
async def change_rule(rule_id: FromPath[int], request: Request) -> Response[Any]:
    return await _save_rule(request, rule_id)


@post("/rules/{rule_id:int}/delete", guards=LAKSA, summary="Delete a hashtag rule")
async def delete_rule(rule_id: FromPath[int], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        try:
            await config.delete_rule(session, rule_id)
        except NotFound:
            raise NotFoundException() from None
        audit(session, request, "admin.rule.deleted", target_kind="hashtag_rule", target_id=rule_id)
        await session.commit()
    if wants_json(request):
        return Response({"status": "deleted"})
    return redirect("/admin/rules", "admin.city.notice.rule_deleted")


# ---- SLA policies, office hours, holidays --------------------------------------------------------


async def _sla_context(session: TenantSession) -> dict[str, Any]:
    config.forget_city(session.tenant.schema)
    sla = await config.sla_settings(session)
    holidays = list(await session.scalars(select(Holiday).order_by(Holiday.day)))
    return {
        "policies": sla.policies,
        "hours": sla.calendar.hours,
        "holidays": holidays,
        "timezone": sla.calendar.timezone,
        "priorities": PRIORITIES,
        "weekdays": WEEKDAYS,
    }


def _sla_form(ctx: dict[str, Any]) -> dict[str, Any]:
    form: dict[str, Any] = {}
    for priority, (hours, calendar, at_risk) in ctx["policies"].items():
        form[f"{priority}_hours"] = str(hours)
        form[f"{priority}_calendar"] = calendar
        form[f"{priority}_at_risk_percent"] = str(at_risk)
    for day in WEEKDAYS:
        span = ctx["hours"].get(day)
        form[f"opens_{day}"] = span[0].strftime("%H:%M") if span else ""
        form[f"closes_{day}"] = span[1].strftime("%H:%M") if span else ""
        form[f"open_{day}"] = "on" if span else ""
    return form


@get("/sla", guards=LAKSA, summary="SLA policies, office hours and holidays")
async def sla_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _sla_context(session)
    return city_page(request, "admin/city/sla.html", "sla", form=_sla_form(ctx), **ctx)


async def _sla_refused(
    request: Request, session: TenantSession, errors: FormErrors, sent: dict[str, str]
) -> Response[Any]:
    ctx = await _sla_context(session)
    return refused(request, "admin/city/sla.html", "sla", errors, {**_sla_form(ctx), **sent}, **ctx)


@post("/sla/policies/{priority:str}", guards=LAKSA, summary="Set the SLA policy of a priority")
async def set_policy(priority: FromPath[str], request: Request) -> Response[Any]:
    if priority not in PRIORITIES:
        raise NotFoundException()
    data = await form_data(request)
    # The page names each priority's fields ``<priority>_hours``...; an API client sends ``hours``.
    values = {
        k: data.get(f"{priority}_{k}", data.get(k, "")) for k in ("hours", "calendar", "at_risk_percent")
    }
    sent = {f"{priority}_{k}": v for k, v in values.items()}
    lang = lang_of(request)
    async with tenant_session() as session:
        try:
            await config.save_sla_policy(
                session,
                priority,
                parse_int(values["hours"]),
                values["calendar"] or "working",
                parse_int(values["at_risk_percent"]),
            )
        except InputErrors as exc:
            errors = FormErrors()
            for p in exc.problems:
                # Laksa's text of "hours" is the office hours'; a policy's hours are an SLA's.
                text = (
                    translate("laksa.error.sla_hours.invalid", lang)
                    if p.field == "hours"
                    else problem_text(p, lang)
                )
                errors.add(f"{priority}_{p.field}", text)
            return await _sla_refused(request, session, errors, sent)
        audit(session, request, "admin.sla.policy", target_kind="sla_policy", target_id=priority, detail=sent)
        await session.commit()
    if wants_json(request):
        return Response({"priority": priority})
    return redirect("/admin/sla", "admin.city.notice.sla_saved")


@post("/sla/hours", guards=LAKSA, summary="Set the office hours per weekday")
async def set_hours(request: Request) -> Response[Any]:
    data = await form_data(request)
    days: dict[str, Any] = {}
    sent: dict[str, str] = {}
    for day in WEEKDAYS:
        opens, closes = data.get(f"opens_{day}", ""), data.get(f"closes_{day}", "")
        is_open = _checked(data, f"open_{day}")
        sent.update({f"opens_{day}": opens, f"closes_{day}": closes, f"open_{day}": "on" if is_open else ""})
        days[str(day)] = [opens, closes] if is_open else None
    lang = lang_of(request)
    async with tenant_session() as session:
        try:
            await config.set_working_hours(session, days)
        except InputErrors as exc:
            errors = FormErrors()
            for p in exc.problems:
                weekday = p.params.get("day")
                errors.add(f"hours_{weekday}" if weekday else "hours", problem_text(p, lang))
            return await _sla_refused(request, session, errors, sent)
        audit(session, request, "admin.sla.working_hours", target_kind="calendar", detail={"days": days})
        await session.commit()
    if wants_json(request):
        return Response({"status": "saved"})
    return redirect("/admin/sla", "admin.city.notice.sla_saved")


@post("/sla/holidays", guards=LAKSA, summary="Add a holiday")
async def add_holiday(request: Request) -> Response[Any]:
    data = await form_data(request)
    sent = {"holiday_day": data.get("day", ""), "holiday_name": data.get("name", "")}
    lang = lang_of(request)
    async with tenant_session() as session:
        try:
            await config.add_holiday(session, data.get("day", ""), data.get("name", ""))
        except InputErrors as exc:
            errors = FormErrors()
            for p in exc.problems:
                errors.add(f"holiday_{p.field}", problem_text(p, lang))
            return await _sla_refused(request, session, errors, sent)
        audit(
            session,
            request,
            "admin.sla.holiday",
            target_kind="holiday",
            target_id=data.get("day"),
            detail=sent,
        )
        await session.commit()
    if wants_json(request):
        return Response({"status": "saved"}, status_code=201)
    return redirect("/admin/sla", "admin.city.notice.holiday_saved")


@post("/sla/holidays/{day:str}/delete", guards=LAKSA, summary="Remove a holiday")
async def remove_holiday(day: FromPath[str], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        try:
            parsed = dt.date.fromisoformat(day)
        except ValueError:
            raise NotFoundException() from None
        if await session.get(Holiday, parsed) is None:
            raise NotFoundException()
        await config.remove_holiday(session, day)
        audit(session, request, "admin.sla.holiday_removed", target_kind="holiday", target_id=day)
        await session.commit()
    if wants_json(request):
        return Response({"status": "deleted"})
    return redirect("/admin/sla", "admin.city.notice.holiday_removed")


# ---- boundaries ----------------------------------------------------------------------------------


def read_boundaries(raw: bytes, lang: str) -> tuple[Any, str | None]:
    """(the GeoJSON document, None) or (None, why it cannot be used), before Laksa's own checks."""
    if not raw.strip():
        return None, translate("admin.city.error.boundaries.empty", lang)
    if len(raw) > MAX_BOUNDARY_BYTES:
        return None, translate(
            "admin.city.error.boundaries.too_large",
            lang,
            mb=MAX_BOUNDARY_BYTES // 1024 // 1024,
            size=round(len(raw) / 1024 / 1024, 1),
        )
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None, translate("admin.city.error.boundaries.not_json", lang)
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = {"type": "FeatureCollection", "features": [document]}
    if isinstance(document, dict) and document.get("type") in ("Polygon", "MultiPolygon"):
        return None, translate("admin.city.error.boundaries.bare_geometry", lang)
    return document, None


async def _boundaries_context(session: TenantSession) -> dict[str, Any]:
    areas = list(await session.scalars(select(Area).order_by(Area.kind, Area.name)))
    kelurahan: dict[str, int] = {}
    for a in areas:
        if a.kind == "kelurahan":
            kelurahan[(a.parent_code or "").casefold()] = (
                kelurahan.get((a.parent_code or "").casefold(), 0) + 1
            )
    return {
        "kecamatan": [a for a in areas if a.kind == "kecamatan"],
        "kelurahan_count": kelurahan,
        "max_mb": MAX_BOUNDARY_BYTES // 1024 // 1024,
        "tile_url": LaksaConfig.of(current_tenant().module_config.get("laksa")).tile_url,
    }


@get("/boundaries", guards=LAKSA, summary="Kecamatan and kelurahan boundaries, on a map")
async def boundaries_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _boundaries_context(session)
    return city_page(request, "admin/city/boundaries.html", "boundaries", **ctx)


@post(
    "/boundaries",
    guards=LAKSA,
    summary="Replace the boundaries with a GeoJSON upload",
    request_max_body_size=MAX_BOUNDARY_BYTES + 2 * 1024 * 1024,
)
async def upload_boundaries(request: Request) -> Response[Any]:
    from litestar.datastructures import UploadFile

    lang = lang_of(request)
    raw = b""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data") or content_type.startswith(
        "application/x-www-form-urlencoded"
    ):
        form = await request.form()
        upload = form.get("file")
        if isinstance(upload, UploadFile):
            raw = await upload.read()
        if not raw.strip() and isinstance(form.get("geojson"), str):
            raw = str(form.get("geojson")).encode()
    else:
        raw = await request.body()
    document, problem = read_boundaries(raw, lang)
    async with tenant_session() as session:
        if problem is not None:
            return refused(
                request,
                "admin/city/boundaries.html",
                "boundaries",
                one_error("file", problem),
                **await _boundaries_context(session),
            )
        try:
            saved = await config.replace_areas(session, document)
        except InputErrors as exc:
            errors = FormErrors()
            for p in exc.problems:
                errors.add("file", problem_text(p, lang))
            return refused(
                request,
                "admin/city/boundaries.html",
                "boundaries",
                errors,
                **await _boundaries_context(session),
            )
        counts = {
            "kecamatan": sum(1 for a in saved if a.kind == "kecamatan"),
            "kelurahan": sum(1 for a in saved if a.kind == "kelurahan"),
        }
        audit(session, request, "admin.boundaries.replaced", target_kind="areas", detail=counts)
        await session.commit()
    if wants_json(request):
        return Response(counts)
    return redirect("/admin/boundaries", "admin.city.notice.boundaries_saved")


# ---- Open311 keys --------------------------------------------------------------------------------


async def _keys_context(session: TenantSession) -> dict[str, Any]:
    return {"keys": list(await session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))}


@get("/open311", guards=LAKSA, summary="Open311 partner keys")
async def keys_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _keys_context(session)
    return city_page(request, "admin/city/open311.html", "open311", issued=None, **ctx)


@post("/open311", guards=LAKSA, summary="Issue an Open311 key (shown once)")
async def issue_key(request: Request) -> Response[Any]:
    data = await form_data(request)
    lang = lang_of(request)
    from kotalive.auth.principal import current_principal

    who = current_principal()
    async with tenant_session() as session:
        try:
            row, key = await config.issue_api_key(session, data.get("name", ""), who.name if who else "admin")
        except InputErrors as exc:
            return refused(
                request,
                "admin/city/open311.html",
                "open311",
                _laksa_errors(exc, lang),
                data,
                issued=None,
                **await _keys_context(session),
            )
        audit(
            session,
            request,
            "admin.open311.key_issued",
            target_kind="api_key",
            target_id=row.id,
            detail={"name": row.name},
        )
        await session.commit()
        ctx = await _keys_context(session)
    if wants_json(request):
        return Response({"id": row.id, "api_key": key}, status_code=201, headers=NO_STORE)
    # The key is shown on this answer only (never stored, never in a URL): no redirect here.
    return city_page(request, "admin/city/open311.html", "open311", status=201, issued=key, **ctx)


@post("/open311/{key_id:int}/revoke", guards=LAKSA, summary="Revoke an Open311 key")
async def revoke_key(key_id: FromPath[int], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        try:
            await config.revoke_api_key(session, key_id)
        except NotFound:
            raise NotFoundException() from None
        audit(session, request, "admin.open311.key_revoked", target_kind="api_key", target_id=key_id)
        await session.commit()
    if wants_json(request):
        return Response({"status": "revoked"})
    return redirect("/admin/open311", "admin.city.notice.key_revoked")


route_handlers = [
    categories_page,
    new_category_page,
    category_page,
    create_category,
    change_category,
    rules_page,
    test_rules,
    new_rule_page,
    rule_page,
    create_rule,
    change_rule,
    delete_rule,
    sla_page,
    set_policy,
    set_hours,
    add_holiday,
    remove_holiday,
    boundaries_page,
    upload_boundaries,
    keys_page,
    issue_key,
    revoke_key,
]
