"""Answer shapes of the Laksa JSON API (msgspec). Times carry the city's offset (+07:00 WIB...)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from kotalive.modules.laksa.models import Category, HashtagRule
from kotalive.modules.laksa.reads import ComplaintView, InboxPage, StatRow
from kotalive.modules.laksa.web import city_time


class TimelineOut(msgspec.Struct):
    id: int
    at: dt.datetime
    kind: str
    from_state: str | None
    to_state: str | None
    actor: str | None
    actor_kind: str
    public: bool
    body: str | None
    data: dict[str, Any]


class PhotoOut(msgspec.Struct):
    id: int
    purpose: str
    status: str
    width: int
    height: int
    url: str | None
    thumbnail_url: str | None


class ComplaintOut(msgspec.Struct):
    id: int
    state: str
    priority: str
    emergency: bool
    description: str
    hashtags: list[str]
    category: str | None
    category_name: str | None
    category_name_en: str | None
    attributes: dict[str, Any]
    lat: float | None
    lon: float | None
    blurred: bool
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
    reporter: str | None
    anonymous: bool
    audience: str
    timeline: list[TimelineOut]
    photos: list[PhotoOut]
    assignee_id: int | None = None
    assignee: str | None = None
    contact: dict[str, Any] | None = None
    routing: dict[str, Any] | None = None
    citizen_id: int | None = None
    supported_by_me: bool = False
    reopen_count: int = 0
    source: str = "web"


def complaint_out(view: ComplaintView) -> ComplaintOut:
    staff = view.audience == "staff"
    return ComplaintOut(
        id=view.id,
        state=view.state,
        priority=view.priority,
        emergency=view.emergency,
        description=view.description,
        hashtags=view.hashtags,
        category=view.category_code,
        category_name=view.category_name,
        category_name_en=view.category_name_en,
        attributes=view.attributes,
        lat=view.lat,
        lon=view.lon,
        blurred=view.sensitive and view.audience == "public",
        address=view.address,
        kecamatan=view.kecamatan,
        kelurahan=view.kelurahan,
        agency_id=view.agency_id,
        agency=view.agency,
        copy_agencies=view.copy_agencies,
        submitted_at=city_time(view.submitted_at),  # type: ignore[arg-type]
        updated_at=city_time(view.updated_at),  # type: ignore[arg-type]
        due_at=city_time(view.due_at),
        sla=view.sla,
        resolved_at=city_time(view.resolved_at),
        closed_at=city_time(view.closed_at),
        support_count=view.support_count,
        duplicate_of=view.duplicate_of,
        rating=view.rating,
        rating_comment=view.rating_comment,
        reporter=view.reporter,
        anonymous=view.anonymous,
        audience=view.audience,
        timeline=[
            TimelineOut(
                e.id,
                city_time(e.at),  # type: ignore[arg-type]
                e.kind,
                e.from_state,
                e.to_state,
                e.actor,
                e.actor_kind,
                e.public,
                e.body,
                e.data,
            )
            for e in view.timeline
        ],
        photos=[
            PhotoOut(
                p.id,
                p.purpose,
                p.status,
                p.width,
                p.height,
                f"/api/v1/laksa/photos/{p.id}" if p.status == "ready" else None,
                f"/api/v1/laksa/photos/{p.id}?variant=thumb" if p.status == "ready" else None,
            )
            for p in view.photos
        ],
        assignee_id=view.assignee_id,
        assignee=view.assignee,
        contact=view.contact if staff else None,
        routing=view.routing if staff else None,
        citizen_id=view.citizen_id,
        supported_by_me=view.supported_by_me,
        reopen_count=view.reopen_count,
        source=view.source,
    )


class InboxRowOut(msgspec.Struct):
    id: int
    state: str
    priority: str
    emergency: bool
    summary: str
    category: str | None
    category_name: str | None
    category_name_en: str | None
    agency_id: int | None
    agency: str | None
    copy: bool
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


class InboxOut(msgspec.Struct):
    items: list[InboxRowOut]
    next_cursor: str | None


def inbox_out(page: InboxPage) -> InboxOut:
    return InboxOut(
        items=[
            InboxRowOut(
                id=r.id,
                state=r.state,
                priority=r.priority,
                emergency=r.emergency,
                summary=r.description[:200],
                category=r.category_code,
                category_name=r.category_name,
                category_name_en=r.category_name_en,
                agency_id=r.agency_id,
                agency=r.agency,
                copy=r.copy,
                kecamatan=r.kecamatan,
                kelurahan=r.kelurahan,
                submitted_at=city_time(r.submitted_at),  # type: ignore[arg-type]
                updated_at=city_time(r.updated_at),  # type: ignore[arg-type]
                due_at=city_time(r.due_at),
                sla=r.sla,
                assignee_id=r.assignee_id,
                assignee=r.assignee,
                support_count=r.support_count,
                photos=r.photos,
            )
            for r in page.rows
        ],
        next_cursor=page.next_cursor,
    )


class CategoryOut(msgspec.Struct):
    code: str
    name: str
    name_en: str | None
    description: str | None
    group: str | None
    agency_id: int | None
    priority: str
    emergency: bool
    sensitive: bool
    attributes: list[dict[str, Any]]
    active: bool
    id: int = 0  # for clients that name a category by id (the Live Room's classification)


def category_out(c: Category) -> CategoryOut:
    return CategoryOut(
        c.code,
        c.name,
        c.name_en,
        c.description,
        c.group_name,
        c.agency_id,
        c.priority,
        c.emergency,
        c.sensitive,
        list(c.attributes or []),
        c.active,
        c.id,
    )


class RuleOut(msgspec.Struct):
    id: int
    code: str
    hashtags: list[str]
    agency_id: int
    copy_agency_ids: list[int]
    category_code: str | None
    priority: str
    sla_hours: int
    precedence: int
    kecamatan_codes: list[str]
    active: bool
    description: str | None


def rule_out(r: HashtagRule) -> RuleOut:
    return RuleOut(
        r.id,
        r.code,
        list(r.hashtags),
        r.agency_id,
        list(r.copy_agency_ids or ()),
        r.category_code,
        r.priority,
        r.sla_hours,
        r.precedence,
        list(r.kecamatan_codes or ()),
        r.active,
        r.description,
    )


class StatOut(msgspec.Struct):
    key: str | None
    name: str
    total: int
    open: int
    resolved: int
    median_hours_to_resolve: float | None
    within_sla_share: float | None


def stat_out(r: StatRow) -> StatOut:
    return StatOut(r.key, r.name, r.total, r.open, r.resolved, r.median_hours_to_resolve, r.within_sla_share)
