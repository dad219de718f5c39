"""112 calls and incidents over HTTP: the telephony and AML webhooks (machine endpoints on the city's
host, authenticated by their own signatures) and the staff JSON API under /api/v1/hotline112.

Webhooks:
- ``POST /hotline112/telephony/events``: one event or a list, signed ``X-Kotalive-Signature:
  sha256=<hex HMAC-SHA256(webhook_secret, raw body)>``; 401 for a wrong or missing signature, 503
  when the city has no telephony integration, 422 naming the field of a bad event (nothing of the
  batch applied), else 200 ``{"accepted": n, "duplicates": m}``.
- ``POST /hotline112/aml`` and ``POST /hotline112/aml/sms``: always 200 ``ok``; what cannot be
  used is kept in ``h112_rejected`` and logged.

Refusals of the staff API answer ``errors: [{field, reason, code}]``: 404 for a call or incident
this city does not have, 409 for a state that forbids the step, 422 for a bad field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Annotated, Any

from litestar import Request, Response, Router, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from kotalive import live
from kotalive.auth.crypto import Vault
from kotalive.auth.guards import requires
from kotalive.auth.middleware import MACHINE_ENDPOINT
from kotalive.auth.principal import current_principal
from kotalive.context import current_tenant
from kotalive.db import TenantSession, tenant_session
from kotalive.i18n import translate
from kotalive.modules.hotline112 import aml, calls, incidents
from kotalive.modules.hotline112.calls import Refusal, Staff
from kotalive.modules.hotline112.timeline import calls_channel
from kotalive.tenants.integrations import get_integration
from kotalive.web import NO_STORE, city_only, client_ip, request_language

log = logging.getLogger(__name__)

TAKE = "hotline112.call.take"
VIEW = "hotline112.incident.view"
TYPES = "hotline112.type.manage"
SIGNATURE_HEADER = "x-kotalive-signature"
PUBLIC = {"public": True}


def staff() -> Staff:
    principal = current_principal()
    assert principal is not None, "guards let only signed-in staff through"
    return Staff(principal.id, principal.name)


def refusal_body(exc: Refusal, lang: str) -> dict[str, Any]:
    params = {k: v for k, v in exc.detail.items() if isinstance(v, str | int | float)}
    try:
        reason = translate(f"h112.calls.error.{exc.code}", lang, **params)
    except (KeyError, IndexError, ValueError, TypeError):
        reason = translate(f"h112.calls.error.{exc.code}", lang)
    return {
        "status_code": exc.status,
        "error": exc.code,
        "detail": f"{exc.field}: {reason}",
        "errors": [{"field": exc.field, "reason": reason, "code": exc.code}],
        **({"context": exc.detail} if exc.detail else {}),
    }


def on_refusal(request: Request, exc: Refusal) -> Response[Any]:
    return Response(refusal_body(exc, request_language(request)), status_code=exc.status, headers=NO_STORE)


def _object(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Refusal(422, "not_an_object", "body")
    return data


async def _telephony_secrets(request: Request, session: TenantSession) -> dict[str, str] | None:
    integration = await get_integration(
        session, Vault.from_settings(request.app.state.settings), "telephony", required=False
    )
    return dict(integration.secrets) if integration is not None else None


# ---- webhooks --------------------------------------------------------------------------------------


@post("/telephony/events", summary="Telephony (CTI) call events, signed", status_code=200)
async def telephony_events(request: Request) -> Response[Any]:
    body = await request.body()
    settings = request.app.state.settings
    async with tenant_session() as session:
        secrets = await _telephony_secrets(request, session)
        secret = (secrets or {}).get("webhook_secret")
        if not secret:
            return Response(
                {
                    "status_code": 503,
                    "error": "telephony_not_configured",
                    "detail": "this city has no telephony integration with a webhook_secret",
                },
                status_code=503,
                headers=NO_STORE,
            )
        given = request.headers.get(SIGNATURE_HEADER, "")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not given or not hmac.compare_digest(given.strip().lower(), expected):
            log.warning("telephony event refused: bad signature from %s", client_ip(request))
            return Response(
                {
                    "status_code": 401,
                    "error": "bad_signature",
                    "detail": f"{SIGNATURE_HEADER}: missing or wrong",
                },
                status_code=401,
                headers=NO_STORE,
            )
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise Refusal(400, "not_json", "body") from None
        batch = calls.parse_events(data)
        accepted, duplicates = await calls.apply_events(
            session, batch, window_minutes=settings.aml_match_minutes
        )
        await session.commit()
    return Response({"accepted": accepted, "duplicates": duplicates}, headers=NO_STORE)


async def _take_aml(request: Request, channel: str) -> Response[str]:
    """Keep one AML message (or its rejection); every failure inside is logged, never answered."""
    peer = client_ip(request)
    settings = request.app.state.settings
    body = b""
    try:
        body = await request.body()
        async with tenant_session() as session:
            try:
                if channel == "aml_https":
                    secrets = await _telephony_secrets(request, session)
                    key = (secrets or {}).get("aml_hmac_key")
                    if key:
                        aml.check_hmac(key, body)
                    message = aml.parse_https(body)
                    hmac_ok = True if key else None
                else:
                    sender, text = aml.sms_fields(body, request.headers.get("content-type", ""))
                    message = aml.parse_sms(sender, text)
                    hmac_ok = None
                await aml.store(
                    session, message, body, window_minutes=settings.aml_match_minutes, hmac_ok=hmac_ok
                )
            except aml.AmlRejected as exc:
                await aml.reject(session, channel, exc.reason, body, peer)
            await session.commit()
    except Exception:  # the sender must hear 2xx whatever happened; we keep what we can
        log.exception("112 %s message could not be kept (from %s)", channel, peer)
        try:
            async with tenant_session() as session:
                await aml.reject(session, channel, "internal error while keeping the message", body, peer)
                await session.commit()
        except Exception:
            log.exception("112 %s rejection could not be kept either", channel)
    return Response("ok", media_type="text/plain", headers=NO_STORE)


@post("/aml", summary="Advanced Mobile Location over HTTPS (always 200)", status_code=200)
async def aml_https(request: Request) -> Response[str]:
    return await _take_aml(request, "aml_https")


@post(
    "/aml/sms",
    summary="Advanced Mobile Location by SMS, forwarded by the gateway (always 200)",
    status_code=200,
)
async def aml_sms(request: Request) -> Response[str]:
    return await _take_aml(request, "aml_sms")


# ---- calls -----------------------------------------------------------------------------------------


@get("/calls/live", summary="Calls ringing, in progress or still undecided", guards=[requires(TAKE)])
async def live_calls() -> Response[Any]:
    async with tenant_session() as session:
        found = await calls.live_calls(session)
    return Response({"calls": [calls.call_data(c) for c in found]}, headers=NO_STORE)


@get(
    "/calls/stream",
    summary="The call-takers' live stream: calls and caller locations (server-sent events)",
    guards=[requires(TAKE)],
    opt={"stream": True},
    media_type="text/event-stream",
)
async def calls_stream(request: Request, once: FromQuery[bool] = False) -> Any:
    """First a ``calls`` event with every live call, then ``call`` and ``location`` events as they
    happen. ``once``: the first event, then the end."""
    tenant = current_tenant()

    async def snapshot() -> list[tuple[str, Any]]:
        async with tenant_session(tenant) as session:
            found = await calls.live_calls(session)
        return [("calls", {"calls": [calls.call_data(c) for c in found]})]

    return live.sse_stream(request.app.state.channels, [calls_channel()], first=snapshot, once=once)


@get(
    "/calls/{call_id:int}",
    summary="A call with its locations and the caller's history",
    guards=[requires(TAKE)],
)
async def show_call(call_id: FromPath[int]) -> Response[Any]:
    async with tenant_session() as session:
        found = await calls.call_detail(session, call_id)
    return Response(found, headers=NO_STORE)


@post(
    "/calls/{call_id:int}/disposition",
    summary="Decide about a call",
    guards=[requires(TAKE)],
    status_code=200,
)
async def call_disposition(call_id: FromPath[int], data: JSONBody[Any] = None) -> Response[Any]:
    body = _object(data)
    async with tenant_session() as session:
        call = await calls.set_disposition(session, staff(), call_id, body)
        out = calls.call_data(call)
        await session.commit()
    return Response({"call": out}, headers=NO_STORE)


@post(
    "/calls/{call_id:int}/location",
    summary="Place the caller (what they said, or a point on the map)",
    guards=[requires(TAKE)],
    status_code=201,
)
async def call_location(call_id: FromPath[int], data: JSONBody[Any] = None) -> Response[Any]:
    body = _object(data)
    async with tenant_session() as session:
        row = await calls.set_location(session, staff(), call_id, body)
        out = aml.location_data(row)
        await session.commit()
    return Response({"location": out}, status_code=201, headers=NO_STORE)


# ---- incidents -------------------------------------------------------------------------------------


@get(
    "/incident-types",
    summary="The city's incident types with their question protocols",
    guards=[requires(VIEW)],
)
async def incident_types() -> Response[Any]:
    async with tenant_session() as session:
        found = await incidents.IncidentTypeService(session).list()
    return Response({"types": [incidents.type_data(t) for t in found]}, headers=NO_STORE)


@patch(
    "/incident-types/{code:str}",
    summary="Change an incident type: names, default priority, unit types, agency, question protocol",
    guards=[requires(TYPES)],
)
async def update_incident_type(code: FromPath[str], data: JSONBody[Any] = None) -> Response[Any]:
    body = _object(data)
    allowed = {"name_id", "name_en", "priority", "unit_types", "agency_id", "protocol", "active", "position"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Refusal(422, "unknown_field", str(unknown[0])[:60])
    async with tenant_session() as session:
        row = await incidents.IncidentTypeService(session).update(code, **body)
        out = incidents.type_data(row)
        await session.commit()
    return Response({"type": out}, headers=NO_STORE)


@post(
    "/incidents", summary="Open an incident from one or more calls", guards=[requires(TAKE)], status_code=201
)
async def open_incident(data: JSONBody[Any] = None) -> Response[Any]:
    body = _object(data)
    async with tenant_session() as session:
        incident = await incidents.IncidentService(session, staff()).open(body)
        await session.commit()
        out = await incidents.incident_detail(session, incident.id)
    return Response(
        out, status_code=201, headers={**NO_STORE, "location": f"/api/v1/hotline112/incidents/{incident.id}"}
    )


@get("/incidents", summary="Incidents, newest first (?state=open|closed|...)", guards=[requires(VIEW)])
async def list_incidents(
    wanted: Annotated[str | None, QueryParameter(name="state")] = None, limit: FromQuery[int] = 50
) -> Response[Any]:
    async with tenant_session() as session:
        found = await incidents.list_incidents(session, state=wanted, limit=limit)
    return Response({"incidents": [incidents.incident_data(i) for i in found]}, headers=NO_STORE)


@get(
    "/incidents/{incident_id:int}",
    summary="An incident with its timeline, calls and units",
    guards=[requires(VIEW)],
)
async def show_incident(incident_id: FromPath[int]) -> Response[Any]:
    async with tenant_session() as session:
        out = await incidents.incident_detail(session, incident_id)
    return Response(out, headers=NO_STORE)


@patch("/incidents/{incident_id:int}", summary="Change an incident", guards=[requires(TAKE)])
async def update_incident(incident_id: FromPath[int], data: JSONBody[Any] = None) -> Response[Any]:
    body = _object(data)
    async with tenant_session() as session:
        await incidents.IncidentService(session, staff()).update(incident_id, body)
        await session.commit()
        out = await incidents.incident_detail(session, incident_id)
    return Response(out, headers=NO_STORE)


@post(
    "/incidents/{incident_id:int}/notes",
    summary="Write a note on an incident",
    guards=[requires(TAKE)],
    status_code=201,
)
async def incident_note(incident_id: FromPath[int], data: JSONBody[Any] = None) -> Response[Any]:
    body = _object(data)
    async with tenant_session() as session:
        entry = await incidents.IncidentService(session, staff()).add_note(incident_id, body)
        out = incidents.entry_data(entry)
        await session.commit()
    return Response({"entry": out}, status_code=201, headers=NO_STORE)


@post(
    "/incidents/{incident_id:int}/close",
    summary="Close an incident",
    guards=[requires(TAKE)],
    status_code=200,
)
async def close_incident(incident_id: FromPath[int], data: JSONBody[Any] = None) -> Response[Any]:
    body = _object(data)
    async with tenant_session() as session:
        await incidents.IncidentService(session, staff()).close(incident_id, body)
        await session.commit()
        out = await incidents.incident_detail(session, incident_id)
    return Response(out, headers=NO_STORE)


@get("/incidents/{incident_id:int}/eido", summary="The incident as NENA EIDO JSON", guards=[requires(VIEW)])
async def incident_eido(incident_id: FromPath[int]) -> Response[Any]:
    tenant = current_tenant()
    async with tenant_session() as session:
        out = await incidents.eido(session, tenant, incident_id)
    return Response(
        out,
        headers={
            **NO_STORE,
            "content-disposition": f'attachment; filename="eido-{tenant.slug}-{incident_id}.json"',
        },
    )


route_handlers: list[Any] = [
    Router(
        path="/hotline112",
        route_handlers=[telephony_events, aml_https, aml_sms],
        guards=[city_only],
        opt=MACHINE_ENDPOINT,
        tags=["hotline112"],
        exception_handlers={Refusal: on_refusal},
        include_in_schema=True,
    ),
    Router(
        path="/api/v1/hotline112",
        route_handlers=[
            live_calls,
            calls_stream,
            show_call,
            call_disposition,
            call_location,
            incident_types,
            update_incident_type,
            open_incident,
            list_incidents,
            show_incident,
            update_incident,
            incident_note,
            close_incident,
            incident_eido,
        ],
        tags=["hotline112"],
        exception_handlers={Refusal: on_refusal},
    ),
]
