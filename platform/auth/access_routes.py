"""City admin API for role grants and the audit log (filterable, exportable as CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream

from kotalive.auth import access
from kotalive.auth.guards import requires
from kotalive.auth.models import AuditEntry, RoleGrant
from kotalive.db import tenant_session


class GrantIn(msgspec.Struct, forbid_unknown_fields=True):
    subject_kind: str
    subject_id: int
    role: str
    agency_id: int | None = None


class GrantOut(msgspec.Struct):
    id: int
    subject_kind: str
    subject_id: int
    role: str
    agency_id: int | None
    source: str
    granted_by: str | None
    created_at: dt.datetime


class AuditOut(msgspec.Struct):
    id: int
    at: dt.datetime
    actor_kind: str
    actor_id: int | None
    actor_label: str | None
    action: str
    target_kind: str | None
    target_id: str | None
    detail: dict[str, Any]
    ip: str | None


def _grant_out(g: RoleGrant) -> GrantOut:
    return GrantOut(
        g.id, g.subject_kind, g.subject_id, g.role, g.agency_id, g.source, g.granted_by, g.created_at
    )


def _audit_out(a: AuditEntry) -> AuditOut:
    return AuditOut(
        a.id,
        a.at,
        a.actor_kind,
        a.actor_id,
        a.actor_label,
        a.action,
        a.target_kind,
        a.target_id,
        a.detail,
        a.ip,
    )


def _invalid(exc: access.AccessInputError) -> ValidationException:
    return ValidationException(detail=str(exc), extra=[{"key": exc.field, "message": exc.reason}])


@get("/roles/grants", guards=[requires("core.roles.manage")], summary="Role grants of this city")
async def list_grants(
    subject_kind: FromQuery[str | None] = None, subject_id: FromQuery[int | None] = None
) -> list[GrantOut]:
    async with tenant_session() as s:
        return [_grant_out(g) for g in await access.list_grants(s, subject_kind, subject_id)]


@post("/roles/grants", guards=[requires("core.roles.manage")], summary="Grant a role", status_code=201)
async def grant(data: JSONBody[GrantIn], request: Request) -> GrantOut:
    async with tenant_session() as s, s.begin():
        try:
            g = await access.grant_role(
                s,
                request.app.state.auth.sessions,
                subject_kind=data.subject_kind,
                subject_id=data.subject_id,
                role=data.role,
                agency_id=data.agency_id,
                granted_by=request.scope["state"]["principal"].label,
                ip=request.client.host if request.client else None,
            )
        except access.AccessInputError as exc:
            raise _invalid(exc) from exc
        return _grant_out(g)


@delete(
    "/roles/grants/{grant_id:int}",
    guards=[requires("core.roles.manage")],
    summary="Revoke a role",
    status_code=204,
)
async def revoke(grant_id: FromPath[int], request: Request) -> None:
    async with tenant_session() as s, s.begin():
        try:
            await access.revoke_grant(
                s,
                request.app.state.auth.sessions,
                grant_id,
                ip=request.client.host if request.client else None,
            )
        except access.GrantNotFound as exc:
            raise NotFoundException(detail=str(exc)) from exc


def _filter(
    action: str | None,
    actor_kind: str | None,
    actor_id: int | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    before_id: int | None,
) -> access.AuditFilter:
    return access.AuditFilter(action, actor_kind, actor_id, since, until, before_id)


@get("/audit", guards=[requires("core.audit.view")], summary="The audit log, newest first (keyset paging)")
async def audit_log(
    action: FromQuery[str | None] = None,
    actor_kind: FromQuery[str | None] = None,
    actor_id: FromQuery[int | None] = None,
    since: FromQuery[dt.datetime | None] = None,
    until: FromQuery[dt.datetime | None] = None,
    before_id: FromQuery[int | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
) -> list[AuditOut]:
    async with tenant_session() as s:
        rows = await access.audit_page(
            s, _filter(action, actor_kind, actor_id, since, until, before_id), limit
        )
    return [_audit_out(r) for r in rows]


@get("/audit/export.csv", guards=[requires("core.audit.export")], summary="The audit log as CSV")
async def audit_export(
    request: Request,
    action: FromQuery[str | None] = None,
    actor_kind: FromQuery[str | None] = None,
    actor_id: FromQuery[int | None] = None,
    since: FromQuery[dt.datetime | None] = None,
    until: FromQuery[dt.datetime | None] = None,
) -> Stream:
    f = _filter(action, actor_kind, actor_id, since, until, None)

    async def rows() -> AsyncIterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(
            [
                "id",
                "at",
                "actor_kind",
                "actor_id",
                "actor_label",
                "action",
                "target_kind",
                "target_id",
                "detail",
                "ip",
            ]
        )
        async with tenant_session() as s:
            async for a in access.audit_stream(s, f):
                writer.writerow(
                    [
                        a.id,
                        a.at.isoformat(),
                        a.actor_kind,
                        a.actor_id,
                        a.actor_label,
                        a.action,
                        a.target_kind,
                        a.target_id,
                        json.dumps(a.detail, ensure_ascii=False),
                        a.ip,
                    ]
                )
                if buf.tell() > 64_000:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
        yield buf.getvalue()

    async with tenant_session() as s, s.begin():
        access.audit.record(
            s,
            "audit.exported",
            detail={"filter": {k: str(v) for k, v in asdict(f).items() if v is not None}},
            ip=request.client.host if request.client else None,
        )
    return Stream(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="audit.csv"'},
    )


route_handlers = [
    Router(
        path="/api/v1",
        route_handlers=[list_grants, grant, revoke, audit_log, audit_export],
        tags=["identity"],
    )
]
