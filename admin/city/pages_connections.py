"""Integrations (SIAK, Simpeg, the OpenID provider, the SMS gateway, SMTP) with "test connection",
webhooks with a signed test call, and the wording of the notifications the city sends.

Settings are checked by the adapter that will use them (``tenants.connections.build_client``) and
stored through ``tenants.integrations`` (secrets encrypted); a secret is never shown back: its field
stays empty, and an empty secret field keeps the stored one. "Test connection" makes the one
harmless call of ``check_connection`` to the configured endpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from kotalive.admin.city.common import city_page, errors_json, one_error, refused, wants_json
from kotalive.admin.web import FormErrors, audit, form_data, lang_of, redirect
from kotalive.auth.crypto import Vault
from kotalive.context import current_tenant
from kotalive.db import TenantSession, tenant_session
from kotalive.i18n import translate
from kotalive.tenants.connections import SECRET_KEYS, ConnectionSettingsError, build_client, check_connection
from kotalive.tenants.integrations import list_integrations, set_integration
from kotalive.web import NO_STORE


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: str = "text"  # text | url | number | secret | bool | json | choice | email
    required: bool = False
    choices: tuple[str, ...] = ()


KINDS: dict[str, tuple[Setting, ...]] = {
    "siak": (
        Setting("base_url", "url", True),
        Setting("api_key", "secret", True),
        Setting("timeout_seconds", "number"),
        Setting("refuse_non_residents", "bool"),
    ),
    "simpeg": (
        Setting("base_url", "url", True),
        Setting("api_key", "secret", True),
        Setting("timeout_seconds", "number"),
        Setting("unit_map", "json"),
    ),
    "oidc": (
        Setting("issuer", "url", True),
        Setting("client_id", "text", True),
        Setting("client_secret", "secret", True),
        Setting("scopes", "text"),
        Setting("api_audience", "text"),
        Setting("redirect_uri", "url"),
        Setting("nip_claim", "text"),
    ),
    "sms": (
        Setting("base_url", "url", True),
        Setting("api_key", "secret", True),
        Setting("timeout_seconds", "number"),
    ),
    "smtp": (
        Setting("host", "text", True),
        Setting("port", "number"),
        Setting("security", "choice", choices=("starttls", "tls", "none")),
        Setting("username", "text"),
        Setting("password", "secret"),
        Setting("from_address", "email", True),
        Setting("from_name", "text"),
        Setting("timeout_seconds", "number"),
    ),
}
assert all(
    {s.name for s in settings if s.kind == "secret"} == SECRET_KEYS[k] for k, settings in KINDS.items()
)


def _vault(request: Request) -> Vault:
    return Vault.from_settings(request.app.state.settings)


def _allow_http(request: Request) -> bool:
    return bool(request.app.state.oidc.allow_http)


def _shown(config: dict[str, Any], settings: tuple[Setting, ...]) -> dict[str, str]:
    """The stored plain settings as form values (secrets never)."""
    out: dict[str, str] = {}
    for s in settings:
        if s.kind == "secret" or s.name not in config:
            continue
        value = config[s.name]
        if s.kind == "json":
            out[s.name] = json.dumps(value, ensure_ascii=False) if value else ""
        elif s.kind == "bool":
            out[s.name] = "on" if value else ""
        else:
            out[s.name] = "" if value is None else str(value)
    return out


def _parse(
    kind: str, data: dict[str, str], stored: dict[str, Any], lang: str
) -> tuple[dict[str, Any], dict[str, str], FormErrors]:
    """(plain settings, new secrets, errors) from the form; an empty optional setting is left out,
    an empty secret keeps the stored one."""
    config: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    errors = FormErrors()
    for s in KINDS[kind]:
        raw = data.get(s.name, "")
        if s.kind == "secret":
            if raw:
                secrets[s.name] = raw
            continue
        if s.kind == "bool":
            config[s.name] = raw not in ("", "0", "off", "false")
            continue
        if raw == "":
            continue
        if s.kind == "number":
            try:
                number = float(raw.replace(",", "."))
            except ValueError:
                errors.add(s.name, translate("admin.city.error.setting.number", lang))
                continue
            config[s.name] = int(number) if s.name == "port" else number
        elif s.kind == "json":
            try:
                value = json.loads(raw)
            except ValueError:
                errors.add(s.name, translate("admin.city.error.setting.json", lang))
                continue
            if not isinstance(value, dict):
                errors.add(s.name, translate("admin.city.error.setting.json", lang))
                continue
            config[s.name] = value
        elif s.kind == "choice" and raw not in s.choices:
            errors.add(
                s.name, translate("admin.city.error.setting.choice", lang, allowed=", ".join(s.choices))
            )
        else:
            config[s.name] = raw
    return config, secrets, errors


async def _stored(
    session: TenantSession, request: Request, kind: str
) -> tuple[dict[str, Any], dict[str, str], bool]:
    """(plain settings, secrets, switched on) as stored, a switched-off integration's too (so
    saving it again keeps its secrets)."""
    from kotalive.tenants.city_models import IntegrationSetting

    row = await session.get(IntegrationSetting, kind)
    if row is None:
        return {}, {}, False
    secrets = json.loads(_vault(request).decrypt(row.secrets_encrypted)) if row.secrets_encrypted else {}
    return dict(row.config or {}), dict(secrets), bool(row.enabled)


@get("/integrations", summary="The city's outside systems, webhooks")
async def integrations_page(request: Request) -> Response[Any]:
    from kotalive.notify import service as notify

    async with tenant_session() as session:
        rows = {r.kind: r for r in await list_integrations(session)}
        webhooks = await notify.list_webhooks(session)
    return city_page(
        request,
        "admin/city/integrations.html",
        "integrations",
        kinds=list(KINDS),
        rows=rows,
        webhooks=webhooks,
        webhook_secret=None,
        test=None,
    )


async def _kind_page(
    request: Request, kind: str, *, status: int = 200, form: dict[str, Any] | None = None, **extra: Any
) -> Response[Any]:
    async with tenant_session() as session:
        config, secrets, enabled = await _stored(session, request, kind)
    context: dict[str, Any] = {
        "kind": kind,
        "settings": KINDS[kind],
        "stored_secrets": sorted(secrets),
        "enabled": enabled,
        "configured": bool(config),
        "callback": f"https://{current_tenant().primary_host}/staff/callback",
        "test": None,
        **extra,
    }
    shown = form if form is not None else _shown(config, KINDS[kind])
    return city_page(
        request, "admin/city/integration.html", "integrations", status=status, form=shown, **context
    )


@get("/integrations/{kind:str}", summary="Form: one integration")
async def integration_page(kind: FromPath[str], request: Request) -> Response[Any]:
    if kind not in KINDS:
        raise NotFoundException()
    return await _kind_page(request, kind)


@post("/integrations/{kind:str}", summary="Save an integration's settings (secrets encrypted)")
async def save_integration(kind: FromPath[str], request: Request) -> Response[Any]:
    if kind not in KINDS:
        raise NotFoundException()
    data = await form_data(request)
    lang = lang_of(request)
    # The page's check box is absent when unticked ("enabled_sent" says the page sent the form);
    # an API client that leaves it out keeps the integration on.
    enabled = data.get("enabled", "" if "enabled_sent" in data else "on") not in ("", "off", "0")
    async with tenant_session() as session:
        stored_config, stored_secrets, _ = await _stored(session, request, kind)
        config, new_secrets, errors = _parse(kind, data, stored_config, lang)
        secrets = {**stored_secrets, **new_secrets}
        if not errors:
            try:
                build_client(kind, {**config, **secrets}, allow_http=_allow_http(request))
            except ConnectionSettingsError as exc:
                field = exc.field.split(".", 1)[1] if "." in exc.field else "form"
                errors.add(field, translate("admin.city.error.setting.refused", lang, reason=exc.reason))
        if errors:
            if wants_json(request):
                return errors_json(errors)
            shown = {k: v for k, v in data.items() if k not in SECRET_KEYS[kind]}
            alert = " ".join(errors.get("form", [])) or translate("admin.city.form_refused", lang)
            return await _kind_page(request, kind, status=422, errors=errors, form=shown, alert=alert)
        await set_integration(session, _vault(request), kind, config=config, secrets=secrets, enabled=enabled)
        audit(
            session,
            request,
            "admin.integration.saved",
            target_kind="integration",
            target_id=kind,
            # which settings, never a secret's value
            detail={"settings": sorted(config), "secrets_changed": sorted(new_secrets), "enabled": enabled},
        )
        await session.commit()
    if kind == "oidc":
        request.app.state.oidc.forget_config(current_tenant().id)
    if wants_json(request):
        return Response({"kind": kind, "saved": True})
    return redirect(f"/admin/integrations/{kind}", "admin.city.notice.integration_saved")


@post("/integrations/{kind:str}/test", summary="Test the connection: one harmless call to the endpoint")
async def test_integration(kind: FromPath[str], request: Request) -> Response[Any]:
    if kind not in KINDS:
        raise NotFoundException()
    lang = lang_of(request)
    async with tenant_session() as session:
        config, secrets, enabled = await _stored(session, request, kind)
    if not config:
        message, ok = translate("admin.city.integrations.test_unconfigured", lang), False
    else:
        try:
            seen = await check_connection(kind, {**config, **secrets}, allow_http=_allow_http(request))
            message, ok = translate("admin.city.integrations.test_ok", lang, seen=seen), True
        except ConnectionSettingsError as exc:
            message, ok = translate("admin.city.integrations.test_failed", lang, reason=str(exc)), False
        except Exception as exc:  # whatever the outside system did: the admin sees why
            message, ok = translate("admin.city.integrations.test_failed", lang, reason=f"{exc}"[:500]), False
    async with tenant_session() as session:
        audit(
            session,
            request,
            "admin.integration.tested",
            target_kind="integration",
            target_id=kind,
            detail={"ok": ok, "result": message[:500]},
        )
        await session.commit()
    if wants_json(request):
        return Response({"kind": kind, "ok": ok, "detail": message}, status_code=200 if ok else 502)
    return await _kind_page(request, kind, status=200 if ok else 502, test={"ok": ok, "message": message})


# ---- webhooks ------------------------------------------------------------------------------------


@post("/integrations/webhooks", summary="Add a webhook (its secret shown once)")
async def add_webhook(request: Request) -> Response[Any]:
    from kotalive.notify import service as notify

    data = await form_data(request)
    lang = lang_of(request)
    events = [e for e in data.get("events", "").replace(",", " ").split() if e]
    async with tenant_session() as session:
        try:
            endpoint, secret = await notify.add_webhook(
                session, _vault(request), name=data.get("name", ""), url=data.get("url", ""), events=events
            )
        except notify.NotifyInputError as exc:
            errors = one_error(
                exc.field, translate(f"admin.city.error.webhook.{exc.field}", lang, reason=exc.reason)
            )
            rows = {r.kind: r for r in await list_integrations(session)}
            return refused(
                request,
                "admin/city/integrations.html",
                "integrations",
                errors,
                data,
                kinds=list(KINDS),
                rows=rows,
                webhooks=await notify.list_webhooks(session),
                webhook_secret=None,
                test=None,
            )
        audit(
            session,
            request,
            "admin.webhook.added",
            target_kind="webhook",
            target_id=endpoint.id,
            detail={"url": endpoint.url, "events": events},
        )
        await session.commit()
        rows = {r.kind: r for r in await list_integrations(session)}
        webhooks = await notify.list_webhooks(session)
    if wants_json(request):
        return Response({"id": endpoint.id, "secret": secret}, status_code=201, headers=NO_STORE)
    return city_page(
        request,
        "admin/city/integrations.html",
        "integrations",
        status=201,
        kinds=list(KINDS),
        rows=rows,
        webhooks=webhooks,
        webhook_secret=secret,
        test=None,
    )


@post("/integrations/webhooks/{endpoint_id:int}/delete", summary="Switch a webhook off")
async def remove_webhook(endpoint_id: FromPath[int], request: Request) -> Response[Any]:
    from kotalive.notify import service as notify

    async with tenant_session() as session:
        if not await notify.remove_webhook(session, endpoint_id):
            raise NotFoundException()
        audit(session, request, "admin.webhook.removed", target_kind="webhook", target_id=endpoint_id)
        await session.commit()
    if wants_json(request):
        return Response({"status": "off"})
    return redirect("/admin/integrations", "admin.city.notice.webhook_removed")


@post("/integrations/webhooks/{endpoint_id:int}/test", summary="Send a signed test call to a webhook")
async def test_webhook(endpoint_id: FromPath[int], request: Request) -> Response[Any]:
    from kotalive.notify import service as notify
    from kotalive.notify.channels import send_webhook, webhook_body
    from kotalive.notify.models import WebhookEndpoint

    lang = lang_of(request)
    tenant = current_tenant()
    async with tenant_session() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            raise NotFoundException()
        url, secret = endpoint.url, _vault(request).decrypt(endpoint.secret_encrypted)
    body = webhook_body(0, "kotalive.ping", tenant.slug, {"test": True})
    try:
        outcome = await send_webhook(url, secret, body, event_type="kotalive.ping", delivery_id=0)
        ok, message = (
            True,
            translate("admin.city.integrations.test_ok", lang, seen=f"HTTP {outcome.status_code}"),
        )
    except Exception as exc:  # Retry / Permanent carry what the endpoint answered
        ok, message = False, translate("admin.city.integrations.test_failed", lang, reason=str(exc)[:500])
    async with tenant_session() as session:
        audit(
            session,
            request,
            "admin.webhook.tested",
            target_kind="webhook",
            target_id=endpoint_id,
            detail={"ok": ok, "result": message[:500]},
        )
        await session.commit()
        rows = {r.kind: r for r in await list_integrations(session)}
        webhooks = await notify.list_webhooks(session)
    if wants_json(request):
        return Response({"ok": ok, "detail": message}, status_code=200 if ok else 502)
    return city_page(
        request,
        "admin/city/integrations.html",
        "integrations",
        status=200 if ok else 502,
        kinds=list(KINDS),
        rows=rows,
        webhooks=webhooks,
        webhook_secret=None,
        test={"ok": ok, "message": message, "webhook": endpoint_id},
    )


# ---- the wording of notifications ----------------------------------------------------------------

WORDING_CHANNELS = ("inapp", "email", "sms")


def _messages(request: Request) -> dict[str, Any]:
    return {m.key: m for m in request.app.state.modules.messages()}


@get("/messages", summary="The notifications the city sends")
async def messages_page(request: Request) -> Response[Any]:
    from sqlalchemy import select

    from kotalive.notify.models import MessageTemplate

    async with tenant_session() as session:
        own = {m for m in (await session.scalars(select(MessageTemplate.message))).all()}
    messages = sorted(_messages(request).values(), key=lambda m: m.key)
    return city_page(request, "admin/city/messages.html", "messages", messages=messages, own=own)


async def _message_page(request: Request, key: str, *, status: int = 200, **extra: Any) -> Response[Any]:
    from kotalive.notify import service as notify

    message = _messages(request).get(key)
    if message is None:
        raise NotFoundException()
    async with tenant_session() as session:
        own = {(t.channel, t.language): t for t in await notify.city_wording(session, key)}
    form: dict[str, str] = {}
    for channel in WORDING_CHANNELS:
        for language in ("id", "en"):
            row = own.get((channel, language))
            form[f"{channel}_{language}_subject"] = (row.subject or "") if row else ""
            form[f"{channel}_{language}_body"] = row.body if row else ""
    form.update(extra.pop("form", {}))
    return city_page(
        request,
        "admin/city/message.html",
        "messages",
        status=status,
        message=message,
        own=own,
        channels=WORDING_CHANNELS,
        form=form,
        **extra,
    )


@get("/messages/{key:str}", summary="Form: the wording of one notification")
async def message_page(key: FromPath[str], request: Request) -> Response[Any]:
    return await _message_page(request, key)


@post("/messages/{key:str}/{channel:str}/{language:str}", summary="Word a notification the city's way")
async def set_wording(
    key: FromPath[str], channel: FromPath[str], language: FromPath[str], request: Request
) -> Response[Any]:
    from kotalive.notify import service as notify

    message = _messages(request).get(key)
    if message is None or channel not in WORDING_CHANNELS or language not in ("id", "en"):
        raise NotFoundException()
    data = await form_data(request)
    prefix = f"{channel}_{language}"
    subject = data.get(f"{prefix}_subject", data.get("subject", "")) or None
    body = data.get(f"{prefix}_body", data.get("body", ""))
    lang = lang_of(request)
    me = request.scope["state"].get("principal")
    async with tenant_session() as session:
        try:
            await notify.set_wording(
                session, message, channel, language, subject, body, me.name if me else "admin"
            )
        except notify.NotifyInputError as exc:
            field = f"{prefix}_{'subject' if exc.field == 'subject' else 'body'}"
            errors = one_error(field, translate("admin.city.error.wording", lang, reason=exc.reason))
            if wants_json(request):
                return errors_json(errors)
            return await _message_page(
                request,
                key,
                status=422,
                errors=errors,
                form={f"{prefix}_subject": subject or "", f"{prefix}_body": body},
                alert=translate("admin.city.form_refused", lang),
            )
        audit(
            session,
            request,
            "admin.wording.set",
            target_kind="message",
            target_id=f"{key}/{channel}/{language}",
        )
        await session.commit()
    if wants_json(request):
        return Response({"status": "saved"})
    return redirect(f"/admin/messages/{key}", "admin.city.notice.wording_saved")


@post("/messages/{key:str}/{channel:str}/{language:str}/reset", summary="Back to the default wording")
async def reset_wording(
    key: FromPath[str], channel: FromPath[str], language: FromPath[str], request: Request
) -> Response[Any]:
    from kotalive.notify import service as notify

    if key not in _messages(request) or channel not in WORDING_CHANNELS or language not in ("id", "en"):
        raise NotFoundException()
    async with tenant_session() as session:
        await notify.reset_wording(session, key, channel, language)
        audit(
            session,
            request,
            "admin.wording.reset",
            target_kind="message",
            target_id=f"{key}/{channel}/{language}",
        )
        await session.commit()
    if wants_json(request):
        return Response({"status": "default"})
    return redirect(f"/admin/messages/{key}", "admin.city.notice.wording_reset")


route_handlers = [
    integrations_page,
    add_webhook,
    remove_webhook,
    test_webhook,
    integration_page,
    save_integration,
    test_integration,
    messages_page,
    message_page,
    set_wording,
    reset_wording,
]
