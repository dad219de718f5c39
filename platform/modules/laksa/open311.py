"""Open311 GeoReport v2 at /open311/v2/ on each city's host, in JSON and XML (the format is the
extension of the resource: ``services.json``, ``requests/42.xml``).

GET discovery, services, services/{code}, requests (filters: service_request_id, service_code,
start_date, end_date, status), requests/{id}, tokens/{token}, and mySociety's
servicerequestupdates; POST requests with a partner's ``api_key`` (kotalive open311 issue-key).

What goes out is what the public map shows (``reads.public_complaints``): no reporter, no contact,
the description with e-mail addresses and long numbers masked, nothing of a sensitive category's
text and its place blurred, no photos. Errors are the spec's list of ``{code, description}`` with
HTTP 400 (bad input), 403 (api_key), 404 (unknown service, request, token, resource or format);
bad input never answers 500. One jurisdiction per host: ``jurisdiction_id`` may be left out, and
when given must name this city.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from kotalive.auth.middleware import MACHINE_ENDPOINT
from kotalive.context import TenantContext, current_tenant
from kotalive.db import TenantSession, tenant_session
from kotalive.geo import snap
from kotalive.i18n import translate
from kotalive.modules.laksa import configuration as config
from kotalive.modules.laksa.domain import (
    OPEN311_STATUS,
    SENSITIVE_CELL_DEGREES,
    Conflict,
    Forbidden,
    InputErrors,
    InvalidTransition,
    LaksaError,
    NotFound,
    Problem,
    RateLimited,
    public_text,
)
from kotalive.modules.laksa.models import Category, Complaint, TimelineEntry
from kotalive.modules.laksa.services import Actor, ComplaintService, NewComplaint
from kotalive.modules.laksa.web import MAX_UPLOAD_BODY, problem_text, read_submission
from kotalive.tenants.city_models import Agency
from kotalive.web import NO_STORE, city_only, request_language

PUBLIC = {"public": True}
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00Z"  # when this API last changed shape (discovery's changeset)
FORMATS = ("json", "xml")
# What each answers with; Litestar adds "; charset=utf-8" to text/* itself.
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml"}
WINDOW = dt.timedelta(days=90)  # the default window of GET requests, and the widest allowed
MAX_RESULTS = 1000
MAX_IDS = 1000
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "device_id",
    "account_id",
    "address_id",
    "media_url",
)
CONTACT_MAX = 200  # the complaint keeps at most this many characters of each contact field
DATATYPE_NOTES = {
    "number": "A number, e.g. 25 or 2.5.",
    "datetime": "ISO 8601 date and time, e.g. 2026-12-01T08:00:00+07:00.",
    "multivaluelist": "One or more keys of values: send attribute[code][] once per key.",
    "singlevaluelist": "One key of values.",
}
# mySociety's update statuses (FixMyStreet reads them); external_status_code carries our state.
UPDATE_STATUS = {
    "submitted": "open",
    "triage": "open",
    "forwarded": "open",
    "acknowledged": "investigating",
    "in_progress": "in_progress",
    "reopened": "open",
    "resolved": "fixed",
    "closed": "closed",
    "duplicate": "duplicate",
}
UPDATE_STATUS_BY_KIND = {"transferred": "internal_referral", "returned": "internal_referral"}
# XML: the element of one item of a list, by the list's element name.
XML_ITEMS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{3,31}$")
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPACED_OFFSET = re.compile(r" (\d{2}:?\d{2})$")  # "+07:00" sent unencoded in a query arrives as " 07:00"
_REQUEST_ID = re.compile(r"^[0-9]{1,18}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Open311Error(Exception):
    """An answer in the spec's error format: HTTP ``status`` and one description per problem."""

    def __init__(self, status: int, *descriptions: str, headers: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions or ("error",)
        self.headers = headers or {}


# ---- answers -------------------------------------------------------------------------------------


def _format_of(path: str) -> str:
    return "xml" if path.lower().endswith(".xml") else "json"


def _split(name: str) -> tuple[str, str]:
    """``services.json`` -> ("services", "json"); an unknown or missing format is a 404."""
    stem, dot, fmt = name.rpartition(".")
    if not dot or not stem:
        raise Open311Error(404, f"{name!r} has no format: add .json or .xml")
    if fmt not in FORMATS:
        raise Open311Error(404, f"unknown format {fmt[:20]!r}: use .json or .xml")
    return stem, fmt


def _json(data: Any) -> bytes:
    # <, > and & escaped as \u003c ..., as Go does: the text means the same to a JSON reader, and
    # nothing in the body reads as markup to whatever might sniff it.
    body = msgspec.json.encode(data)
    return body.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_UNSAFE.sub("", str(value))


def _xml_into(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    if value is None:
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            _xml_into(element, key, inner)
    elif isinstance(value, list | tuple):
        item = XML_ITEMS.get(tag, "item")
        for inner in value:
            _xml_into(element, item, inner)
    else:
        element.text = _xml_text(value)  # ElementTree escapes &, < and >


def _xml(data: Any, root: str, item: str | None) -> bytes:
    element = ET.Element(root)
    if item is None:
        for key, value in data.items():
            _xml_into(element, key, value)
    else:
        for value in data:
            _xml_into(element, item, value)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="unicode").encode()


def _answer(
    fmt: str,
    data: Any,
    *,
    root: str,
    item: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    public: bool = True,
) -> Response[bytes]:
    body = _json(data) if fmt == "json" else _xml(data, root, item)
    extra = {"access-control-allow-origin": "*"} if public else {}
    return Response(
        body,
        status_code=status,
        media_type=MEDIA_TYPES[fmt],
        headers={**NO_STORE, "x-content-type-options": "nosniff", **extra, **(headers or {})},
    )


def _errors(
    path: str, status: int, descriptions: Sequence[str], headers: dict[str, str] | None = None
) -> Response[bytes]:
    items = [{"code": status, "description": d} for d in descriptions]
    return _answer(_format_of(path), items, root="errors", item="error", status=status, headers=headers)


def _describe(problem: Problem) -> str:
    """A service's problem in Open311's words: the Open311 field, then the English text."""
    base = problem.field.split("[")[0]
    if base == "category":
        name = "service_code"
    elif base == "location":
        name = "lat/long or address_string" if problem.code == "required" else "lat/long"
    elif base == "photos":
        name = "media"
    elif base == "kecamatan":
        name = "address_string"
    else:
        name = problem.field
    return f"{name}: {problem_text(problem, 'en')}"


def on_open311_error(request: Request, exc: Open311Error) -> Response[bytes]:
    return _errors(request.url.path, exc.status, exc.descriptions, exc.headers)


def on_laksa_error(request: Request, exc: LaksaError) -> Response[bytes]:
    path = request.url.path
    if isinstance(exc, InputErrors):
        return _errors(path, 400, [_describe(p) for p in exc.problems])
    if isinstance(exc, NotFound):
        return _errors(path, 404, [translate(f"laksa.not_found.{exc.what}", "en", id=exc.ident)])
    if isinstance(exc, RateLimited):
        minutes = max(1, (exc.retry_after + 59) // 60)
        text = f"too many requests with this api_key: try again in {minutes} minute(s)"
        return _errors(path, 429, [text], {"retry-after": str(exc.retry_after)})
    if isinstance(exc, Forbidden):
        return _errors(path, 403, [translate(f"laksa.forbidden.{exc.code}", "en")])
    if isinstance(exc, Conflict):
        return _errors(path, 409, [translate(f"laksa.conflict.{exc.code}", "en", **exc.params)])
    if isinstance(exc, InvalidTransition):
        return _errors(path, 409, [str(exc)])
    return _errors(path, 400, [str(exc) or exc.__class__.__name__])


def on_http_error(request: Request, exc: HTTPException) -> Response[bytes]:
    """Litestar's own refusals (a guard's 404: the platform host, a city without Laksa; a body too
    large; a form that cannot be read) in the spec's format."""
    status = exc.status_code
    if status == 404:
        text = "not found: this host offers no such Open311 resource"
    else:
        text = str(exc.detail or "the request could not be read")
    return _errors(request.url.path, status, [text], dict(exc.headers or {}))


# ---- reading the request -------------------------------------------------------------------------


def _one(value: Any, name: str) -> str | None:
    """A single text field (stripped, None when empty); a field given twice is refused."""
    if value is None:
        return None
    if isinstance(value, list):
        raise Open311Error(400, f"{name}: give it once")
    if isinstance(value, dict):
        raise Open311Error(400, f"{name}: must be text")
    text = str(value).strip()
    _printable(text, name)
    return text or None


def _printable(text: str, name: str) -> None:
    """PostgreSQL stores no NUL (text, JSONB) and no lone surrogate: refused here, not a 500."""
    if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
        raise Open311Error(400, f"{name}: holds characters that are not allowed")


def _query(request: Request, name: str) -> str | None:
    values = request.query_params.getall(name, [])
    if len(values) > 1:
        raise Open311Error(400, f"{name}: give it once (use a comma-separated list)")
    return _one(values[0], name) if values else None


def _list(request: Request, name: str) -> list[str]:
    """A comma-separated (or repeated) query parameter."""
    out: list[str] = []
    for value in request.query_params.getall(name, []):
        out += [v.strip() for v in str(value).split(",") if v.strip()]
    return out


def _moment(value: str, name: str, tz: ZoneInfo) -> dt.datetime:
    text = _SPACED_OFFSET.sub(r"+\1", value.strip())
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Open311Error(
            400, f"{name}: not an ISO 8601 date and time (e.g. 2026-12-01T08:00:00+07:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)  # naive: the city's time
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError:
        utc = None
    if utc is None or not 1900 <= utc.year <= 9000:
        raise Open311Error(400, f"{name}: out of range")
    return utc


def _window(request: Request, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """start_date and end_date: by default the last 90 days; one of them alone spans 90 days
    from it; never wider than 90 days (the spec's limit)."""
    start_text, end_text = _query(request, "start_date"), _query(request, "end_date")
    start = _moment(start_text, "start_date", tz) if start_text else None
    end = _moment(end_text, "end_date", tz) if end_text else None
    try:
        if start is None and end is None:
            end = dt.datetime.now(dt.UTC)
            start = end - WINDOW
        elif start is None:
            assert end is not None
            start = end - WINDOW
        elif end is None:
            end = start + WINDOW
    except OverflowError:
        raise Open311Error(400, "start_date, end_date: out of range") from None
    if end < start:
        raise Open311Error(400, "end_date: before start_date")
    if end - start > WINDOW:
        raise Open311Error(400, "start_date, end_date: may span at most 90 days")
    return start, end


def _check_jurisdiction(request: Request, value: str | None, tenant: TenantContext) -> None:
    if value is None:
        return
    host = (request.headers.get("host") or "").split(":")[0].lower()
    if value.lower() not in {tenant.slug, tenant.primary_host, host}:
        raise Open311Error(
            404,
            f"jurisdiction_id: {value[:100]!r} is not served here; this host serves {tenant.primary_host}",
        )


def _tz(tenant: TenantContext) -> ZoneInfo:
    return ZoneInfo(tenant.timezone)


def _iso(value: dt.datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value is not None else None


def _name(name: str, name_en: str | None, lang: str) -> str:
    return name_en if lang == "en" and name_en else name


def _notice(state: str, agency: str | None, lang: str) -> str:
    label = translate(f"laksa.state.{state}", lang)
    return f"{label}: {agency}" if agency else label


# ---- services ------------------------------------------------------------------------------------


def _service_out(category: Category, lang: str) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": _name(category.name, category.name_en, lang),
        "description": category.description or "",
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": ", ".join(category.keywords or ()),
        "group": category.group_name or "",
    }


def _definition_out(category: Category) -> dict[str, Any]:
    attributes = sorted(category.attributes or [], key=lambda a: (a.get("order", 0), a.get("code", "")))
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": a["code"],
                "datatype": a.get("datatype", "string"),
                "required": bool(a.get("required")),
                "datatype_description": DATATYPE_NOTES.get(a.get("datatype", "string")),
                "order": a.get("order", i + 1),
                "description": a.get("description") or a["code"],
                "values": [{"key": str(v.get("key")), "name": v.get("name")} for v in a.get("values") or []],
            }
            for i, a in enumerate(attributes)
        ],
    }


async def _active_category(session: TenantSession, code: str) -> Category:
    category = None
    if config.CODE.match(code):
        try:
            category = await config.get_category(session, code)
        except NotFound:
            pass
    if category is None or not category.active:
        raise Open311Error(404, f"service_code: {code[:64]!r} is not a service of this city")
    return category


# ---- requests ------------------------------------------------------------------------------------


def _requests_query() -> Any:
    """Complaints as the public sees them, with the latest public note of staff (status_notes)."""
    notes = (
        select(TimelineEntry.body)
        .where(
            TimelineEntry.complaint_id == Complaint.id,
            TimelineEntry.public,
            TimelineEntry.actor_kind == "employee",
            TimelineEntry.body.is_not(None),
        )
        .order_by(TimelineEntry.id.desc())
        .limit(1)
        .correlate(Complaint)
        .scalar_subquery()
    )
    return (
        select(
            Complaint.id,
            Complaint.state,
            Complaint.description,
            Complaint.lat,
            Complaint.lon,
            Complaint.kecamatan,
            Complaint.kelurahan,
            Complaint.submitted_at,
            Complaint.updated_at,
            Complaint.due_at,
            Category.code.label("service_code"),
            Category.name.label("service_name"),
            Category.name_en.label("service_name_en"),
            Category.sensitive,
            Agency.name.label("agency"),
            notes.label("status_notes"),
        )
        .outerjoin(Category, Category.id == Complaint.category_id)
        .outerjoin(Agency, Agency.id == Complaint.agency_id)
        .where(Complaint.state != "submitted")  # not yet routed: not public (as on the map)
    )


async def find_requests(
    session: TenantSession,
    *,
    ids: Sequence[int] = (),
    codes: Sequence[str] = (),
    statuses: Sequence[str] = (),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = MAX_RESULTS,
) -> list[Any]:
    """Rows of ``_requests_query``: by ids (then nothing else counts, as the spec says), else by
    service codes, Open311 statuses and the requested_datetime window; newest first."""
    stmt = _requests_query()
    if ids:
        stmt = stmt.where(Complaint.id.in_(list(ids)))
    else:
        if codes:
            stmt = stmt.where(Category.code.in_(list(codes)))
        if statuses:
            stmt = stmt.where(Complaint.state.in_([s for s, v in OPEN311_STATUS.items() if v in statuses]))
        if since is not None:
            stmt = stmt.where(Complaint.submitted_at >= since)
        if until is not None:
            stmt = stmt.where(Complaint.submitted_at <= until)
    stmt = stmt.order_by(Complaint.submitted_at.desc(), Complaint.id.desc()).limit(limit)
    return list((await session.execute(stmt)).all())


def _request_out(r: Any, lang: str, tz: ZoneInfo) -> dict[str, Any]:
    lat, lon = r.lat, r.lon
    if r.sensitive and lat is not None and lon is not None:
        lat, lon = snap(lat, lon, SENSITIVE_CELL_DEGREES)
    place = ", ".join(p for p in (r.kelurahan, r.kecamatan) if p)
    return {
        "service_request_id": r.id,
        "status": OPEN311_STATUS[r.state],
        "status_notes": None if r.sensitive or not r.status_notes else public_text(r.status_notes),
        "service_name": _name(r.service_name, r.service_name_en, lang) if r.service_name else None,
        "service_code": r.service_code,
        "description": "" if r.sensitive else public_text(r.description),
        "agency_responsible": r.agency,
        "service_notice": _notice(r.state, r.agency, lang),
        "requested_datetime": _iso(r.submitted_at, tz),
        "updated_datetime": _iso(r.updated_at, tz),
        "expected_datetime": _iso(r.due_at, tz),
        "address": place or None,  # the kelurahan and kecamatan: never the reporter's own words
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
    }


def _ids(values: Sequence[str], name: str) -> list[int]:
    if len(values) > MAX_IDS:
        raise Open311Error(400, f"{name}: at most {MAX_IDS} ids")
    out = []
    for value in values:
        if not _REQUEST_ID.match(value):
            raise Open311Error(400, f"{name}: {value[:40]!r} is not a service request id")
        out.append(int(value))
    return out


async def _list_requests(request: Request, fmt: str) -> Response[bytes]:
    tenant = current_tenant()
    tz = _tz(tenant)
    _check_jurisdiction(request, _query(request, "jurisdiction_id"), tenant)
    ids = _ids(_list(request, "service_request_id"), "service_request_id")
    statuses = [s.lower() for s in _list(request, "status")]
    wrong = [s for s in statuses if s not in ("open", "closed")]
    if wrong:
        raise Open311Error(400, f"status: {wrong[0][:20]!r} is not open or closed")
    codes = _list(request, "service_code")
    for code in codes:
        if not config.CODE.match(code):
            raise Open311Error(400, f"service_code: {code[:64]!r} is not a service code")
    since, until = _window(request, tz)
    async with tenant_session() as session:
        rows = await find_requests(session, ids=ids, codes=codes, statuses=statuses, since=since, until=until)
    lang = request_language(request)
    return _answer(fmt, [_request_out(r, lang, tz) for r in rows], root="service_requests", item="request")


# ---- updates (mySociety's servicerequestupdates) -------------------------------------------------


async def find_updates(
    session: TenantSession, since: dt.datetime, until: dt.datetime, limit: int = MAX_RESULTS
) -> list[Any]:
    """Public timeline entries that changed a complaint's state, and public replies, oldest first
    (a reader moves start_date to the last updated_datetime it saw)."""
    earlier = aliased(TimelineEntry)
    state_then = (
        select(earlier.to_state)
        .where(
            earlier.complaint_id == TimelineEntry.complaint_id,
            earlier.id < TimelineEntry.id,
            earlier.to_state.is_not(None),
        )
        .order_by(earlier.id.desc())
        .limit(1)
        .correlate(TimelineEntry)
        .scalar_subquery()
    )
    stmt = (
        select(
            TimelineEntry.id,
            TimelineEntry.complaint_id,
            TimelineEntry.kind,
            TimelineEntry.to_state,
            TimelineEntry.at,
            TimelineEntry.body,
            Category.sensitive,
            state_then.label("state_then"),
        )
        .join(Complaint, Complaint.id == TimelineEntry.complaint_id)
        .outerjoin(Category, Category.id == Complaint.category_id)
        .where(
            TimelineEntry.public,
            TimelineEntry.at >= since,
            TimelineEntry.at <= until,
            Complaint.state != "submitted",
            or_(
                and_(TimelineEntry.to_state.is_not(None), TimelineEntry.kind != "submitted"),
                TimelineEntry.kind == "reply",
            ),
        )
        .order_by(TimelineEntry.at, TimelineEntry.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).all())


def _update_out(r: Any, tz: ZoneInfo) -> dict[str, Any]:
    state = r.to_state or r.state_then or "submitted"
    return {
        "update_id": str(r.id),
        "service_request_id": r.complaint_id,
        "status": UPDATE_STATUS_BY_KIND.get(r.kind) or UPDATE_STATUS.get(state, "open"),
        "external_status_code": state,
        "updated_datetime": _iso(r.at, tz),
        "description": "" if r.sensitive or not r.body else public_text(r.body),
        "media_url": "",
    }


# ---- GET -----------------------------------------------------------------------------------------


@get("/{resource:str}", opt=PUBLIC, summary="Open311: discovery, services, requests, servicerequestupdates")
async def open311_collection(resource: str, request: Request) -> Response[bytes]:
    stem, fmt = _split(resource)
    tenant = current_tenant()
    if stem == "discovery":
        url = f"https://{tenant.primary_host}/open311/v2"
        data = {
            "changeset": CHANGESET,
            "contact": f"{tenant.name}: https://{tenant.primary_host}/",
            "key_service": (
                f"API keys for POST requests are issued by the administrator of {tenant.name} "
                f"(Laksa administration, Open311 keys) at https://{tenant.primary_host}/"
            ),
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": url,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
        return _answer(fmt, data, root="discovery")
    if stem == "services":
        _check_jurisdiction(request, _query(request, "jurisdiction_id"), tenant)
        lang = request_language(request)
        async with tenant_session() as session:
            categories = await config.list_categories(session)
        return _answer(fmt, [_service_out(c, lang) for c in categories], root="services", item="service")
    if stem == "requests":
        return await _list_requests(request, fmt)
    if stem == "servicerequestupdates":
        _check_jurisdiction(request, _query(request, "jurisdiction_id"), tenant)
        tz = _tz(tenant)
        since, until = _window(request, tz)
        async with tenant_session() as session:
            rows = await find_updates(session, since, until)
        return _answer(
            fmt, [_update_out(r, tz) for r in rows], root="service_request_updates", item="request_update"
        )
    raise Open311Error(404, f"{stem[:60]!r} is not an Open311 resource of this host")


@get("/services/{name:str}", opt=PUBLIC, summary="Open311: one service's definition (its attributes)")
async def open311_service(name: str, request: Request) -> Response[bytes]:
    code, fmt = _split(name)
    tenant = current_tenant()
    _check_jurisdiction(request, _query(request, "jurisdiction_id"), tenant)
    async with tenant_session() as session:
        category = await _active_category(session, code)
    return _answer(fmt, _definition_out(category), root="service_definition")


@get("/requests/{name:str}", opt=PUBLIC, summary="Open311: one service request (a list of one)")
async def open311_request(name: str, request: Request) -> Response[bytes]:
    ident, fmt = _split(name)
    tenant = current_tenant()
    _check_jurisdiction(request, _query(request, "jurisdiction_id"), tenant)
    if not _REQUEST_ID.match(ident):
        raise Open311Error(404, f"service_request_id: {ident[:40]!r} was not found")
    async with tenant_session() as session:
        rows = await find_requests(session, ids=[int(ident)], limit=1)
    if not rows:
        raise Open311Error(404, f"service_request_id: {ident} was not found")
    lang = request_language(request)
    tz = _tz(tenant)
    return _answer(fmt, [_request_out(r, lang, tz) for r in rows], root="service_requests", item="request")


@get("/tokens/{name:str}", opt=PUBLIC, summary="Open311: the service request id of a token")
async def open311_token(name: str, request: Request) -> Response[bytes]:
    token, fmt = _split(name)
    tenant = current_tenant()
    _check_jurisdiction(request, _query(request, "jurisdiction_id"), tenant)
    found = None
    if _TOKEN.match(token):
        async with tenant_session() as session:
            found = await session.scalar(select(Complaint.id).where(Complaint.open311_token == token))
    if found is None:
        raise Open311Error(404, "token: not found")
    return _answer(
        fmt, [{"service_request_id": found, "token": token}], root="service_requests", item="request"
    )


# ---- POST requests -------------------------------------------------------------------------------


def _attributes(raw: Any, specs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``attribute[code]`` and ``attribute[code][]`` (repeated for a multivaluelist) as one dict:
    lists for multivaluelists, single values for the others."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise Open311Error(400, "attribute: send attribute[code]=value")
    kinds = {s["code"]: s.get("datatype", "string") for s in specs}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        code = str(key)
        if code.endswith("]["):  # attribute[code][] reads as the code "code]["
            code = code[:-2]
        values = value if isinstance(value, list) else [value]
        for item in values:
            _printable(str(item), f"attribute[{code[:64]}]")
        if code in out:
            values = [*(out[code] if isinstance(out[code], list) else [out[code]]), *values]
        out[code] = values
    for code, values in list(out.items()):
        if kinds.get(code) == "multivaluelist":
            continue
        if len(values) > 1:
            raise Open311Error(400, f"attribute[{code[:64]}]: give one value")
        out[code] = values[0]
    return out


def _contact(fields: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    contact: dict[str, str] = {}
    problems: list[str] = []
    for name in CONTACT_FIELDS:
        value = _one(fields.get(name), name)
        if value is None:
            continue
        if len(value) > CONTACT_MAX:
            problems.append(f"{name}: at most {CONTACT_MAX} characters")
            continue
        contact[name] = value
    email, phone, media = contact.get("email"), contact.get("phone"), contact.get("media_url")
    if email is not None and not _EMAIL.match(email):
        problems.append("email: not an e-mail address")
    if phone is not None and not _PHONE.match(phone):
        problems.append("phone: not a phone number")
    if media is not None:
        parts = urlsplit(media)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append("media_url: not an http(s) URL")
    return contact, problems


@post(
    "/{resource:str}",
    opt=PUBLIC,
    status_code=201,
    request_max_body_size=MAX_UPLOAD_BODY,
    summary="Open311: create a service request (form-encoded, with api_key)",
)
async def open311_submit(resource: str, request: Request) -> Response[bytes]:
    stem, fmt = _split(resource)
    if stem != "requests":
        raise Open311Error(404, f"POST {stem[:60]!r}: only requests can be created here")
    tenant = current_tenant()
    try:
        fields, uploads = await read_submission(request)
    except InputErrors as exc:
        raise Open311Error(400, *[_describe(p) for p in exc.problems]) from None
    api_key = _one(fields.get("api_key"), "api_key") or _query(request, "api_key")
    if api_key is None:
        raise Open311Error(403, "api_key: required to create a service request (ask the city for a key)")
    async with tenant_session() as session:
        key = await config.find_api_key(session, api_key)
        if key is None:
            raise Open311Error(403, "api_key: not valid (unknown or revoked)")
        jurisdiction = _one(fields.get("jurisdiction_id"), "jurisdiction_id") or _query(
            request, "jurisdiction_id"
        )
        _check_jurisdiction(request, jurisdiction, tenant)
        code = _one(fields.get("service_code"), "service_code")
        if code is None:
            raise Open311Error(400, "service_code: required")
        category = await _active_category(session, code)
        attributes = _attributes(fields.get("attributes"), category.attributes or [])
        contact, problems = _contact(fields)
        lat = _one(fields.get("lat"), "lat")
        lon = _one(fields.get("long"), "long")
        if (lat is None) != (lon is None):
            problems.append("lat/long: give both, or neither and an address_string")
        address = _one(fields.get("address_string"), "address_string")
        if lat is None and lon is None and address is None and "address_id" in contact:
            problems.append("address_id: not known here; send lat and long, or an address_string")
        description = _one(fields.get("description"), "description")
        if problems:
            raise Open311Error(400, *problems)
        new = NewComplaint(
            description=description or "",
            category_code=category.code,
            lat=lat,
            lon=lon,
            address=address,
            anonymous=True,  # the reporter's name is for the city to reach them, never published
            photos=uploads,
            attributes=attributes,
            contact=contact,
            source="open311",
        )
        service = ComplaintService(session, redis=request.app.state.redis)
        done = await service.submit(Actor.partner(key.id, key.name), new)
        complaint = done.complaint
        agency = await session.get(Agency, complaint.agency_id) if complaint.agency_id else None
    lang = request_language(request)
    item = {
        "service_request_id": complaint.id,
        "token": complaint.open311_token,
        "service_notice": _notice(complaint.state, agency.name if agency else None, lang),
        "account_id": contact.get("account_id"),
    }
    return _answer(
        fmt,
        [item],
        root="service_requests",
        item="request",
        status=201,
        headers={"location": f"/open311/v2/requests/{complaint.id}.{fmt}"},
        public=False,
    )


route_handlers: list[Any] = [
    Router(
        path="/open311/v2",
        route_handlers=[open311_collection, open311_service, open311_request, open311_token, open311_submit],
        guards=[city_only],
        opt=MACHINE_ENDPOINT,
        tags=["open311"],
        exception_handlers={
            Open311Error: on_open311_error,
            LaksaError: on_laksa_error,
            HTTPException: on_http_error,
        },
    )
]
"""Open311 GeoReport v2, gathered for the app (routes.py)."""
