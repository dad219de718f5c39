"""What a city admin configures in Laksa, and what the complaint services read of it: categories
(Open311 services), hashtag rules, kecamatan/kelurahan boundaries, SLA policies and the
working-hours calendar, response templates and Open311 API keys.

Boundaries, rules, categories and the SLA calendar are read on every submission, so each process
keeps them in memory per city for ``CACHE_SECONDS`` (and drops its copy at once when it makes the
change itself); a change made in another process is seen within that time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from kotalive.db import TenantSession
from kotalive.geo import Area as GeoArea
from kotalive.geo import AreaError, AreaIndex, parse_areas
from kotalive.modules.laksa.domain import (
    DEFAULT_AT_RISK_PERCENT,
    DEFAULT_CATEGORIES,
    DEFAULT_RULES,
    DEFAULT_SLA,
    DEFAULT_WORKING_HOURS,
    PRIORITIES,
    Calendar,
    CategoryView,
    InputErrors,
    NotFound,
    Problem,
    RuleView,
    extract_hashtags,
)
from kotalive.modules.laksa.models import (
    ApiKey,
    Area,
    Category,
    HashtagRule,
    Holiday,
    ResponseTemplate,
    SlaPolicy,
    WorkingHours,
)
from kotalive.registry import normalise_hashtag
from kotalive.tenants.city_models import Agency

CACHE_SECONDS = 30.0
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


# ---- per-process caches --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaSettings:
    policies: dict[str, tuple[int, str, int]]  # priority -> (hours, calendar, at-risk percent)
    calendar: Calendar


_area_cache: dict[str, tuple[float, AreaIndex]] = {}
_sla_cache: dict[str, tuple[float, SlaSettings]] = {}
_rule_cache: dict[str, tuple[float, list[RuleView]]] = {}
_category_cache: dict[str, tuple[float, dict[str, CategoryView]]] = {}


def forget_city(schema: str) -> None:
    for cache in (_area_cache, _sla_cache, _rule_cache, _category_cache):
        cache.pop(schema, None)


async def area_index(session: TenantSession) -> AreaIndex:
    schema = session.tenant.schema
    hit = _area_cache.get(schema)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    rows = (await session.execute(select(Area))).scalars().all()
    index = AreaIndex([GeoArea(a.kind, a.code, a.name, a.parent_code, a.geometry) for a in rows])
    _area_cache[schema] = (time.monotonic(), index)
    return index


async def sla_settings(session: TenantSession) -> SlaSettings:
    schema = session.tenant.schema
    hit = _sla_cache.get(schema)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    policies = {
        p.priority: (p.hours, p.calendar, p.at_risk_percent)
        for p in (await session.execute(select(SlaPolicy))).scalars()
    }
    for priority, (default_hours, calendar) in DEFAULT_SLA.items():
        policies.setdefault(priority, (default_hours, calendar, DEFAULT_AT_RISK_PERCENT))
    hours = {w.weekday: (w.opens, w.closes) for w in (await session.execute(select(WorkingHours))).scalars()}
    today = dt.date.today()
    holidays = frozenset(
        (
            await session.execute(select(Holiday.day).where(Holiday.day >= today - dt.timedelta(days=7)))
        ).scalars()
    )
    settings = SlaSettings(
        policies, Calendar(session.tenant.timezone, hours or DEFAULT_WORKING_HOURS, holidays)
    )
    _sla_cache[schema] = (time.monotonic(), settings)
    return settings


# ---- reading what routing needs ------------------------------------------------------------------


async def rule_views(session: TenantSession) -> list[RuleView]:
    """The city's active rules with their agencies (cached per process, see the module doc)."""
    schema = session.tenant.schema
    hit = _rule_cache.get(schema)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    views = await _load_rule_views(session)
    _rule_cache[schema] = (time.monotonic(), views)
    return views


async def _load_rule_views(session: TenantSession) -> list[RuleView]:
    rows = (
        await session.execute(
            select(HashtagRule, Agency.name, Agency.active)
            .join(Agency, Agency.id == HashtagRule.agency_id)
            .where(HashtagRule.active)
            .order_by(HashtagRule.precedence, HashtagRule.id)
        )
    ).all()
    return [
        RuleView(
            id=r.id,
            code=r.code,
            hashtags=tuple(r.hashtags),
            agency_id=r.agency_id,
            agency_name=name,
            agency_active=active,
            category_code=r.category_code,
            priority=r.priority,
            sla_hours=r.sla_hours,
            precedence=r.precedence,
            copy_agency_ids=tuple(r.copy_agency_ids or ()),
            kecamatan_codes=tuple(r.kecamatan_codes or ()),
        )
        for r, name, active in rows
    ]


async def category_views(session: TenantSession) -> dict[str, CategoryView]:
    """The city's active categories (cached per process, see the module doc)."""
    schema = session.tenant.schema
    hit = _category_cache.get(schema)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    views = await _load_category_views(session)
    _category_cache[schema] = (time.monotonic(), views)
    return views


async def _load_category_views(
    session: TenantSession, *, active_only: bool = True
) -> dict[str, CategoryView]:
    stmt = select(Category, Agency.name, Agency.active).outerjoin(Agency, Agency.id == Category.agency_id)
    if active_only:
        stmt = stmt.where(Category.active)
    rows = (await session.execute(stmt)).all()
    return {
        c.code: CategoryView(
            id=c.id,
            code=c.code,
            name=c.name,
            agency_id=c.agency_id,
            agency_name=name,
            agency_active=bool(active) if c.agency_id else False,
            priority=c.priority,
            emergency=c.emergency,
            sensitive=c.sensitive,
        )
        for c, name, active in rows
    }


async def list_categories(session: TenantSession, *, include_inactive: bool = False) -> list[Category]:
    stmt = select(Category).order_by(Category.sort, Category.name)
    if not include_inactive:
        stmt = stmt.where(Category.active)
    return list((await session.execute(stmt)).scalars())


async def get_category(session: TenantSession, code: str) -> Category:
    category = await session.scalar(select(Category).where(Category.code == code))
    if category is None:
        raise NotFound("category", code)
    return category


async def list_rules(session: TenantSession, *, include_inactive: bool = False) -> list[HashtagRule]:
    stmt = select(HashtagRule).order_by(HashtagRule.precedence, HashtagRule.id)
    if not include_inactive:
        stmt = stmt.where(HashtagRule.active)
    return list((await session.execute(stmt)).scalars())


# ---- defaults of a new city ----------------------------------------------------------------------


async def seed_city_defaults(session: TenantSession) -> None:
    """Categories, hashtag rules, SLA policies and office hours for a new city; re-running adds
    nothing twice and changes nothing the city already edited."""
    agencies = {code: id_ for code, id_ in (await session.execute(select(Agency.code, Agency.id))).all()}
    await session.execute(
        insert(Category)
        .values(
            [
                {
                    "code": c.code,
                    "name": c.name,
                    "name_en": c.name_en,
                    "group_name": c.group,
                    "keywords": list(c.keywords),
                    "agency_id": agencies.get(c.agency_code or ""),
                    "priority": c.priority,
                    "emergency": c.emergency,
                    "sensitive": c.sensitive,
                    "attributes": list(c.attributes),
                    "active": True,
                    "sort": (i + 1) * 10,
                }
                for i, c in enumerate(DEFAULT_CATEGORIES)
            ]
        )
        .on_conflict_do_nothing(index_elements=["code"])
    )
    rows = [
        {
            "code": r.code,
            "hashtags": list(r.hashtags),
            "agency_id": agencies[r.agency_code],
            "category_code": r.category_code,
            "priority": r.priority,
            "sla_hours": r.sla_hours,
            "precedence": r.precedence,
            "active": True,
            "copy_agency_ids": [],
            "kecamatan_codes": [],
        }
        for r in DEFAULT_RULES
        if r.agency_code in agencies
    ]
    if rows:
        await session.execute(
            insert(HashtagRule).values(rows).on_conflict_do_nothing(index_elements=["code"])
        )
    await session.execute(
        insert(SlaPolicy)
        .values(
            [
                {"priority": p, "hours": h, "calendar": c, "at_risk_percent": DEFAULT_AT_RISK_PERCENT}
                for p, (h, c) in DEFAULT_SLA.items()
            ]
        )
        .on_conflict_do_nothing(index_elements=["priority"])
    )
    if not (await session.execute(select(WorkingHours.weekday).limit(1))).first():
        await session.execute(
            insert(WorkingHours).values(
                [{"weekday": d, "opens": o, "closes": c} for d, (o, c) in DEFAULT_WORKING_HOURS.items()]
            )
        )


# ---- categories ----------------------------------------------------------------------------------


def _check_attributes(raw: Any, problems: list[Problem]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(Problem("attributes", "invalid"))
        return []
    out: list[dict[str, Any]] = []
    codes: set[str] = set()
    for i, attr in enumerate(raw):
        where = f"attributes[{i}]"
        if not isinstance(attr, dict):
            problems.append(Problem(where, "invalid"))
            continue
        code = str(attr.get("code") or "")
        datatype = str(attr.get("datatype") or "string")
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", code) or code in codes:
            problems.append(Problem(where, "code"))
            continue
        codes.add(code)
        if datatype not in DATATYPES:
            problems.append(Problem(where, "datatype", allowed=", ".join(DATATYPES)))
            continue
        values = attr.get("values") or []
        if datatype.endswith("valuelist") and (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, dict) and v.get("key") not in (None, "") for v in values)
        ):
            problems.append(Problem(where, "values"))
            continue
        out.append(
            {
                "code": code,
                "datatype": datatype,
                "description": str(attr.get("description") or code)[:500],
                "required": bool(attr.get("required", False)),
                "order": int(attr.get("order") or i + 1),
                "values": [{"key": str(v["key"]), "name": str(v.get("name") or v["key"])} for v in values]
                if datatype.endswith("valuelist")
                else [],
            }
        )
    return out


async def save_category(session: TenantSession, data: dict[str, Any], *, code: str | None = None) -> Category:
    """Create (``code`` None) or change a category; the caller commits."""
    problems: list[Problem] = []
    existing = await get_category(session, code) if code else None
    new_code = str(data.get("code") or code or "")
    if not CODE.match(new_code):
        problems.append(Problem("code", "invalid"))
    elif existing is None and await session.scalar(select(Category.id).where(Category.code == new_code)):
        problems.append(Problem("code", "taken", code=new_code))
    name = str(data.get("name") or (existing.name if existing else "")).strip()
    if not name or len(name) > 200:
        problems.append(Problem("name", "required"))
    priority = str(data.get("priority") or (existing.priority if existing else "normal"))
    if priority not in PRIORITIES:
        problems.append(Problem("priority", "invalid", allowed=", ".join(PRIORITIES)))
    agency_id = data.get("agency_id", existing.agency_id if existing else None)
    if agency_id is not None and await session.get(Agency, agency_id) is None:
        problems.append(Problem("agency_id", "unknown", id=agency_id))
    attributes = (
        _check_attributes(data["attributes"], problems)
        if "attributes" in data
        else (existing.attributes if existing else [])
    )
    if problems:
        raise InputErrors(problems)
    category = existing or Category(code=new_code)
    category.name = name
    for key in ("name_en", "description", "group_name"):
        if key in data:
            setattr(category, key, (str(data[key])[:500] if data[key] is not None else None))
    category.priority = priority
    category.agency_id = agency_id
    category.attributes = attributes
    for key in ("emergency", "sensitive", "active"):
        if key in data:
            setattr(category, key, bool(data[key]))
    if "keywords" in data and isinstance(data["keywords"], list):
        category.keywords = [str(k)[:64] for k in data["keywords"]][:50]
    if existing is None:
        category.active = bool(data.get("active", True))
        category.emergency = bool(data.get("emergency", False))
        category.sensitive = bool(data.get("sensitive", False))
        category.keywords = category.keywords or []
        category.sort = int(data.get("sort") or 100)
        session.add(category)
    await session.flush()
    forget_city(session.tenant.schema)
    return category


# ---- hashtag rules -------------------------------------------------------------------------------


async def save_rule(
    session: TenantSession, data: dict[str, Any], *, rule_id: int | None = None
) -> HashtagRule:
    problems: list[Problem] = []
    rule = None
    if rule_id is not None:
        rule = await session.get(HashtagRule, rule_id)
        if rule is None:
            raise NotFound("rule", rule_id)
    code = str(data.get("code") or (rule.code if rule else ""))
    if not CODE.match(code):
        problems.append(Problem("code", "invalid"))
    elif await session.scalar(
        select(HashtagRule.id).where(HashtagRule.code == code, HashtagRule.id != (rule_id or 0))
    ):
        problems.append(Problem("code", "taken", code=code))
    raw_tags = data.get("hashtags", rule.hashtags if rule else None)
    tags: list[str] = []
    if not isinstance(raw_tags, list) or not raw_tags:
        problems.append(Problem("hashtags", "required"))
    else:
        for tag in raw_tags:
            plain = normalise_hashtag(str(tag))
            if not plain or not re.fullmatch(r"\w{1,64}", plain) or plain.isdigit():
                problems.append(Problem("hashtags", "invalid", tag=str(tag)[:70]))
            elif plain not in tags:
                tags.append(plain)
    agency_id = data.get("agency_id", rule.agency_id if rule else None)
    if not isinstance(agency_id, int) or await session.get(Agency, agency_id) is None:
        problems.append(Problem("agency_id", "unknown", id=agency_id))
    copies = data.get("copy_agency_ids", rule.copy_agency_ids if rule else [])
    if not isinstance(copies, list) or not all(isinstance(a, int) for a in copies):
        problems.append(Problem("copy_agency_ids", "invalid"))
        copies = []
    else:
        known = set((await session.execute(select(Agency.id).where(Agency.id.in_(copies)))).scalars())
        for a in copies:
            if a not in known:
                problems.append(Problem("copy_agency_ids", "unknown", id=a))
    category_code = data.get("category_code", rule.category_code if rule else None)
    if category_code is not None and not await session.scalar(
        select(Category.id).where(Category.code == category_code)
    ):
        problems.append(Problem("category_code", "unknown", code=str(category_code)[:70]))
    priority = str(data.get("priority") or (rule.priority if rule else "normal"))
    if priority not in PRIORITIES:
        problems.append(Problem("priority", "invalid", allowed=", ".join(PRIORITIES)))
    sla_hours = data.get("sla_hours", rule.sla_hours if rule else 72)
    if not isinstance(sla_hours, int) or not 1 <= sla_hours <= 24 * 365:
        problems.append(Problem("sla_hours", "invalid"))
    precedence = data.get("precedence", rule.precedence if rule else 100)
    if not isinstance(precedence, int) or not 0 <= precedence <= 1_000_000:
        problems.append(Problem("precedence", "invalid"))
    kecamatan = data.get("kecamatan_codes", rule.kecamatan_codes if rule else [])
    if not isinstance(kecamatan, list) or not all(isinstance(k, str) for k in kecamatan):
        problems.append(Problem("kecamatan_codes", "invalid"))
        kecamatan = []
    else:
        known_kec = set((await session.execute(select(Area.code).where(Area.kind == "kecamatan"))).scalars())
        for k in kecamatan:
            if k not in known_kec:
                problems.append(Problem("kecamatan_codes", "unknown", code=k[:70]))
    if problems:
        raise InputErrors(problems)
    if rule is None:
        rule = HashtagRule(code=code)
        session.add(rule)
    rule.code = code
    rule.hashtags = tags
    rule.agency_id = agency_id  # type: ignore[assignment]
    rule.copy_agency_ids = [a for a in copies if a != agency_id]
    rule.category_code = category_code
    rule.priority = priority
    rule.sla_hours = sla_hours
    rule.precedence = precedence
    rule.kecamatan_codes = list(kecamatan)
    rule.active = bool(data.get("active", rule.active if rule.active is not None else True))
    if "description" in data:
        rule.description = str(data["description"])[:500] if data["description"] else None
    await session.flush()
    forget_city(session.tenant.schema)
    return rule


async def delete_rule(session: TenantSession, rule_id: int) -> None:
    rule = await session.get(HashtagRule, rule_id)
    if rule is None:
        raise NotFound("rule", rule_id)
    # Complaints keep their history (rule_id is set null); the rule stops routing at once.
    await session.delete(rule)
    await session.flush()
    forget_city(session.tenant.schema)


def preview_tags(description: str) -> list[str]:
    return extract_hashtags(description)


# ---- boundaries ----------------------------------------------------------------------------------


async def replace_areas(session: TenantSession, document: Any) -> list[GeoArea]:
    """Replace the city's kecamatan and kelurahan with a GeoJSON upload (all or nothing)."""
    try:
        areas = parse_areas(document)
    except AreaError as exc:
        raise InputErrors([Problem("areas", "invalid", where=exc.field, reason=exc.reason)]) from None
    await session.execute(delete(Area))
    session.add_all(
        Area(kind=a.kind, code=a.code, name=a.name, parent_code=a.parent_code, geometry=a.geometry)
        for a in areas
    )
    await session.flush()
    forget_city(session.tenant.schema)
    return areas


async def areas_geojson(session: TenantSession) -> dict[str, Any]:
    rows = (await session.execute(select(Area).order_by(Area.kind, Area.name))).scalars()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"kind": a.kind, "code": a.code, "name": a.name, "kecamatan": a.parent_code},
                "geometry": a.geometry,
            }
            for a in rows
        ],
    }


# ---- SLA policies and the calendar ---------------------------------------------------------------


async def save_sla_policy(
    session: TenantSession, priority: str, hours: Any, calendar: Any, at_risk_percent: Any
) -> SlaPolicy:
    problems = []
    if priority not in PRIORITIES:
        raise NotFound("priority", priority)
    if not isinstance(hours, int) or not 1 <= hours <= 24 * 365:
        problems.append(Problem("hours", "invalid"))
    if calendar not in ("working", "always"):
        problems.append(Problem("calendar", "invalid"))
    if not isinstance(at_risk_percent, int) or not 1 <= at_risk_percent <= 99:
        problems.append(Problem("at_risk_percent", "invalid"))
    if problems:
        raise InputErrors(problems)
    stmt = insert(SlaPolicy).values(
        priority=priority, hours=hours, calendar=calendar, at_risk_percent=at_risk_percent
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["priority"],
            set_={"hours": hours, "calendar": calendar, "at_risk_percent": at_risk_percent},
        )
    )
    forget_city(session.tenant.schema)
    policy = await session.get(SlaPolicy, priority, populate_existing=True)
    assert policy is not None
    return policy


def _time(value: Any) -> dt.time | None:
    if isinstance(value, str) and re.fullmatch(r"\d{2}:\d{2}", value):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            return None
    return None


async def set_working_hours(session: TenantSession, days: dict[str, Any]) -> None:
    """``{"1": ["08:00", "16:00"], ..., "6": null}``: ISO weekday -> opening and closing time, or
    null for a closed day. At least one day must be open."""
    problems: list[Problem] = []
    rows = []
    for key, span in days.items():
        if key not in {str(d) for d in range(1, 8)}:
            problems.append(Problem("weekday", "invalid", day=str(key)[:10]))
            continue
        if span is None:
            continue
        opens = _time(span[0]) if isinstance(span, list) and len(span) == 2 else None
        closes = _time(span[1]) if isinstance(span, list) and len(span) == 2 else None
        if opens is None or closes is None or opens >= closes:
            problems.append(Problem("hours", "invalid", day=key))
            continue
        rows.append({"weekday": int(key), "opens": opens, "closes": closes})
    if not rows and not problems:
        problems.append(Problem("hours", "none_open"))
    if problems:
        raise InputErrors(problems)
    await session.execute(delete(WorkingHours))
    await session.execute(insert(WorkingHours).values(rows))
    forget_city(session.tenant.schema)


async def add_holiday(session: TenantSession, day: Any, name: Any) -> None:
    try:
        parsed = dt.date.fromisoformat(str(day))
    except ValueError:
        raise InputErrors([Problem("day", "invalid")]) from None
    if not isinstance(name, str) or not name.strip():
        raise InputErrors([Problem("name", "required")])
    stmt = insert(Holiday).values(day=parsed, name=name.strip()[:200])
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["day"], set_={"name": stmt.excluded.name})
    )
    forget_city(session.tenant.schema)


async def remove_holiday(session: TenantSession, day: str) -> None:
    try:
        parsed = dt.date.fromisoformat(day)
    except ValueError:
        raise NotFound("holiday", day) from None
    await session.execute(delete(Holiday).where(Holiday.day == parsed))
    forget_city(session.tenant.schema)


# ---- response templates --------------------------------------------------------------------------


async def templates_for(session: TenantSession, agency_ids: Sequence[int] | None) -> list[ResponseTemplate]:
    """City-wide templates plus those of these agencies (all when ``agency_ids`` is None)."""
    stmt = select(ResponseTemplate).where(ResponseTemplate.active).order_by(ResponseTemplate.title)
    if agency_ids is not None:
        stmt = stmt.where(
            (ResponseTemplate.agency_id.is_(None)) | (ResponseTemplate.agency_id.in_(list(agency_ids)))
        )
    return list((await session.execute(stmt)).scalars())


async def save_template(
    session: TenantSession, *, title: Any, body: Any, agency_id: Any, created_by: str
) -> ResponseTemplate:
    problems = []
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        problems.append(Problem("title", "required"))
    if not isinstance(body, str) or not body.strip() or len(body) > 4000:
        problems.append(Problem("body", "required"))
    if agency_id is not None and (
        not isinstance(agency_id, int) or await session.get(Agency, agency_id) is None
    ):
        problems.append(Problem("agency_id", "unknown", id=agency_id))
    if problems:
        raise InputErrors(problems)
    template = ResponseTemplate(
        title=str(title).strip(), body=str(body).strip(), agency_id=agency_id, created_by=created_by
    )
    session.add(template)
    await session.flush()
    return template


async def delete_template(session: TenantSession, template_id: int, agency_ids: Sequence[int] | None) -> None:
    template = await session.get(ResponseTemplate, template_id)
    if template is None or (agency_ids is not None and template.agency_id not in agency_ids):
        raise NotFound("template", template_id)
    template.active = False
    await session.flush()


# ---- Open311 API keys ----------------------------------------------------------------------------

KEY_PREFIX = "kl311_"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def issue_api_key(session: TenantSession, name: str, created_by: str) -> tuple[ApiKey, str]:
    """A new partner key; the key itself is returned once and never stored."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InputErrors([Problem("name", "required")])
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    row = ApiKey(
        name=name.strip(), prefix=key[: len(KEY_PREFIX) + 6], key_hash=_key_hash(key), created_by=created_by
    )
    session.add(row)
    await session.flush()
    return row, key


async def find_api_key(session: TenantSession, key: str) -> ApiKey | None:
    if not key or len(key) > 200:
        return None
    row = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == _key_hash(key), ApiKey.revoked_at.is_(None))
    )
    if row is not None:
        await session.execute(
            update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=dt.datetime.now(dt.UTC))
        )
    return row


async def revoke_api_key(session: TenantSession, key_id: int) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("api_key", key_id)
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.UTC)
    await session.flush()
    return row


async def list_api_keys(session: TenantSession) -> list[ApiKey]:
    return list((await session.execute(select(ApiKey).order_by(ApiKey.id))).scalars())
