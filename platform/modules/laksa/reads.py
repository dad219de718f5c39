"""What Laksa shows: the agency inbox, one complaint as each reader may see it, a citizen's own
complaints, and the public map and statistics (no personal data).

The inbox is one query per page with keyset paging on an indexed sort key, so page 500 costs what
page 1 does at 100,000 complaints.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, and_, cast, false, func, literal, or_, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY

from kotalive.auth.models import Citizen, Employee
from kotalive.db import TenantSession
from kotalive.geo import snap
from kotalive.modules.laksa.domain import (
    DONE_STATES,
    OPEN_STATES,
    PRIORITIES,
    SENSITIVE_CELL_DEGREES,
    STATES,
    InputErrors,
    NotFound,
    Problem,
    public_name,
    public_text,
    sla_status,
)
from kotalive.modules.laksa.models import Category, Complaint, Media, Support, TimelineEntry
from kotalive.modules.laksa.services import Actor
from kotalive.tenants.city_models import Agency

SORTS = ("newest", "oldest", "due", "priority", "updated")
SLA_FILTERS = ("none", "ok", "at_risk", "breached", "met", "missed")
MAX_PAGE = 100


# ---- the inbox -----------------------------------------------------------------------------------


@dataclass(slots=True)
class InboxQuery:
    agency_id: int | None = None  # None: every agency the reader may see
    states: Sequence[str] = ()  # empty: open ones
    priority: str | None = None
    kecamatan_code: str | None = None
    category_code: str | None = None
    sla: str | None = None
    assignee: str | None = None  # "me" | "none" | an employee id
    emergency: bool | None = None
    queue: str | None = None  # "triage": the Live Room's queue
    sort: str = "newest"
    cursor: str | None = None
    limit: int = 25


@dataclass(slots=True)
class InboxRow:
    id: int
    state: str
    priority: str
    emergency: bool
    description: str
    category_code: str | None
    category_name: str | None
    category_name_en: str | None
    agency_id: int | None
    agency: str | None
    copy: bool  # the reader's agency has a copy, another holds it
    kecamatan: str | None
    kelurahan: str | None
    submitted_at: dt.datetime
    updated_at: dt.datetime
    due_at: dt.datetime | None
    sla: str
    assignee_id: int | None
    assignee: str | None
    support_count: int
    photos: int


@dataclass(slots=True)
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None
    filters: dict[str, Any] = field(default_factory=dict)


def _encode_cursor(sort: str, value: Any, ident: int) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    raw = json.dumps([sort, value, ident], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value, ident = json.loads(raw)
        if kind != sort or not isinstance(ident, int):
            raise ValueError
        if sort in ("due", "updated") and value is not None:
            value = dt.datetime.fromisoformat(value)
        if sort == "priority" and not isinstance(value, int):
            raise ValueError
        return value, ident
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        raise InputErrors([Problem("cursor", "invalid")]) from None


def _check_query(q: InboxQuery) -> None:
    problems = []
    for s in q.states:
        if s not in STATES:
            problems.append(Problem("state", "invalid", allowed=", ".join(STATES)))
            break
    if q.priority is not None and q.priority not in PRIORITIES:
        problems.append(Problem("priority", "invalid", allowed=", ".join(PRIORITIES)))
    if q.sla is not None and q.sla not in SLA_FILTERS:
        problems.append(Problem("sla", "invalid", allowed=", ".join(SLA_FILTERS)))
    if q.sort not in SORTS:
        problems.append(Problem("sort", "invalid", allowed=", ".join(SORTS)))
    if q.assignee not in (None, "me", "none") and not (q.assignee or "").isdigit():
        problems.append(Problem("assignee", "invalid"))
    if not 1 <= q.limit <= MAX_PAGE:
        problems.append(Problem("limit", "invalid", max=MAX_PAGE))
    if q.queue not in (None, "triage"):
        problems.append(Problem("queue", "invalid"))
    if problems:
        raise InputErrors(problems)


def _scope(actor: Actor, agency_id: int | None) -> list[ColumnElement[bool]] | None:
    """Which complaints the reader's inbox may hold: None for the whole city, else two disjoint
    branches (held by the agencies; copied to them while another holds it). Each branch is read
    with its own index in sort order and the two are merged, so a page costs the same whatever the
    city's backlog (an OR of both could use neither index for the order)."""
    c = Complaint.__table__.c
    if agency_id is not None:
        if not actor.whole_city and agency_id not in actor.agency_ids:
            raise NotFound("agency", agency_id)
        ids = [agency_id]
    elif actor.whole_city:
        return None
    elif not actor.agency_ids:
        return [false()]
    else:
        ids = sorted(actor.agency_ids)
    held = c.agency_id == ids[0] if len(ids) == 1 else c.agency_id.in_(ids)
    copied = and_(
        c.copied_agency_ids.overlap(cast(ids, ARRAY(BigInteger))),
        or_(c.agency_id.is_(None), ~c.agency_id.in_(ids)),
    )
    return [held, copied]


def _open_states() -> ColumnElement[bool]:
    """``state IN (...)`` with the states written into the SQL, so the planner matches it with the
    partial indexes of open complaints whatever plan it caches."""
    c = Complaint.__table__.c
    return c.state.in_([literal(s, literal_execute=True) for s in OPEN_STATES])


def _sla_filter(sla: str, now: dt.datetime) -> ColumnElement[bool]:
    c = Complaint.__table__.c
    open_ = c.state.in_(OPEN_STATES)
    return {
        "none": c.due_at.is_(None),
        "ok": and_(open_, c.due_at > now, or_(c.at_risk_at.is_(None), c.at_risk_at > now)),
        "at_risk": and_(open_, c.at_risk_at <= now, c.due_at > now),
        "breached": and_(open_, c.due_at <= now),
        "met": and_(c.resolved_at.is_not(None), c.resolved_at <= c.due_at),
        "missed": and_(c.resolved_at.is_not(None), c.resolved_at > c.due_at),
    }[sla]


async def inbox(session: TenantSession, actor: Actor, q: InboxQuery) -> InboxPage:
    _check_query(q)
    now = dt.datetime.now(dt.UTC)
    c = Complaint.__table__.c
    cat = Category.__table__.c
    ag = Agency.__table__.c
    emp = Employee.__table__.c
    photo_count = (
        select(func.count())
        .select_from(Media.__table__)
        .where(Media.__table__.c.complaint_id == c.id, Media.__table__.c.purpose == "report")
        .scalar_subquery()
    )
    branches = _scope(actor, q.agency_id)
    conditions: list[ColumnElement[bool]] = []
    if q.queue == "triage":
        conditions.append(c.state == "triage")
    elif q.states:
        conditions.append(c.state.in_(list(q.states)))
    else:
        conditions.append(_open_states())
    if q.priority:
        conditions.append(c.priority == q.priority)
    if q.kecamatan_code:
        conditions.append(c.kecamatan_code == q.kecamatan_code)
    if q.category_code:
        conditions.append(
            c.category_id == select(cat.id).where(cat.code == q.category_code).scalar_subquery()
        )
    if q.sla:
        conditions.append(_sla_filter(q.sla, now))
    if q.emergency is not None:
        conditions.append(c.emergency.is_(q.emergency))
    if q.assignee == "me":
        conditions.append(c.assignee_id == (actor.id if actor.is_staff else -1))
    elif q.assignee == "none":
        conditions.append(c.assignee_id.is_(None))
    elif q.assignee:
        conditions.append(c.assignee_id == int(q.assignee))

    if q.sort == "newest":
        order, descending = [c.id.desc()], True
    elif q.sort == "oldest":
        order, descending = [c.id.asc()], False
    elif q.sort == "due":
        order, descending = [c.due_at.asc().nulls_last(), c.id.asc()], False
    elif q.sort == "updated":
        order, descending = [c.updated_at.desc(), c.id.desc()], True
    else:
        order, descending = [c.priority_rank.asc(), c.id.desc()], False
    if q.cursor:
        value, ident = _decode_cursor(q.cursor, q.sort)
        if q.sort in ("newest", "oldest"):
            conditions.append(c.id < ident if descending else c.id > ident)
        elif q.sort == "due":
            if value is None:
                conditions.append(and_(c.due_at.is_(None), c.id > ident))
            else:
                conditions.append(
                    or_(c.due_at > value, and_(c.due_at == value, c.id > ident), c.due_at.is_(None))
                )
        elif q.sort == "updated":
            conditions.append(or_(c.updated_at < value, and_(c.updated_at == value, c.id < ident)))
        else:
            conditions.append(or_(c.priority_rank > value, and_(c.priority_rank == value, c.id < ident)))

    base = Complaint.__table__
    if branches is None:
        where: list[ColumnElement[bool]] = conditions
    else:
        parts = [
            select(c.id).where(branch, *conditions).order_by(*order).limit(q.limit + 1) for branch in branches
        ]
        page_ids = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("page")
        base = page_ids.join(Complaint.__table__, c.id == page_ids.c.id)
        where = []
    stmt = (
        select(
            c.id,
            c.state,
            c.priority,
            c.priority_rank,
            c.emergency,
            c.description,
            c.agency_id,
            c.copied_agency_ids,
            c.kecamatan,
            c.kelurahan,
            c.submitted_at,
            c.updated_at,
            c.due_at,
            c.at_risk_at,
            c.resolved_at,
            c.assignee_id,
            c.support_count,
            cat.code.label("category_code"),
            cat.name.label("category_name"),
            cat.name_en.label("category_name_en"),
            ag.abbreviation.label("agency"),
            emp.name.label("assignee"),
            photo_count.label("photos"),
        )
        .select_from(
            base.outerjoin(Category.__table__, cat.id == c.category_id)
            .outerjoin(Agency.__table__, ag.id == c.agency_id)
            .outerjoin(Employee.__table__, emp.id == c.assignee_id)
        )
        .where(*where)
        .order_by(*order)
        .limit(q.limit + 1)
    )
    result = (await session.execute(stmt)).all()
    rows = [
        InboxRow(
            id=r.id,
            state=r.state,
            priority=r.priority,
            emergency=r.emergency,
            description=r.description,
            category_code=r.category_code,
            category_name=r.category_name,
            category_name_en=r.category_name_en,
            agency_id=r.agency_id,
            agency=r.agency,
            copy=(not actor.whole_city and r.agency_id not in actor.agency_ids),
            kecamatan=r.kecamatan,
            kelurahan=r.kelurahan,
            submitted_at=r.submitted_at,
            updated_at=r.updated_at,
            due_at=r.due_at,
            sla=sla_status(now, r.due_at, r.at_risk_at, r.resolved_at),
            assignee_id=r.assignee_id,
            assignee=r.assignee,
            support_count=r.support_count,
            photos=r.photos,
        )
        for r in result[: q.limit]
    ]
    next_cursor = None
    if len(result) > q.limit:
        last = result[q.limit - 1]
        value = {
            "newest": last.id,
            "oldest": last.id,
            "due": last.due_at,
            "updated": last.updated_at,
            "priority": last.priority_rank,
        }[q.sort]
        next_cursor = _encode_cursor(q.sort, value, last.id)
    return InboxPage(rows, next_cursor)


# ---- one complaint -------------------------------------------------------------------------------


@dataclass(slots=True)
class TimelineView:
    id: int
    at: dt.datetime
    kind: str
    from_state: str | None
    to_state: str | None
    actor: str | None  # staff see names; the public sees the agency or "Warga"
    actor_kind: str
    public: bool
    body: str | None
    data: dict[str, Any]


@dataclass(slots=True)
class PhotoView:
    id: int
    purpose: str
    status: str
    width: int
    height: int


@dataclass(slots=True)
class ComplaintView:
    id: int
    state: str
    priority: str
    emergency: bool
    description: str
    hashtags: list[str]
    category_code: str | None
    category_name: str | None
    category_name_en: str | None
    sensitive: bool
    attributes: dict[str, Any]
    lat: float | None
    lon: float | None
    address: str | None
    kecamatan: str | None
    kelurahan: str | None
    agency_id: int | None
    agency: str | None
    copy_agencies: list[str]
    submitted_at: dt.datetime
    updated_at: dt.datetime
    due_at: dt.datetime | None
    sla: str
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    support_count: int
    duplicate_of: int | None
    rating: int | None
    rating_comment: str | None
    reporter: str | None  # public: "Siti R." (or None when anonymous); staff: the full name
    anonymous: bool
    audience: str  # public | owner | staff
    timeline: list[TimelineView]
    photos: list[PhotoView]
    assignee_id: int | None = None
    assignee: str | None = None
    contact: dict[str, Any] = field(default_factory=dict)
    routing: dict[str, Any] = field(default_factory=dict)
    citizen_id: int | None = None
    supported_by_me: bool = False
    reopen_count: int = 0
    source: str = "web"


async def complaint_view(session: TenantSession, actor: Actor | None, complaint_id: int) -> ComplaintView:
    """The complaint as ``actor`` may see it: staff who may see it get everything (internal notes,
    the reporter); the reporter gets their own complaint with public entries; anyone else the
    public view (no personal data; sensitive categories blurred, their text withheld)."""
    row = (
        await session.execute(
            select(Complaint, Category, Agency, Citizen.name, Citizen.status, Citizen.phone, Employee.name)
            .outerjoin(Category, Category.id == Complaint.category_id)
            .outerjoin(Agency, Agency.id == Complaint.agency_id)
            .outerjoin(Citizen, Citizen.id == Complaint.citizen_id)
            .outerjoin(Employee, Employee.id == Complaint.assignee_id)
            .where(Complaint.id == complaint_id)
        )
    ).first()
    if row is None:
        raise NotFound("complaint", complaint_id)
    complaint, category, agency, citizen_name, citizen_status, citizen_phone, assignee_name = row
    if actor is not None and actor.sees(complaint):
        audience = "staff"
    elif actor is not None and actor.kind == "citizen" and complaint.citizen_id == actor.id:
        audience = "owner"
    else:
        audience = "public"
    if audience == "public" and complaint.state == "submitted":
        raise NotFound("complaint", complaint_id)
    sensitive = bool(category and category.sensitive)
    entries_stmt = (
        select(TimelineEntry).where(TimelineEntry.complaint_id == complaint.id).order_by(TimelineEntry.id)
    )
    if audience != "staff":
        entries_stmt = entries_stmt.where(TimelineEntry.public)
    entries = list((await session.execute(entries_stmt)).scalars())
    agency_names = await _agency_names(session)
    timeline = [_timeline_view(e, audience, agency_names) for e in entries]
    photos: list[PhotoView] = []
    if audience != "public":
        photos = [
            PhotoView(m.id, m.purpose, m.status, m.width, m.height)
            for m in (
                await session.execute(
                    select(Media.id, Media.purpose, Media.status, Media.width, Media.height)
                    .where(Media.complaint_id == complaint.id)
                    .order_by(Media.id)
                )
            ).all()
        ]
    supported = False
    if actor is not None and actor.kind == "citizen" and actor.id is not None:
        supported = bool(
            await session.scalar(
                select(Support.citizen_id).where(
                    Support.complaint_id == complaint.id, Support.citizen_id == actor.id
                )
            )
        )
    reporter_name = citizen_name or " ".join(
        v for v in (complaint.contact.get("first_name"), complaint.contact.get("last_name")) if v
    )
    lat, lon = complaint.lat, complaint.lon
    description = complaint.description
    if audience == "public":
        if sensitive and lat is not None and lon is not None:
            lat, lon = snap(lat, lon, SENSITIVE_CELL_DEGREES)
        description = "" if sensitive else public_text(description)
    now = dt.datetime.now(dt.UTC)
    return ComplaintView(
        id=complaint.id,
        state=complaint.state,
        priority=complaint.priority,
        emergency=complaint.emergency,
        description=description,
        hashtags=list(complaint.hashtags or ()),
        category_code=category.code if category else None,
        category_name=category.name if category else None,
        category_name_en=category.name_en if category else None,
        sensitive=sensitive,
        attributes=complaint.attributes if audience != "public" else {},
        lat=lat,
        lon=lon,
        address=complaint.address if audience != "public" else None,
        kecamatan=complaint.kecamatan,
        kelurahan=complaint.kelurahan,
        agency_id=complaint.agency_id,
        agency=agency.name if agency else None,
        copy_agencies=[agency_names.get(a, str(a)) for a in complaint.copied_agency_ids or ()],
        submitted_at=complaint.submitted_at,
        updated_at=complaint.updated_at,
        due_at=complaint.due_at,
        sla=sla_status(now, complaint.due_at, complaint.at_risk_at, complaint.resolved_at),
        resolved_at=complaint.resolved_at,
        closed_at=complaint.closed_at,
        support_count=complaint.support_count,
        duplicate_of=complaint.duplicate_of_id,
        rating=complaint.rating,
        rating_comment=complaint.rating_comment if audience != "public" else None,
        reporter=(reporter_name or None)
        if audience != "public"
        else public_name(reporter_name, complaint.anonymous or citizen_status == "deleted"),
        anonymous=complaint.anonymous,
        audience=audience,
        timeline=timeline,
        photos=photos,
        assignee_id=complaint.assignee_id if audience == "staff" else None,
        assignee=assignee_name if audience == "staff" else None,
        # staff can call back whoever reported: a partner app's contact fields, a citizen's phone
        contact=(
            {**(complaint.contact or {}), **({"phone": citizen_phone} if citizen_phone else {})}
            if audience == "staff"
            else {}
        ),
        routing=dict(complaint.routing or {}) if audience == "staff" else {},
        citizen_id=complaint.citizen_id if audience == "staff" else None,
        supported_by_me=supported,
        reopen_count=complaint.reopen_count,
        source=complaint.source,
    )


async def _agency_names(session: TenantSession) -> dict[int, str]:
    return {r.id: r.name for r in (await session.execute(select(Agency.id, Agency.name))).all()}


def _timeline_view(entry: TimelineEntry, audience: str, agencies: dict[int, str]) -> TimelineView:
    if audience == "staff":
        actor = entry.actor_name
    elif entry.actor_kind == "employee":
        ids = entry.data.get("agency_ids") or []
        actor = agencies.get(ids[0]) if ids else None
        actor = actor or "Petugas"
    elif entry.actor_kind == "citizen":
        actor = None  # the public never sees who supported or wrote
    elif entry.actor_kind == "partner":
        actor = entry.actor_name if audience == "owner" else None
    else:
        actor = entry.actor_name
    data = dict(entry.data or {})
    if audience != "staff":
        data = {
            k: v for k, v in data.items() if k in ("agency", "agency_id", "duplicate_of", "count", "rating")
        }
    return TimelineView(
        id=entry.id,
        at=entry.at,
        kind=entry.kind,
        from_state=entry.from_state,
        to_state=entry.to_state,
        actor=actor,
        actor_kind=entry.actor_kind,
        public=entry.public,
        body=entry.body if (audience == "staff" or entry.kind not in ("supported",)) else None,
        data=data,
    )


async def photo(
    session: TenantSession, actor: Actor | None, media_id: int, variant: str
) -> tuple[bytes, str]:
    """A re-encoded photo, for staff who may see its complaint and for its reporter."""
    row = (
        await session.execute(
            select(Media, Complaint)
            .join(Complaint, Complaint.id == Media.complaint_id)
            .where(Media.id == media_id)
        )
    ).first()
    if row is None or actor is None:
        raise NotFound("photo", media_id)
    media, complaint = row
    allowed = actor.sees(complaint) or (actor.kind == "citizen" and complaint.citizen_id == actor.id)
    if not allowed or media.status != "ready":
        raise NotFound("photo", media_id)
    data = media.thumbnail if variant == "thumb" else media.image
    if data is None:
        raise NotFound("photo", media_id)
    return data, media.content_type or "image/jpeg"


# ---- a citizen's own complaints ------------------------------------------------------------------


async def mine(
    session: TenantSession, citizen_id: int, *, limit: int = 50, before: int | None = None
) -> list[dict[str, Any]]:
    stmt = (
        select(
            Complaint.id,
            Complaint.state,
            Complaint.description,
            Complaint.submitted_at,
            Complaint.updated_at,
            Complaint.kecamatan,
            Complaint.support_count,
            Complaint.rating,
            Category.name.label("category"),
            Category.name_en.label("category_en"),
            Agency.name.label("agency"),
        )
        .outerjoin(Category, Category.id == Complaint.category_id)
        .outerjoin(Agency, Agency.id == Complaint.agency_id)
        .where(Complaint.citizen_id == citizen_id)
        .order_by(Complaint.id.desc())
        .limit(limit)
    )
    if before is not None:
        stmt = stmt.where(Complaint.id < before)
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]


# ---- the public ----------------------------------------------------------------------------------


@dataclass(slots=True)
class PublicQuery:
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat
    status: str | None = None  # open | closed
    category_code: str | None = None
    kecamatan_code: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 1000


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        raise InputErrors([Problem("bbox", "invalid")]) from None
    if len(parts) != 4 or not (-180 <= parts[0] <= parts[2] <= 180 and -90 <= parts[1] <= parts[3] <= 90):
        raise InputErrors([Problem("bbox", "invalid")])
    return parts[0], parts[1], parts[2], parts[3]


async def public_complaints(session: TenantSession, q: PublicQuery) -> list[dict[str, Any]]:
    """Complaints as the public map shows them: where (blurred for sensitive categories), what,
    which agency, what state; never who (unless they chose to be named: "Siti R."), never how to
    reach them, never the text of a sensitive complaint."""
    if q.status not in (None, "open", "closed"):
        raise InputErrors([Problem("status", "invalid", allowed="open, closed")])
    if not 1 <= q.limit <= 5000:
        raise InputErrors([Problem("limit", "invalid", max=5000)])
    conditions: list[Any] = [Complaint.state != "submitted"]
    if q.status == "open":
        conditions.append(Complaint.state.in_(OPEN_STATES))
    elif q.status == "closed":
        conditions.append(Complaint.state.in_(DONE_STATES))
    if q.bbox:
        conditions += [
            Complaint.lon.between(q.bbox[0], q.bbox[2]),
            Complaint.lat.between(q.bbox[1], q.bbox[3]),
        ]
    if q.category_code:
        conditions.append(Category.code == q.category_code)
    if q.kecamatan_code:
        conditions.append(Complaint.kecamatan_code == q.kecamatan_code)
    if q.since:
        conditions.append(Complaint.submitted_at >= q.since)
    if q.until:
        conditions.append(Complaint.submitted_at <= q.until)
    rows = (
        await session.execute(
            select(
                Complaint.id,
                Complaint.state,
                Complaint.priority,
                Complaint.emergency,
                Complaint.description,
                Complaint.lat,
                Complaint.lon,
                Complaint.kecamatan,
                Complaint.kelurahan,
                Complaint.submitted_at,
                Complaint.updated_at,
                Complaint.resolved_at,
                Complaint.support_count,
                Complaint.anonymous,
                Citizen.name.label("citizen_name"),
                Citizen.status.label("citizen_status"),
                Category.code.label("category_code"),
                Category.name.label("category"),
                Category.name_en.label("category_en"),
                Category.sensitive,
                Agency.name.label("agency"),
            )
            .outerjoin(Category, Category.id == Complaint.category_id)
            .outerjoin(Agency, Agency.id == Complaint.agency_id)
            .outerjoin(Citizen, Citizen.id == Complaint.citizen_id)
            .where(*conditions)
            .order_by(Complaint.id.desc())
            .limit(q.limit)
        )
    ).all()
    out = []
    for r in rows:
        lat, lon = r.lat, r.lon
        if r.sensitive and lat is not None and lon is not None:
            lat, lon = snap(lat, lon, SENSITIVE_CELL_DEGREES)
        out.append(
            {
                "id": r.id,
                "state": r.state,
                "status": "open" if r.state in OPEN_STATES else "closed",
                "priority": r.priority,
                "emergency": r.emergency,
                "category_code": r.category_code,
                "category": r.category,
                "category_en": r.category_en,
                "agency": r.agency,
                "description": "" if r.sensitive else public_text(r.description),
                "lat": lat,
                "lon": lon,
                "blurred": bool(r.sensitive),
                "kecamatan": r.kecamatan,
                "kelurahan": r.kelurahan,
                "submitted_at": r.submitted_at,
                "updated_at": r.updated_at,
                "resolved_at": r.resolved_at,
                "support_count": r.support_count,
                # a deleted account's placeholder name is nobody's name
                "reporter": public_name(r.citizen_name, r.anonymous or r.citizen_status == "deleted"),
            }
        )
    return out


def as_geojson(items: list[dict[str, Any]], tz: str) -> dict[str, Any]:
    zone = ZoneInfo(tz)

    def iso(value: Any) -> Any:
        return value.astimezone(zone).isoformat() if isinstance(value, dt.datetime) else value

    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": item["id"],
                "geometry": {"type": "Point", "coordinates": [item["lon"], item["lat"]]}
                if item["lat"] is not None
                else None,
                "properties": {k: iso(v) for k, v in item.items() if k not in ("lat", "lon")},
            }
            for item in items
        ],
    }


@dataclass(slots=True)
class StatRow:
    key: str | None
    name: str
    total: int
    open: int
    resolved: int
    median_hours_to_resolve: float | None
    within_sla_share: float | None  # of those resolved with an SLA


async def statistics_by(
    session: TenantSession, by: str, *, since: dt.datetime | None = None
) -> list[StatRow]:
    """Counts, median time to resolve and the share resolved within the SLA, per agency or per
    kecamatan. One aggregate query (percentile_cont in PostgreSQL)."""
    if by not in ("agency", "kecamatan"):
        raise InputErrors([Problem("by", "invalid", allowed="agency, kecamatan")])
    c = Complaint.__table__.c
    if by == "agency":
        key = c.agency_id
        name_col: Any = func.coalesce(Agency.__table__.c.name, "—")
        base: Any = Complaint.__table__.outerjoin(Agency.__table__, Agency.__table__.c.id == c.agency_id)
    else:
        key = c.kecamatan_code
        name_col = func.coalesce(func.max(c.kecamatan), "—")
        base = Complaint.__table__
    hours = func.extract("epoch", c.resolved_at - c.submitted_at) / 3600.0
    resolved = c.resolved_at.is_not(None)
    stmt = (
        select(
            key.label("key"),
            name_col.label("name") if by == "kecamatan" else func.max(name_col).label("name"),
            func.count().label("total"),
            func.count().filter(c.state.in_(OPEN_STATES)).label("open"),
            func.count().filter(resolved).label("resolved"),
            func.percentile_cont(0.5).within_group(hours).filter(resolved).label("median"),
            func.count().filter(and_(resolved, c.due_at.is_not(None))).label("with_sla"),
            func.count().filter(and_(resolved, c.resolved_at <= c.due_at)).label("within"),
        )
        .select_from(base)
        .where(c.state != "submitted", c.state != "duplicate")
        .group_by(key)
        .order_by(func.count().desc())
    )
    if since is not None:
        stmt = stmt.where(c.submitted_at >= since)
    rows = (await session.execute(stmt)).all()
    return [
        StatRow(
            key=None if r.key is None else str(r.key),
            name=r.name,
            total=r.total,
            open=r.open,
            resolved=r.resolved,
            median_hours_to_resolve=round(float(r.median), 1) if r.median is not None else None,
            within_sla_share=round(r.within / r.with_sla, 3) if r.with_sla else None,
        )
        for r in rows
    ]
