"""Laksa use cases: a complaint from submission to closure. The only place that writes complaints.

Every change takes the complaint's row with ``FOR UPDATE`` (two staff acting at once: the second
sees the first one's result and gets a 409 if its action no longer applies), applies the rules of
``domain``, writes a timeline entry and publishes its event to the outbox, in one transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from kotalive.auth.models import Employee
from kotalive.auth.principal import Principal
from kotalive.auth.ratelimit import Limit, RateLimiter
from kotalive.context import TenantContext
from kotalive.db import TenantSession
from kotalive.events import publish
from kotalive.geo import box_around, distance_m, valid_point
from kotalive.modules.laksa import configuration as config
from kotalive.modules.laksa.domain import (
    AGENCY_STATES,
    DONE_STATES,
    OPEN_STATES,
    PRIORITIES,
    PRIORITY_RANK,
    CategoryView,
    Conflict,
    Forbidden,
    InputErrors,
    LaksaConfig,
    NotFound,
    Problem,
    RateLimited,
    Routing,
    calendar_for,
    due_times,
    extract_hashtags,
    route,
    transition,
    unstorable,
)
from kotalive.modules.laksa.media import CheckedPhoto, PhotoRefused, check_photo, process_photo
from kotalive.modules.laksa.models import Category, Complaint, Media, Support, TimelineEntry
from kotalive.tenants.city_models import Agency

log = logging.getLogger(__name__)

SUPPORTERS_IN_EVENT = 1000  # a status change names at most this many supporters to notify
OPEN311_PER_KEY = Limit("laksa-submit:open311", 600, 3600)


# ---- who acts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something to a complaint: a citizen, an employee, a partner application (Open311)
    or the system (scheduled work)."""

    kind: str  # citizen | employee | partner | system
    id: int | None
    name: str
    roles: frozenset[str] = frozenset()
    agency_ids: frozenset[int] = frozenset()
    whole_city: bool = False

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(
            kind=principal.kind,
            id=principal.id,
            name=principal.name,
            roles=principal.roles,
            agency_ids=principal.agency_ids,
            whole_city=principal.sees_whole_city,
        )

    @classmethod
    def system(cls, what: str = "sistem") -> Actor:
        return cls(kind="system", id=None, name=what)

    @classmethod
    def partner(cls, key_id: int, name: str) -> Actor:
        return cls(kind="partner", id=key_id, name=name)

    @property
    def is_staff(self) -> bool:
        return self.kind == "employee"

    def sees(self, complaint: Complaint) -> bool:
        """May this actor see the complaint's staff view (internal notes, reporter)?"""
        if self.kind == "system":
            return True
        if not self.is_staff:
            return False
        if self.whole_city:
            return True
        return complaint.agency_id in self.agency_ids or bool(
            set(complaint.copied_agency_ids or ()) & self.agency_ids
        )

    def acts_for_agency(self, complaint: Complaint) -> bool:
        return self.is_staff and complaint.agency_id is not None and complaint.agency_id in self.agency_ids


# ---- input ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    filename: str | None = None


@dataclass(slots=True)
class NewComplaint:
    description: str
    category_code: str | None = None
    lat: Any = None
    lon: Any = None
    address: str | None = None
    kecamatan_code: str | None = None  # when the location is an address without a map point
    anonymous: bool = False
    photos: Sequence[Upload] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    contact: dict[str, Any] = field(default_factory=dict)  # Open311: first/last name, email, phone
    source: str = "web"


@dataclass(frozen=True, slots=True)
class Submitted:
    complaint: Complaint
    replayed: bool  # True: an earlier submission with the same idempotency key
    routing: dict[str, Any]
    nearby: list[dict[str, Any]]


def _fingerprint(new: NewComplaint) -> str:
    body = {
        "d": new.description,
        "c": new.category_code,
        "lat": str(new.lat),
        "lon": str(new.lon),
        "a": new.address,
        "k": new.kecamatan_code,
        "an": new.anonymous,
        "at": new.attributes,
        "p": [hashlib.sha256(p.data).hexdigest() for p in new.photos],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _check_attribute(spec: dict[str, Any], value: Any) -> str | None:
    """None if ``value`` fits the Open311 attribute, else the problem code."""
    datatype = spec.get("datatype", "string")
    keys = {str(v.get("key")) for v in spec.get("values") or []}
    if datatype == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return "not_number"
        return None if math.isfinite(number) else "not_number"
    if datatype == "datetime":
        try:
            dt.datetime.fromisoformat(str(value))
        except ValueError:
            return "not_datetime"
        return None
    if datatype == "singlevaluelist":
        return None if str(value) in keys else "not_in_list"
    if datatype == "multivaluelist":
        items = value if isinstance(value, list) else [value]
        return None if items and all(str(v) in keys for v in items) else "not_in_list"
    return None if len(str(value)) <= 2000 else "too_long"


# ---- the service ---------------------------------------------------------------------------------


class ComplaintService:
    """Use cases of one city's complaints, on the caller's session (the service commits)."""

    def __init__(self, session: TenantSession, *, redis: Any = None, commit: bool = True) -> None:
        self.session = session
        self.tenant: TenantContext = session.tenant
        self.redis = redis
        # False inside an event consumer: its transaction (with the receipt) is the caller's.
        self.commit = commit
        self.config = LaksaConfig.of(self.tenant.module_config.get("laksa"))

    # ---- submission ----------------------------------------------------------------------------

    async def submit(self, actor: Actor, new: NewComplaint) -> Submitted:
        """Validate, route, compute the SLA, store with photos pending, publish; idempotent by key."""
        cfg = self.config
        if actor.kind not in ("citizen", "partner", "employee"):
            raise Forbidden("cannot_submit")
        scope = f"{actor.kind}:{actor.id}"
        key = (new.idempotency_key or "").strip() or None
        problems: list[Problem] = []
        if key is not None and len(key) > 128:
            problems.append(Problem("idempotency_key", "too_long"))
            key = None
        fingerprint = _fingerprint(new)
        if key is not None:
            found = await self._by_idempotency(scope, key, fingerprint)
            if found is not None:
                return found

        description = (new.description or "").strip()
        if not description:
            problems.append(Problem("description", "required"))
        elif len(description) < cfg.description_min:
            problems.append(Problem("description", "too_short", min=cfg.description_min))
        elif len(description) > cfg.description_max:
            problems.append(
                Problem("description", "too_long", max=cfg.description_max, length=len(description))
            )
        if unstorable(description):
            problems.append(Problem("description", "invalid"))

        categories = await config.category_views(self.session)
        category: CategoryView | None = None
        category_row: Category | None = None
        if new.category_code:
            category = categories.get(new.category_code)
            if category is None:
                problems.append(Problem("category", "unknown", code=str(new.category_code)[:64]))
            else:
                category_row = await self.session.get(Category, category.id)

        point = None
        if new.lat not in (None, "") or new.lon not in (None, ""):
            point = valid_point(new.lat, new.lon)
            if point is None:
                problems.append(Problem("location", "out_of_range"))
        address = (new.address or "").strip()[:500] or None
        if address is not None and unstorable(address):
            problems.append(Problem("address", "invalid"))
            address = None
        for contact_field, value in (new.contact or {}).items():
            if isinstance(value, str) and unstorable(value):
                problems.append(Problem(f"contact[{contact_field}]", "invalid"))
        if point is None and address is None and not any(p.field == "location" for p in problems):
            problems.append(Problem("location", "required"))

        attributes: dict[str, Any] = {}
        if category_row is not None:
            for spec in sorted(category_row.attributes or [], key=lambda a: a.get("order", 0)):
                code = spec["code"]
                value = new.attributes.get(code)
                if value in (None, "", []):
                    if spec.get("required"):
                        problems.append(
                            Problem(f"attribute[{code}]", "required", name=spec.get("description", code))
                        )
                    continue
                wrong = _check_attribute(spec, value)
                texts = value if isinstance(value, list) else [value]
                if any(isinstance(v, str) and unstorable(v) for v in texts):
                    wrong = "invalid"
                if wrong:
                    problems.append(Problem(f"attribute[{code}]", wrong, name=spec.get("description", code)))
                else:
                    attributes[code] = value
        # (attributes sent without a category are ignored, as Open311 servers do)

        checked, photo_problems = await self._photos(list(new.photos))
        problems += photo_problems

        located = None
        if point is not None:
            index = await config.area_index(self.session)
            located = index.locate(*point)
            if not located.inside:
                problems.append(Problem("location", "outside_city", city=self.tenant.name))
        kecamatan_code = located.kecamatan_code if located else None
        kecamatan = located.kecamatan if located else None
        if located is None and new.kecamatan_code:
            index = await config.area_index(self.session)
            match = next((a for a in index.kecamatan() if a.code == new.kecamatan_code), None)
            if match is None:
                problems.append(Problem("kecamatan", "unknown"))
            else:
                kecamatan_code, kecamatan = match.code, match.name
        if problems:
            raise InputErrors(problems)

        await self._rate_limit(actor)

        hashtags = extract_hashtags(description)
        routing = route(hashtags, kecamatan_code, await config.rule_views(self.session), category, categories)
        if category is None and routing.category_code:
            category = categories.get(routing.category_code)
        nearby = (
            await self.nearby(point[0], point[1], category.id if category else None, limit=5)
            if point is not None
            else []
        )
        now = dt.datetime.now(dt.UTC)
        complaint = Complaint(
            source=new.source,
            citizen_id=actor.id if actor.kind == "citizen" else None,
            api_key_id=actor.id if actor.kind == "partner" else None,
            contact={k: str(v)[:200] for k, v in (new.contact or {}).items() if v},
            anonymous=bool(new.anonymous),
            description=description,
            hashtags=hashtags,
            category_id=category.id if category else None,
            attributes=attributes,
            lat=point[0] if point else None,
            lon=point[1] if point else None,
            address=address,
            kecamatan=kecamatan,
            kecamatan_code=kecamatan_code,
            kelurahan=located.kelurahan if located else None,
            kelurahan_code=located.kelurahan_code if located else None,
            state="submitted",
            priority=routing.priority,
            priority_rank=PRIORITY_RANK[routing.priority],
            emergency=routing.emergency,
            copied_agency_ids=[],
            routing={**routing.explanation(), "nearby": [n["id"] for n in nearby]},
            support_count=0,
            reopen_count=0,
            submitted_at=now,
            updated_at=now,
            idempotency_scope=scope if key else None,
            idempotency_key=key,
            request_fingerprint=fingerprint if key else None,
            open311_token=secrets.token_urlsafe(18) if new.source == "open311" else None,
            sla_calendar="working",
        )
        # Routed before the first write: one INSERT with the agency, state and SLA in place.
        await self._route(complaint, routing, now)
        self.session.add(complaint)
        try:
            await self.session.flush()
        except IntegrityError:
            # The same key, submitted at the same moment by a retry: the other one won.
            await self.session.rollback()
            if key is not None:
                found = await self._by_idempotency(scope, key, fingerprint)
                if found is not None:
                    return found
            raise
        self._timeline(complaint, "submitted", actor, to_state="submitted", data={"hashtags": hashtags})
        for photo in checked:
            self.session.add(
                Media(
                    complaint_id=complaint.id,
                    purpose="report",
                    status="pending",
                    filename=photo.filename,
                    format=photo.format,
                    width=photo.width,
                    height=photo.height,
                    original=photo.data,
                    sha256=photo.sha256,
                )
            )
        publish(
            self.session, "laksa.complaint_submitted", self._payload(complaint, actor, photos=len(checked))
        )
        self._routed(complaint, routing, actor)
        if checked:
            publish(self.session, "laksa.photos_uploaded", {"complaint_id": complaint.id})
        await self._commit()
        return Submitted(complaint, False, complaint.routing, nearby)

    async def _by_idempotency(self, scope: str, key: str, fingerprint: str) -> Submitted | None:
        existing = await self.session.scalar(
            select(Complaint).where(Complaint.idempotency_scope == scope, Complaint.idempotency_key == key)
        )
        if existing is None:
            return None
        if existing.request_fingerprint != fingerprint:
            raise Conflict("idempotency_key_reused")
        return Submitted(existing, True, existing.routing, [])

    async def _rate_limit(self, actor: Actor) -> None:
        if self.redis is None or actor.kind not in ("citizen", "partner"):
            return
        limiter = RateLimiter(self.redis)
        if actor.kind == "citizen":
            limit = Limit("laksa-submit:citizen", self.config.submissions_per_hour, 3600)
        else:
            limit = OPEN311_PER_KEY
        verdict = await limiter.hit(limit, f"{self.tenant.id}:{actor.id}")
        if not verdict.allowed:
            raise RateLimited(verdict.retry_after)

    async def _route(self, complaint: Complaint, routing: Routing, now: dt.datetime) -> None:
        """Where the new complaint goes: an agency (with its SLA), or the triage queue."""
        if routing.agency_id is None:
            complaint.state = "triage"
            return
        await self._assign_agency(complaint, routing.agency_id, list(routing.copy_agency_ids), now)
        await self._start_sla(complaint, routing.sla_hours, now)
        complaint.rule_id = routing.rule_id
        complaint.state = "forwarded"

    def _routed(self, complaint: Complaint, routing: Routing, actor: Actor) -> None:
        """The routing's timeline entry and event, once the complaint has its id."""
        system = Actor.system("aturan tagar" if routing.via == "rule" else "sistem")
        if complaint.agency_id is None:
            self._timeline(
                complaint,
                "triage",
                system,
                from_state="submitted",
                to_state="triage",
                data=routing.explanation(),
            )
            publish(self.session, "laksa.complaint_awaiting_triage", self._payload(complaint, actor))
            return
        self._timeline(
            complaint,
            "routed",
            system,
            from_state="submitted",
            to_state="forwarded",
            data={**routing.explanation(), "agency_id": routing.agency_id},
        )
        publish(
            self.session,
            "laksa.complaint_routed",
            {**self._payload(complaint, actor), "via": routing.via, "rule": routing.rule_code},
        )

    async def _assign_agency(
        self, complaint: Complaint, agency_id: int, copies: Sequence[int], now: dt.datetime
    ) -> None:
        complaint.agency_id = agency_id
        complaint.copied_agency_ids = sorted({a for a in copies if a != agency_id})
        complaint.forwarded_at = now
        complaint.acknowledged_at = None
        complaint.assignee_id = None

    async def _start_sla(self, complaint: Complaint, hours: int | None, now: dt.datetime) -> None:
        sla = await config.sla_settings(self.session)
        policy_hours, policy_calendar, at_risk = sla.policies[complaint.priority]
        complaint.sla_hours = hours or policy_hours
        complaint.sla_calendar = calendar_for(complaint.priority, complaint.emergency, policy_calendar)
        complaint.at_risk_at, complaint.due_at = due_times(
            now, complaint.sla_hours, complaint.sla_calendar, sla.calendar, at_risk
        )
        complaint.sla_at_risk_flagged_at = None
        complaint.sla_breached_flagged_at = None

    # ---- before submitting ---------------------------------------------------------------------

    async def nearby(
        self, lat: float, lon: float, category_id: int | None, *, radius_m: int | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        """Open complaints of this category (any, when None) within the city's duplicate radius,
        nearest first: what the citizen may support instead of filing another."""
        radius = radius_m or self.config.duplicate_radius_m
        min_lat, max_lat, min_lon, max_lon = box_around(lat, lon, radius)
        stmt = (
            select(
                Complaint.id,
                Complaint.lat,
                Complaint.lon,
                Complaint.state,
                Complaint.description,
                Complaint.support_count,
                Complaint.submitted_at,
                Complaint.category_id,
                Category.sensitive,
            )
            .outerjoin(Category, Category.id == Complaint.category_id)
            .where(
                Complaint.state.in_(OPEN_STATES),
                Complaint.lat.between(min_lat, max_lat),
                Complaint.lon.between(min_lon, max_lon),
            )
            # nearest first already in SQL, so a crowded spot never loses its closest complaints
            .order_by(func.abs(Complaint.lat - lat) + func.abs(Complaint.lon - lon))
            .limit(200)
        )
        if category_id is not None:
            stmt = stmt.where(Complaint.category_id == category_id)
        found = []
        for row in (await self.session.execute(stmt)).all():
            distance = distance_m(lat, lon, row.lat, row.lon)
            if distance <= radius:
                found.append({"id": row.id, "distance_m": round(distance, 1), "row": row})
        found.sort(key=lambda f: (f["distance_m"], -f["row"].id))
        return found[:limit]

    # ---- staff work ----------------------------------------------------------------------------

    async def _load(self, complaint_id: int, actor: Actor, *, for_update: bool = True) -> Complaint:
        stmt = select(Complaint).where(Complaint.id == complaint_id)
        if for_update:
            stmt = stmt.with_for_update()
        complaint = await self.session.scalar(stmt.execution_options(populate_existing=True))
        if complaint is None:
            raise NotFound("complaint", complaint_id)
        if actor.kind == "citizen":
            if complaint.citizen_id != actor.id:
                raise NotFound("complaint", complaint_id)
        elif not actor.sees(complaint):
            raise NotFound("complaint", complaint_id)
        return complaint

    def _require_agency_member(self, complaint: Complaint, actor: Actor) -> None:
        if actor.kind == "system" or actor.acts_for_agency(complaint):
            return
        if complaint.agency_id is not None and set(complaint.copied_agency_ids or ()) & actor.agency_ids:
            raise Forbidden("copy_only")
        raise Forbidden("not_your_agency")

    async def _agency(self, agency_id: Any, field_name: str = "agency_id") -> Agency:
        agency = await self.session.get(Agency, agency_id) if isinstance(agency_id, int) else None
        if agency is None:
            raise InputErrors([Problem(field_name, "unknown", id=agency_id)])
        if not agency.active:
            raise InputErrors([Problem(field_name, "inactive", name=agency.name)])
        return agency

    async def _copies(self, ids: Any) -> list[int]:
        if ids in (None, []):
            return []
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise InputErrors([Problem("copy_agency_ids", "invalid")])
        for agency_id in ids:
            await self._agency(agency_id, "copy_agency_ids")
        return list(ids)

    def _note(self, text: Any, *, required: bool, field_name: str = "note") -> str | None:
        value = text.strip() if isinstance(text, str) else ""
        if unstorable(value):
            raise InputErrors([Problem(field_name, "invalid")])
        if not value:
            if required:
                raise InputErrors([Problem(field_name, "required")])
            return None
        if len(value) > 4000:
            raise InputErrors([Problem(field_name, "too_long", max=4000)])
        return value

    async def forward(
        self,
        actor: Actor,
        complaint_id: int,
        agency_id: Any,
        *,
        copy_agency_ids: Any = None,
        note: Any = None,
    ) -> Complaint:
        """From the triage queue to an agency (the Live Room's operators, the city admin)."""
        complaint = await self._load(complaint_id, actor)
        t = transition("forward", complaint.state)
        agency = await self._agency(agency_id)
        copies = await self._copies(copy_agency_ids)
        body = self._note(note, required=False)
        now = dt.datetime.now(dt.UTC)
        before = complaint.state
        await self._assign_agency(complaint, agency.id, copies, now)
        await self._start_sla(complaint, complaint.sla_hours if complaint.rule_id else None, now)
        complaint.state = t.to_state
        self._timeline(
            complaint,
            t.timeline_kind,
            actor,
            from_state=before,
            to_state=t.to_state,
            body=body,
            public=True,
            data={
                "agency_id": agency.id,
                "agency": agency.name,
                "copy_agency_ids": complaint.copied_agency_ids,
            },
        )
        await self._publish_change(complaint, actor, before, extra={"note": body})
        publish(
            self.session,
            "laksa.complaint_routed",
            {**self._payload(complaint, actor), "via": "forwarded", "rule": None},
        )
        return await self._save(complaint)

    async def acknowledge(self, actor: Actor, complaint_id: int, note: Any = None) -> Complaint:
        return await self._agency_step(actor, complaint_id, "acknowledge", note)

    async def start(self, actor: Actor, complaint_id: int, note: Any = None) -> Complaint:
        return await self._agency_step(actor, complaint_id, "start", note)

    async def _agency_step(self, actor: Actor, complaint_id: int, action: str, note: Any) -> Complaint:
        complaint = await self._load(complaint_id, actor)
        t = transition(action, complaint.state)
        self._require_agency_member(complaint, actor)
        body = self._note(note, required=False)
        before = complaint.state
        now = dt.datetime.now(dt.UTC)
        complaint.state = t.to_state
        if complaint.acknowledged_at is None:
            complaint.acknowledged_at = now
        if action == "start" and complaint.assignee_id is None and actor.is_staff:
            complaint.assignee_id = actor.id  # who starts the work holds it, unless assigned
        self._timeline(complaint, t.timeline_kind, actor, from_state=before, to_state=t.to_state, body=body)
        await self._publish_change(complaint, actor, before, extra={"note": body})
        return await self._save(complaint)

    async def resolve(
        self, actor: Actor, complaint_id: int, note: Any, photos: Sequence[Upload] = ()
    ) -> Complaint:
        """Done, with a note to the citizen and optionally photos of the result."""
        complaint = await self._load(complaint_id, actor)
        t = transition("resolve", complaint.state)
        self._require_agency_member(complaint, actor)
        body = self._note(note, required=True)
        checked = await self._check_photos(photos)
        before = complaint.state
        now = dt.datetime.now(dt.UTC)
        complaint.state = t.to_state
        complaint.resolved_at = now
        if complaint.acknowledged_at is None:
            complaint.acknowledged_at = now
        entry = self._timeline(
            complaint, t.timeline_kind, actor, from_state=before, to_state=t.to_state, body=body
        )
        if checked:
            await self.session.flush()
            for photo in checked:
                self.session.add(
                    Media(
                        complaint_id=complaint.id,
                        timeline_id=entry.id,
                        purpose="proof",
                        status="pending",
                        filename=photo.filename,
                        format=photo.format,
                        width=photo.width,
                        height=photo.height,
                        original=photo.data,
                        sha256=photo.sha256,
                    )
                )
            publish(self.session, "laksa.photos_uploaded", {"complaint_id": complaint.id})
        await self._publish_change(complaint, actor, before, extra={"note": body, "photos": len(checked)})
        return await self._save(complaint)

    async def _photos(self, photos: Sequence[Upload]) -> tuple[list[CheckedPhoto], list[Problem]]:
        """The uploads checked against the city's limits: the good ones, and what is wrong."""
        cfg = self.config
        if len(photos) > cfg.max_photos:
            return [], [Problem("photos", "too_many", max=cfg.max_photos)]
        checked, problems = [], []
        for i, upload in enumerate(photos):
            try:
                checked.append(
                    await asyncio.to_thread(
                        check_photo,
                        upload.data,
                        upload.filename,
                        max_bytes=cfg.max_photo_bytes,
                        max_pixels=cfg.max_photo_pixels,
                    )
                )
            except PhotoRefused as exc:
                params = {"n": i + 1, "name": (upload.filename or "")[:80], **exc.params}
                problems.append(Problem(f"photos[{i}]", exc.code, params))
        return checked, problems

    async def _check_photos(self, photos: Sequence[Upload]) -> list[CheckedPhoto]:
        checked, problems = await self._photos(photos)
        if problems:
            raise InputErrors(problems)
        return checked

    async def return_to_triage(self, actor: Actor, complaint_id: int, reason: Any) -> Complaint:
        """ "Bukan wewenang": not this agency's to handle; back to the Live Room with the reason."""
        complaint = await self._load(complaint_id, actor)
        t = transition("return", complaint.state)
        self._require_agency_member(complaint, actor)
        body = self._note(reason, required=True, field_name="reason")
        before, agency_id = complaint.state, complaint.agency_id
        complaint.state = t.to_state
        complaint.agency_id = None
        complaint.copied_agency_ids = []
        complaint.assignee_id = None
        complaint.due_at = complaint.at_risk_at = None
        complaint.acknowledged_at = None
        agency = await self.session.get(Agency, agency_id) if agency_id else None
        self._timeline(
            complaint,
            t.timeline_kind,
            actor,
            from_state=before,
            to_state=t.to_state,
            body=body,
            data={"agency_id": agency_id, "agency": agency.name if agency else None},
        )
        await self._publish_change(
            complaint, actor, before, extra={"reason": body, "returned_by_agency_id": agency_id}
        )
        publish(self.session, "laksa.complaint_awaiting_triage", self._payload(complaint, actor))
        return await self._save(complaint)

    async def transfer(self, actor: Actor, complaint_id: int, agency_id: Any, reason: Any) -> Complaint:
        """To another agency (a supervisor of the holding agency, or the Live Room)."""
        complaint = await self._load(complaint_id, actor)
        t = transition("transfer", complaint.state)
        if not actor.whole_city:
            self._require_agency_member(complaint, actor)
        agency = await self._agency(agency_id)
        if agency.id == complaint.agency_id:
            raise InputErrors([Problem("agency_id", "same_agency")])
        body = self._note(reason, required=True, field_name="reason")
        before, previous = complaint.state, complaint.agency_id
        now = dt.datetime.now(dt.UTC)
        await self._assign_agency(complaint, agency.id, list(complaint.copied_agency_ids or ()), now)
        await self._start_sla(complaint, complaint.sla_hours, now)
        complaint.state = t.to_state
        self._timeline(
            complaint,
            t.timeline_kind,
            actor,
            from_state=before,
            to_state=t.to_state,
            body=body,
            data={"from_agency_id": previous, "agency_id": agency.id, "agency": agency.name},
        )
        await self._publish_change(
            complaint, actor, before, extra={"reason": body, "from_agency_id": previous}
        )
        publish(
            self.session,
            "laksa.complaint_transferred",
            {**self._payload(complaint, actor), "from_agency_id": previous},
        )
        return await self._save(complaint)

    async def mark_duplicate(
        self, actor: Actor, complaint_id: int, original_id: Any, note: Any = None
    ) -> Complaint:
        complaint = await self._load(complaint_id, actor)
        t = transition("mark_duplicate", complaint.state)
        if not actor.whole_city:
            self._require_agency_member(complaint, actor)
        if not isinstance(original_id, int) or original_id == complaint.id:
            raise InputErrors([Problem("duplicate_of", "invalid")])
        original = await self.session.get(Complaint, original_id)
        if original is None:
            raise InputErrors([Problem("duplicate_of", "unknown", id=original_id)])
        # Point at the first of a chain, so supporters and counts gather in one place.
        seen = {complaint.id}
        while original.duplicate_of_id is not None and original.id not in seen:
            seen.add(original.id)
            parent = await self.session.get(Complaint, original.duplicate_of_id)
            if parent is None:
                break
            original = parent
        if original.id == complaint.id:
            raise InputErrors([Problem("duplicate_of", "invalid")])
        body = self._note(note, required=False)
        before = complaint.state
        complaint.state = t.to_state
        complaint.duplicate_of_id = original.id
        complaint.closed_at = dt.datetime.now(dt.UTC)
        self._timeline(
            complaint,
            t.timeline_kind,
            actor,
            from_state=before,
            to_state=t.to_state,
            body=body,
            data={"duplicate_of": original.id},
        )
        # The reporter of the duplicate now stands behind the original.
        if complaint.citizen_id is not None and complaint.citizen_id != original.citizen_id:
            await self._add_support(original, complaint.citizen_id, actor)
        await self._publish_change(complaint, actor, before, extra={"duplicate_of": original.id})
        return await self._save(complaint)

    async def assign(self, actor: Actor, complaint_id: int, employee_id: Any) -> Complaint:
        """To an employee of the holding agency (``None``: nobody). Employees may take it
        themselves; supervisors give it to anyone of the agency."""
        complaint = await self._load(complaint_id, actor)
        if complaint.state not in AGENCY_STATES:
            raise Conflict("assign_not_open", state=complaint.state)
        supervisor = actor.whole_city or "agency_supervisor" in actor.roles
        if not actor.whole_city:
            self._require_agency_member(complaint, actor)
        if employee_id is not None:
            if not isinstance(employee_id, int):
                raise InputErrors([Problem("employee_id", "invalid")])
            if not supervisor and employee_id != actor.id:
                raise Forbidden("assign_others")
            employee = await self.session.get(Employee, employee_id)
            if employee is None or not employee.active or employee.agency_id != complaint.agency_id:
                raise InputErrors([Problem("employee_id", "not_in_agency", id=employee_id)])
            name = employee.name
        else:
            if not supervisor and complaint.assignee_id not in (None, actor.id):
                raise Forbidden("assign_others")
            name = None
        previous = complaint.assignee_id
        complaint.assignee_id = employee_id
        self._timeline(
            complaint,
            "assigned",
            actor,
            public=False,
            data={"employee_id": employee_id, "employee": name, "previous": previous},
        )
        publish(
            self.session,
            "laksa.complaint_assigned",
            {**self._payload(complaint, actor), "previous_assignee_id": previous},
        )
        return await self._save(complaint)

    async def add_note(self, actor: Actor, complaint_id: int, body: Any, *, public: bool) -> TimelineEntry:
        """An internal note (staff only) or a public reply (the citizen sees it, and is told)."""
        complaint = await self._load(complaint_id, actor)
        text = self._note(body, required=True, field_name="body")
        if public:
            self._require_agency_member(complaint, actor)
        entry = self._timeline(complaint, "reply" if public else "note", actor, body=text, public=public)
        if public:
            publish(
                self.session,
                "laksa.complaint_replied",
                {
                    **self._payload(complaint, actor),
                    "body": text,
                    "supporter_ids": await self._supporters(complaint),
                },
            )
        await self._save(complaint)
        return entry

    async def classify(
        self,
        actor: Actor,
        complaint_id: int,
        *,
        category_code: Any = None,
        priority: Any = None,
        emergency: Any = None,
    ) -> Complaint:
        """Correct what the complaint is about, how urgent it is, and whether it is an emergency."""
        complaint = await self._load(complaint_id, actor)
        if complaint.state not in OPEN_STATES:
            raise Conflict("classify_not_open", state=complaint.state)
        if not actor.whole_city:
            self._require_agency_member(complaint, actor)
        problems = []
        changes: dict[str, Any] = {}
        if category_code is not None:
            category = await self.session.scalar(
                select(Category).where(Category.code == category_code, Category.active)
            )
            if category is None:
                problems.append(Problem("category", "unknown", code=str(category_code)[:64]))
            elif category.id != complaint.category_id:
                complaint.category_id = category.id
                changes["category"] = category.code
        if priority is not None:
            if priority not in PRIORITIES:
                problems.append(Problem("priority", "invalid", allowed=", ".join(PRIORITIES)))
            elif priority != complaint.priority:
                complaint.priority = priority
                complaint.priority_rank = PRIORITY_RANK[priority]
                changes["priority"] = priority
        if emergency is not None:
            if not isinstance(emergency, bool):
                problems.append(Problem("emergency", "invalid"))
            elif emergency != complaint.emergency:
                complaint.emergency = emergency
                changes["emergency"] = emergency
        if problems:
            raise InputErrors(problems)
        if not changes:
            return complaint
        if complaint.emergency and complaint.priority != "emergency" and changes.get("emergency"):
            complaint.priority, complaint.priority_rank = "emergency", 0
            changes["priority"] = "emergency"
        if complaint.agency_id is not None and ("priority" in changes or "emergency" in changes):
            await self._start_sla(complaint, None, complaint.forwarded_at or dt.datetime.now(dt.UTC))
        self._timeline(complaint, "classified", actor, public=False, data=changes)
        publish(
            self.session,
            "laksa.complaint_classified",
            {**self._payload(complaint, actor), "changes": changes},
        )
        return await self._save(complaint)

    # ---- the citizen ---------------------------------------------------------------------------

    async def close(self, actor: Actor, complaint_id: int) -> Complaint:
        """The citizen confirms the result (or the system closes it after the waiting time)."""
        complaint = await self._load(complaint_id, actor)
        t = transition("close", complaint.state)
        before = complaint.state
        complaint.state = t.to_state
        complaint.closed_at = dt.datetime.now(dt.UTC)
        self._timeline(complaint, t.timeline_kind, actor, from_state=before, to_state=t.to_state)
        await self._publish_change(complaint, actor, before)
        return await self._save(complaint)

    async def reopen(self, actor: Actor, complaint_id: int, reason: Any) -> Complaint:
        """The citizen is not satisfied: back to the agency, within the city's reopening window."""
        complaint = await self._load(complaint_id, actor)
        t = transition("reopen", complaint.state)
        body = self._note(reason, required=True, field_name="reason")
        window = dt.timedelta(days=self.config.reopen_within_days)
        if complaint.resolved_at and dt.datetime.now(dt.UTC) - complaint.resolved_at > window:
            raise Conflict("reopen_too_late", days=self.config.reopen_within_days)
        before = complaint.state
        now = dt.datetime.now(dt.UTC)
        complaint.state = t.to_state if complaint.agency_id is not None else "triage"
        complaint.resolved_at = None
        complaint.closed_at = None
        complaint.reopen_count += 1
        if complaint.agency_id is not None:
            await self._start_sla(complaint, complaint.sla_hours, now)
        self._timeline(
            complaint, t.timeline_kind, actor, from_state=before, to_state=complaint.state, body=body
        )
        await self._publish_change(complaint, actor, before, extra={"reason": body})
        return await self._save(complaint)

    async def rate(self, actor: Actor, complaint_id: int, rating: Any, comment: Any = None) -> Complaint:
        complaint = await self._load(complaint_id, actor)
        if complaint.state not in ("resolved", "closed"):
            raise Conflict("rate_not_done", state=complaint.state)
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise InputErrors([Problem("rating", "invalid")])
        text = self._note(comment, required=False, field_name="comment")
        complaint.rating = rating
        complaint.rating_comment = text
        complaint.rated_at = dt.datetime.now(dt.UTC)
        self._timeline(complaint, "rated", actor, body=text, data={"rating": rating})
        publish(self.session, "laksa.complaint_rated", {**self._payload(complaint, actor), "rating": rating})
        return await self._save(complaint)

    async def support(self, actor: Actor, complaint_id: int) -> tuple[Complaint, bool]:
        """ "Saya juga mengalami": a citizen stands behind an open complaint instead of filing
        another; counted once per citizen. Returns the complaint and whether this was new."""
        if actor.kind != "citizen" or actor.id is None:
            raise Forbidden("citizens_only")
        complaint = await self.session.scalar(
            select(Complaint).where(Complaint.id == complaint_id).with_for_update()
        )
        if complaint is None:
            raise NotFound("complaint", complaint_id)
        if complaint.state not in OPEN_STATES:
            raise Conflict("support_not_open", state=complaint.state)
        if complaint.citizen_id == actor.id:
            raise Conflict("support_own")
        added = await self._add_support(complaint, actor.id, actor)
        await self._commit()
        return complaint, added

    async def _add_support(self, complaint: Complaint, citizen_id: int, actor: Actor) -> bool:
        row = await self.session.execute(
            insert(Support)
            .values(complaint_id=complaint.id, citizen_id=citizen_id)
            .on_conflict_do_nothing()
            .returning(Support.citizen_id)
        )
        if row.first() is None:
            return False
        count = await self.session.scalar(
            update(Complaint)
            .where(Complaint.id == complaint.id)
            .values(support_count=Complaint.support_count + 1, updated_at=func.now())
            .returning(Complaint.support_count)
        )
        complaint.support_count = int(count or 0)
        self._timeline(complaint, "supported", actor, public=True, data={"count": complaint.support_count})
        publish(
            self.session,
            "laksa.complaint_supported",
            {
                **self._payload(complaint, actor),
                "supporter_id": citizen_id,
                "support_count": complaint.support_count,
            },
        )
        return True

    # ---- shared --------------------------------------------------------------------------------

    def _timeline(
        self,
        complaint: Complaint,
        kind: str,
        actor: Actor,
        *,
        from_state: str | None = None,
        to_state: str | None = None,
        body: str | None = None,
        public: bool = True,
        data: dict[str, Any] | None = None,
    ) -> TimelineEntry:
        entry = TimelineEntry(
            complaint_id=complaint.id,
            at=dt.datetime.now(dt.UTC),
            kind=kind,
            from_state=from_state,
            to_state=to_state,
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_name=actor.name[:200],
            public=public,
            body=body,
            data={**(data or {}), **({"agency_ids": sorted(actor.agency_ids)} if actor.is_staff else {})},
        )
        self.session.add(entry)
        return entry

    def _payload(self, complaint: Complaint, actor: Actor, **extra: Any) -> dict[str, Any]:
        """What every Laksa event carries: ids and values only (never the reporter's identity
        beyond the citizen id, never the description's full text)."""
        return {
            "complaint_id": complaint.id,
            "state": complaint.state,
            "agency_id": complaint.agency_id,
            "copy_agency_ids": list(complaint.copied_agency_ids or ()),
            "category_id": complaint.category_id,
            "priority": complaint.priority,
            "emergency": complaint.emergency,
            "kecamatan_code": complaint.kecamatan_code,
            "kecamatan": complaint.kecamatan,
            "lat": complaint.lat,
            "lon": complaint.lon,
            "citizen_id": complaint.citizen_id,
            "assignee_id": complaint.assignee_id,
            "due_at": complaint.due_at.isoformat() if complaint.due_at else None,
            "summary": complaint.description[:140],
            "actor": {"kind": actor.kind, "id": actor.id},
            **extra,
        }

    async def _supporters(self, complaint: Complaint) -> list[int]:
        rows = await self.session.execute(
            select(Support.citizen_id)
            .where(Support.complaint_id == complaint.id)
            .order_by(Support.at)
            .limit(SUPPORTERS_IN_EVENT)
        )
        return [int(r[0]) for r in rows]

    async def _publish_change(
        self, complaint: Complaint, actor: Actor, before: str, *, extra: dict[str, Any] | None = None
    ) -> None:
        publish(
            self.session,
            "laksa.complaint_status_changed",
            {
                **self._payload(complaint, actor),
                "from_state": before,
                "to_state": complaint.state,
                "supporter_ids": await self._supporters(complaint),
                **{k: v for k, v in (extra or {}).items() if v is not None},
            },
        )

    async def _save(self, complaint: Complaint) -> Complaint:
        complaint.updated_at = dt.datetime.now(dt.UTC)
        await self._commit()
        return complaint

    async def _commit(self) -> None:
        if self.commit:
            await self.session.commit()
        else:
            await self.session.flush()


# ---- scheduled work ------------------------------------------------------------------------------


async def scan_sla(
    session: TenantSession, *, batch: int = 500, now: dt.datetime | None = None
) -> dict[str, int]:
    """Flag open complaints whose SLA turned at risk or was breached, once each, with a timeline
    entry and an event for escalation. Rows are taken with ``SKIP LOCKED``: two scans never flag
    the same complaint twice, and staff acting on one are not waited for."""
    now = now or dt.datetime.now(dt.UTC)
    counts = {"at_risk": 0, "breached": 0}
    system = Actor.system("pemantau SLA")
    service = ComplaintService(session)
    for kind, column, due_column in (
        ("breached", Complaint.sla_breached_flagged_at, Complaint.due_at),
        ("at_risk", Complaint.sla_at_risk_flagged_at, Complaint.at_risk_at),
    ):
        while True:
            stmt = (
                select(Complaint)
                .where(
                    Complaint.state.in_(OPEN_STATES),
                    Complaint.due_at.is_not(None),
                    due_column <= now,
                    column.is_(None),
                )
                .order_by(due_column)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
            if kind == "at_risk":
                stmt = stmt.where(Complaint.due_at > now)
            rows = list((await session.execute(stmt)).scalars())
            if not rows:
                break
            for complaint in rows:
                setattr(complaint, column.key, now)
                if kind == "breached" and complaint.sla_at_risk_flagged_at is None:
                    complaint.sla_at_risk_flagged_at = now  # past due is past at-risk: say it once
                service._timeline(
                    complaint,
                    f"sla_{kind}",
                    system,
                    public=False,
                    data={"due_at": complaint.due_at.isoformat() if complaint.due_at else None},
                )
                publish(
                    session,
                    f"laksa.complaint_sla_{kind}",
                    service._payload(complaint, system, overdue_minutes=_minutes(now, complaint.due_at)),
                )
            counts[kind] += len(rows)
            await session.commit()
            if len(rows) < batch:
                break
    counts["escalated"] = await _escalate(session, service, system, now, batch)
    return counts


async def _escalate(
    session: TenantSession, service: ComplaintService, system: Actor, now: dt.datetime, batch: int
) -> int:
    """Breached and still open ``escalate_after_minutes`` later: once, for the Live Room."""
    cutoff = now - dt.timedelta(minutes=service.config.escalate_after_minutes)
    escalated = 0
    while True:
        rows = list(
            (
                await session.execute(
                    select(Complaint)
                    .where(
                        Complaint.state.in_(OPEN_STATES),
                        Complaint.sla_breached_flagged_at <= cutoff,
                        Complaint.sla_escalated_flagged_at.is_(None),
                    )
                    .order_by(Complaint.sla_breached_flagged_at)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )
        for complaint in rows:
            complaint.sla_escalated_flagged_at = now
            service._timeline(
                complaint,
                "sla_escalated",
                system,
                public=False,
                data={"after_minutes": service.config.escalate_after_minutes},
            )
            publish(
                session,
                "laksa.complaint_sla_escalated",
                service._payload(complaint, system, overdue_minutes=_minutes(now, complaint.due_at)),
            )
        escalated += len(rows)
        await session.commit()
        if len(rows) < batch:
            return escalated


def _minutes(now: dt.datetime, due: dt.datetime | None) -> int | None:
    return None if due is None else int((now - due).total_seconds() // 60)


async def close_resolved(session: TenantSession, *, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Close complaints resolved longer ago than the city's waiting time, unconfirmed by the citizen."""
    now = now or dt.datetime.now(dt.UTC)
    service = ComplaintService(session)
    cutoff = now - dt.timedelta(days=service.config.close_after_days)
    system = Actor.system("ditutup otomatis")
    closed = 0
    while True:
        rows = list(
            (
                await session.execute(
                    select(Complaint)
                    .where(Complaint.state == "resolved", Complaint.resolved_at <= cutoff)
                    .order_by(Complaint.resolved_at)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )
        if not rows:
            break
        for complaint in rows:
            complaint.state = "closed"
            complaint.closed_at = now
            complaint.updated_at = now
            service._timeline(
                complaint,
                "closed",
                system,
                from_state="resolved",
                to_state="closed",
                data={"after_days": service.config.close_after_days},
            )
            await service._publish_change(complaint, system, "resolved")
        closed += len(rows)
        await session.commit()
        if len(rows) < batch:
            break
    return closed


async def process_pending_photos(session: TenantSession, complaint_id: int | None = None) -> int:
    """Re-encode uploads without metadata and make thumbnails (in a thread: Pillow is CPU work)."""
    cfg = LaksaConfig.of(session.tenant.module_config.get("laksa"))
    stmt = select(Media).where(Media.status == "pending").order_by(Media.id).with_for_update(skip_locked=True)
    if complaint_id is not None:
        stmt = stmt.where(Media.complaint_id == complaint_id)
    done = 0
    for media in list((await session.execute(stmt.limit(50))).scalars()):
        try:
            result = await asyncio.to_thread(process_photo, media.original or b"", cfg.max_photo_pixels)
        except PhotoRefused as exc:
            media.status, media.error = "failed", exc.code
            log.warning(
                "photo %s of complaint %s could not be processed: %s", media.id, media.complaint_id, exc.code
            )
        else:
            media.image, media.thumbnail = result.image, result.thumbnail
            media.content_type = result.content_type
            media.width, media.height = result.width, result.height
            media.status = "ready"
        media.original = None  # the upload (with its EXIF) is gone either way
        media.processed_at = dt.datetime.now(dt.UTC)
        done += 1
    return done


def done_or_open(state: str) -> str:
    return "done" if state in DONE_STATES else "open"
