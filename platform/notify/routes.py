"""The bell (list, unread count, mark read, a live stream), a person's preferences, and the city
admin's wording, failed deliveries and webhooks. All on the city's host, for its own people only:
a person's channel is derived from their login, never from the request."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, Router, delete, get, post, put
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import ServerSentEvent

from kotalive import live
from kotalive.auth import audit
from kotalive.auth.crypto import Vault
from kotalive.auth.guards import requires
from kotalive.auth.principal import Principal, current_principal
from kotalive.context import current_tenant
from kotalive.db import get_database, tenant_session
from kotalive.notify import delivery, service
from kotalive.notify.messages import Message
from kotalive.notify.models import Notification
from kotalive.web import NO_STORE, city_only, client_ip, page

VIEW = "core.notifications.view"
MANAGE = "core.notifications.manage"


def _person() -> Principal:
    principal = current_principal()
    assert principal is not None and principal.kind in ("citizen", "employee")
    return principal


def _local(value: dt.datetime | None) -> str | None:
    return value.astimezone(ZoneInfo(current_tenant().timezone)).isoformat() if value else None


def _out(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "message": n.message,
        "title": n.title,
        "body": n.body,
        "link": n.link,
        "urgent": n.urgent,
        "created_at": _local(n.created_at),
        "read": n.read_at is not None,
    }


def _refused(exc: service.NotifyInputError) -> Response[Any]:
    return Response(
        {
            "status_code": 422,
            "error": "invalid_input",
            "detail": exc.reason,
            "errors": [{"field": exc.field, "reason": exc.reason, "code": f"{exc.field}.invalid"}],
        },
        status_code=422,
    )


# ---- the bell ------------------------------------------------------------------------------------


@get("/", guards=[requires(VIEW)], summary="My notifications, newest first, with the unread count")
async def list_mine(before: FromQuery[int | None] = None) -> Response[Any]:
    me = _person()
    async with tenant_session() as session:
        rows = await service.bell(session, me.kind, me.id, before=before)
        unread = await service.unread_count(session, me.kind, me.id)
    items = [_out(n) for n in rows]
    return Response(
        {"unread": unread, "items": items, "before": items[-1]["id"] if len(items) == service.PAGE else None},
        headers=NO_STORE,
    )


@get("/unread", guards=[requires(VIEW)], summary="How many of my notifications are unread")
async def unread() -> Response[Any]:
    me = _person()
    async with tenant_session() as session:
        return Response({"unread": await service.unread_count(session, me.kind, me.id)}, headers=NO_STORE)


class ReadIn(msgspec.Struct):
    ids: list[int] | None = None  # none: all of them


@post("/read", guards=[requires(VIEW)], status_code=200, summary="Mark my notifications read (these, or all)")
async def mark_read(data: JSONBody[ReadIn | None] = None) -> Response[Any]:
    me = _person()
    async with tenant_session() as session:
        changed = await service.mark_read(session, me.kind, me.id, data.ids if data else None)
        count = await service.unread_count(session, me.kind, me.id)
        await session.commit()
    return Response({"marked": changed, "unread": count})


@get(
    "/stream",
    guards=[requires(VIEW)],
    summary="My notifications as they happen (server-sent events)",
    opt={"stream": True},
    media_type="text/event-stream",
)
async def stream(request: Request, once: FromQuery[bool] = False) -> ServerSentEvent:
    """``once``: the current state and then the end of the stream (a snapshot, for scripts)."""
    me = _person()
    tenant = current_tenant()

    async def unread_now() -> list[tuple[str, Any]]:
        async with tenant_session(tenant) as session:
            return [("unread", {"unread": await service.unread_count(session, me.kind, me.id)})]

    channels = [live.person_channel(tenant, me.kind, me.id)]
    return live.sse_stream(request.app.state.channels, channels, first=unread_now, once=once)


@get("/preferences", guards=[requires(VIEW)], summary="How I want to be told")
async def my_preferences() -> Response[Any]:
    me = _person()
    async with tenant_session() as session:
        prefs = await service.preferences(session, me.kind, me.id)
    return Response(msgspec.structs.asdict(_prefs_out(prefs)), headers=NO_STORE)


class PrefsOut(msgspec.Struct):
    quiet_from: str | None
    quiet_until: str | None
    language: str | None
    channels: dict[str, dict[str, bool]]


def _prefs_out(p: service.Preferences) -> PrefsOut:
    return PrefsOut(p.quiet_from, p.quiet_until, p.language, p.channels)


@put("/preferences", guards=[requires(VIEW)], summary="Set my quiet hours, language and channels")
async def set_preferences(data: JSONBody[dict[str, Any]], request: Request) -> Response[Any]:
    me = _person()
    known = {m.key for m in request.app.state.modules.messages()}
    try:
        async with tenant_session() as session:
            prefs = await service.save_preferences(session, me.kind, me.id, data, known)
            await session.commit()
    except service.NotifyInputError as exc:
        return _refused(exc)
    return Response(msgspec.structs.asdict(_prefs_out(prefs)))


# ---- the city admin ------------------------------------------------------------------------------


def _messages(request: Request) -> dict[str, Message]:
    return {m.key: m for m in request.app.state.modules.messages()}


@get(
    "/admin/messages",
    guards=[requires(MANAGE)],
    summary="Every message the city sends, its default and own wording",
)
async def admin_messages(request: Request) -> Response[Any]:
    out = []
    async with tenant_session() as session:
        for message in _messages(request).values():
            own = await service.city_wording(session, message.key)
            out.append(
                {
                    "key": message.key,
                    "description": message.description,
                    "channels": {k: list(v) for k, v in message.channels.items()},
                    "default": {
                        lang: {"title": w.title, "body": w.body} for lang, w in message.wording.items()
                    },
                    "city": [
                        {"channel": t.channel, "language": t.language, "subject": t.subject, "body": t.body}
                        for t in own
                    ],
                    "sample": dict(message.sample),
                }
            )
    return Response(out)


class WordingIn(msgspec.Struct):
    body: str
    subject: str | None = None


@put(
    "/admin/messages/{key:str}/{channel:str}/{language:str}",
    guards=[requires(MANAGE)],
    summary="Word a message the city's way (checked against its sample values)",
)
async def set_wording(
    key: FromPath[str],
    channel: FromPath[str],
    language: FromPath[str],
    data: JSONBody[WordingIn],
    request: Request,
) -> Response[Any]:
    message = _messages(request).get(key)
    if message is None:
        raise NotFoundException(detail=f"no message {key}")
    me = current_principal()
    try:
        async with tenant_session() as session:
            row = await service.set_wording(
                session, message, channel, language, data.subject, data.body, me.name if me else "admin"
            )
            audit.record(
                session,
                "notify.wording.set",
                target_kind="message",
                target_id=f"{key}/{channel}/{language}",
                ip=client_ip(request),
            )
            await session.commit()
    except service.NotifyInputError as exc:
        return _refused(exc)
    return Response(
        {
            "key": key,
            "channel": row.channel,
            "language": row.language,
            "subject": row.subject,
            "body": row.body,
        }
    )


@delete(
    "/admin/messages/{key:str}/{channel:str}/{language:str}",
    guards=[requires(MANAGE)],
    summary="Back to the default wording",
    status_code=200,
)
async def reset_wording(
    key: FromPath[str], channel: FromPath[str], language: FromPath[str], request: Request
) -> Response[Any]:
    async with tenant_session() as session:
        await service.reset_wording(session, key, channel, language)
        audit.record(
            session,
            "notify.wording.reset",
            target_kind="message",
            target_id=f"{key}/{channel}/{language}",
            ip=client_ip(request),
        )
        await session.commit()
    return Response({"status": "default"})


@get(
    "/admin/deliveries",
    guards=[requires(MANAGE)],
    summary="E-mails, SMS and webhook calls (dead letters: status=dead)",
)
async def admin_deliveries(
    status: FromQuery[str | None] = None, before: FromQuery[int | None] = None
) -> Response[Any]:
    try:
        async with tenant_session() as session:
            rows = await service.deliveries(session, status, before=before)
    except service.NotifyInputError as exc:
        return _refused(exc)
    return Response(
        [
            {
                "id": d.id,
                "channel": d.channel,
                "message": d.message,
                "recipient": f"{d.recipient_kind}:{d.recipient_id}",
                "address": d.address,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "next_attempt_at": _local(d.next_attempt_at),
                "sent_at": _local(d.sent_at),
                "created_at": _local(d.created_at),
            }
            for d in rows
        ],
        headers=NO_STORE,
    )


@get(
    "/admin/deliveries/{delivery_id:int}/attempts",
    guards=[requires(MANAGE)],
    summary="Every try of one delivery",
)
async def admin_attempts(delivery_id: FromPath[int]) -> Response[Any]:
    async with tenant_session() as session:
        rows = await service.attempts(session, delivery_id)
    return Response(
        [
            {
                "at": _local(a.at),
                "ok": a.ok,
                "status_code": a.status_code,
                "detail": a.detail,
                "duration_ms": a.duration_ms,
            }
            for a in rows
        ]
    )


@post("/admin/deliveries/retry", guards=[requires(MANAGE)], status_code=200, summary="Try dead letters again")
async def admin_retry(request: Request, data: JSONBody[ReadIn | None] = None) -> Response[Any]:
    tenant = current_tenant()
    count = await delivery.retry_dead(get_database(), tenant, data.ids if data else None)
    async with tenant_session() as session:
        audit.record(session, "notify.deliveries.retry", detail={"count": count}, ip=client_ip(request))
        await session.commit()
    if count:
        from kotalive.notify.jobs import sweep_job

        try:
            await sweep_job.send_async()
        except Exception:  # the scheduler's sweep sends them anyway
            pass
    return Response({"retried": count})


class WebhookIn(msgspec.Struct):
    name: str
    url: str
    events: list[str]
    secret: str | None = None


@get("/admin/webhooks", guards=[requires(MANAGE)], summary="The city's webhook endpoints")
async def admin_webhooks() -> Response[Any]:
    async with tenant_session() as session:
        rows = await service.list_webhooks(session)
    return Response(
        [{"id": w.id, "name": w.name, "url": w.url, "events": w.events, "active": w.active} for w in rows]
    )


@post(
    "/admin/webhooks",
    guards=[requires(MANAGE)],
    status_code=201,
    summary="Add a webhook (its secret shown once)",
)
async def admin_add_webhook(data: JSONBody[WebhookIn], request: Request) -> Response[Any]:
    vault = Vault.from_settings(request.app.state.settings)
    try:
        async with tenant_session() as session:
            endpoint, secret = await service.add_webhook(
                session, vault, name=data.name, url=data.url, events=data.events, secret=data.secret
            )
            audit.record(
                session,
                "notify.webhook.add",
                target_kind="webhook",
                target_id=endpoint.id,
                detail={"url": endpoint.url},
                ip=client_ip(request),
            )
            await session.commit()
    except service.NotifyInputError as exc:
        return _refused(exc)
    return Response(
        {
            "id": endpoint.id,
            "name": endpoint.name,
            "url": endpoint.url,
            "events": endpoint.events,
            "secret": secret,
        },
        status_code=201,
        headers=NO_STORE,
    )


@delete(
    "/admin/webhooks/{endpoint_id:int}",
    guards=[requires(MANAGE)],
    status_code=200,
    summary="Switch a webhook off",
)
async def admin_remove_webhook(endpoint_id: FromPath[int], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        if not await service.remove_webhook(session, endpoint_id):
            raise NotFoundException(detail=f"no webhook {endpoint_id} in this city")
        audit.record(
            session,
            "notify.webhook.remove",
            target_kind="webhook",
            target_id=endpoint_id,
            ip=client_ip(request),
        )
        await session.commit()
    return Response({"status": "off"})


# ---- the page ------------------------------------------------------------------------------------


@get("/notifikasi", guards=[requires(VIEW)], summary="My notifications (page)", include_in_schema=False)
async def bell_page(request: Request, before: FromQuery[int | None] = None) -> Response[str]:
    me = _person()
    async with tenant_session() as session:
        rows = await service.bell(session, me.kind, me.id, before=before)
        count = await service.unread_count(session, me.kind, me.id)
    return page(
        request,
        "notifications.html",
        items=rows,
        unread=count,
        before=rows[-1].id if len(rows) == service.PAGE else None,
    )


@post(
    "/notifikasi/dibaca",
    guards=[requires(VIEW)],
    summary="Mark all read (form)",
    include_in_schema=False,
    status_code=200,
)
async def bell_read_all(request: Request) -> Response[Any]:
    me = _person()
    async with tenant_session() as session:
        await service.mark_read(session, me.kind, me.id, None)
        await session.commit()
    return Response("", status_code=303, headers={"location": "/notifikasi"})


route_handlers = [
    Router(
        path="/api/v1/notifications",
        route_handlers=[
            list_mine,
            unread,
            mark_read,
            stream,
            my_preferences,
            set_preferences,
            admin_messages,
            set_wording,
            reset_wording,
            admin_deliveries,
            admin_attempts,
            admin_retry,
            admin_webhooks,
            admin_add_webhook,
            admin_remove_webhook,
        ],
        guards=[city_only],
        tags=["notifications"],
    ),
    Router(path="/", route_handlers=[bell_page, bell_read_all], guards=[city_only]),
]
