"""The platform console: ``/console/`` on the platform host, for platform staff only.

    GET  /console/                                 the cities: search, filters, MoU warnings
    GET  /console/cities/{slug}                    one city: details, domains, modules, MoU, history
    POST /console/cities/{slug}/domains[/remove|/primary], /modules, /status, /mou, /wave, /export
    GET  /console/onboarding                       onboardings started, and a new one
    GET  /console/onboarding/new, POST /console/onboarding          step 1: the city
    GET|POST /console/onboarding/{id}/step/{city|domains|modules|admin}
    GET  /console/onboarding/{id}[/progress]       provisioning as it happens; retry, resend
    GET|POST /console/rollouts, GET /console/rollouts/{id}[/progress]   waves and their migrations
    GET  /console/drift, GET /console/audit

On a city's host none of these exist (404, ARCHITECTURE §4.1). Every change writes a row to the
platform's audit log.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.background_tasks import BackgroundTask
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import File
from sqlalchemy import select

from kotalive.admin.console import services as svc
from kotalive.admin.console.jobs import onboard_job, rollout_job, stalled
from kotalive.admin.console.models import ConsoleTask
from kotalive.admin.web import admin_page, audit, form_data, form_lists, lang_of, redirect
from kotalive.auth.crypto import Vault
from kotalive.auth.guards import requires
from kotalive.auth.models import PlatformAuditEntry
from kotalive.auth.principal import current_principal
from kotalive.context import current_tenant_or_none
from kotalive.db import Database
from kotalive.i18n import translate
from kotalive.tenants.models import TENANT_KINDS, TENANT_STATUSES, Tenant
from kotalive.tenants.provisioning import TenantNotFound, TenantService, TenantStateError
from kotalive.tenants.rollout import tenant_head

STEPS = ("city", "domains", "modules", "admin")
VIEW = "platform.tenants.view"
MANAGE = "platform.tenants.manage"
ONBOARD = "platform.tenants.onboard"
ROLLOUT = "platform.rollouts.run"
AUDIT = "platform.audit.view"


async def platform_host_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The console answers on the platform host only; on a city's host it does not exist."""
    if current_tenant_or_none() is not None:
        raise NotFoundException()


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _service(request: Request) -> TenantService:
    return TenantService(_db(request), request.app.state.modules)


def _messages(errors: svc.Errors, lang: str) -> dict[str, list[str]]:
    return {name: [translate(key, lang, **params) for key, params in items] for name, items in errors.items()}


def _page(request: Request, template: str, *, errors: svc.Errors | None = None, **ctx: Any) -> Response[str]:
    lang = lang_of(request)
    status = 422 if errors else 200
    return admin_page(
        request,
        template,
        status=ctx.pop("status", status),
        errors=_messages(errors or svc.Errors(), lang),
        section=ctx.pop("section", "cities"),
        **ctx,
    )


async def _audit(
    request: Request,
    action: str,
    *,
    tenant_id: int | None = None,
    target_kind: str | None = None,
    target_id: object = None,
    detail: dict[str, Any] | None = None,
) -> None:
    async with _db(request).platform_session() as s, s.begin():
        audit(
            s,
            request,
            action,
            tenant_id=tenant_id,
            target_kind=target_kind,
            target_id=target_id,
            detail=detail,
        )


# ---- cities ----------------------------------------------------------------------------------------


def _int(raw: str | None, default: int = 1) -> int:
    try:
        return max(1, int(raw or default))
    except ValueError:
        return default


@get("/", guards=[requires(VIEW)], summary="Console: the cities")
async def cities(request: Request) -> Response[str]:
    q = request.query_params
    f = svc.CityFilter(
        q=(q.get("q") or "").strip()[:100],
        status=str(q.get("status")) if q.get("status") in TENANT_STATUSES else "",
        wave=(q.get("wave") or "").strip()[:63],
        expiring=q.get("expiring") == "1",
        page=_int(q.get("page")),
    )
    settings = request.app.state.settings
    rows, more = await svc.list_cities(_db(request), f, warning_days=settings.mou_warning_days)
    filtered = bool(f.q or f.status or f.wave or f.expiring)
    base = {
        k: v
        for k, v in (
            ("q", f.q),
            ("status", f.status),
            ("wave", f.wave),
            ("expiring", "1" if f.expiring else ""),
        )
        if v
    }
    return _page(
        request,
        "admin/console/cities.html",
        rows=rows,
        filter=f,
        filtered=filtered,
        prev_url=f"/console/?{urlencode({**base, 'page': f.page - 1})}" if f.page > 1 else None,
        next_url=f"/console/?{urlencode({**base, 'page': f.page + 1})}" if more else None,
        statuses=TENANT_STATUSES,
        waves=await svc.waves(_db(request)),
        warning_days=settings.mou_warning_days,
    )


async def _city_page(
    request: Request, slug: str, *, errors: svc.Errors | None = None, **ctx: Any
) -> Response[str]:
    detail = await svc.city_detail(_db(request), slug)
    if detail is None:
        raise NotFoundException(detail=f"no city {slug}")
    settings = request.app.state.settings
    left = svc.mou_days_left(detail.tenant, dt.date.today())
    return _page(
        request,
        "admin/console/city.html",
        errors=errors,
        d=detail,
        t_=detail.tenant,
        installed=request.app.state.modules.names,
        mou_left=left,
        mou_warning=left is not None and left <= settings.mou_warning_days,
        head=tenant_head(),
        **ctx,
    )


@get("/cities/{slug:str}", guards=[requires(VIEW)], summary="Console: one city")
async def city(request: Request, slug: FromPath[str]) -> Response[str]:
    return await _city_page(request, slug)


async def _tenant_or_404(request: Request, slug: FromPath[str]) -> Tenant:
    try:
        return await _service(request).get(slug)
    except TenantNotFound:
        raise NotFoundException(detail=f"no city {slug}") from None


@post("/cities/{slug:str}/domains", guards=[requires(MANAGE)], summary="Console: add a host to a city")
async def domain_add(request: Request, slug: FromPath[str]) -> Response[Any]:
    tenant = await _tenant_or_404(request, slug)
    form = await form_data(request)
    errors, host = await svc.add_domain(_db(request), slug, form.get("host", ""), form.get("primary") == "on")
    if errors:
        return await _city_page(request, slug, errors=errors, form=form)
    await _audit(
        request,
        "console.domain.added",
        tenant_id=tenant.id,
        target_kind="domain",
        target_id=host,
        detail={"primary": form.get("primary") == "on"},
    )
    return redirect(f"/console/cities/{slug}", "admin.console.notice.domain_added")


@post("/cities/{slug:str}/domains/remove", guards=[requires(MANAGE)], summary="Console: remove a host")
async def domain_remove(request: Request, slug: FromPath[str]) -> Response[Any]:
    tenant = await _tenant_or_404(request, slug)
    host = (await form_data(request)).get("host", "")
    try:
        reason = await svc.remove_domain(_db(request), slug, host)
    except LookupError:
        raise NotFoundException(detail=f"{slug} has no host {host!r}") from None
    if reason:
        errors = svc.Errors()
        errors.add("domains", reason)
        return await _city_page(request, slug, errors=errors, status=409)
    await _audit(request, "console.domain.removed", tenant_id=tenant.id, target_kind="domain", target_id=host)
    return redirect(f"/console/cities/{slug}", "admin.console.notice.domain_removed")


@post("/cities/{slug:str}/domains/primary", guards=[requires(MANAGE)], summary="Console: the primary host")
async def domain_primary(request: Request, slug: FromPath[str]) -> Response[Any]:
    tenant = await _tenant_or_404(request, slug)
    host = (await form_data(request)).get("host", "")
    try:
        await svc.make_primary(_db(request), slug, host)
    except LookupError:
        raise NotFoundException(detail=f"{slug} has no host {host!r}") from None
    await _audit(request, "console.domain.primary", tenant_id=tenant.id, target_kind="domain", target_id=host)
    return redirect(f"/console/cities/{slug}", "admin.console.notice.saved")


@post("/cities/{slug:str}/modules", guards=[requires(MANAGE)], summary="Console: switch a module")
async def module_switch(request: Request, slug: FromPath[str]) -> Response[Any]:
    tenant = await _tenant_or_404(request, slug)
    form = await form_data(request)
    module = form.get("module", "")
    if module not in request.app.state.modules.names:
        raise NotFoundException(detail=f"no module {module!r}")
    errors = svc.Errors()
    config = svc.parse_config(form.get("config", ""), errors, f"config_{module}")
    if errors or config is None:
        return await _city_page(request, slug, errors=errors, form=form)
    enabled = form.get("enabled") == "on"
    await _service(request).set_module(slug, module, enabled, config)
    await _audit(
        request,
        "console.module." + ("on" if enabled else "off"),
        tenant_id=tenant.id,
        target_kind="module",
        target_id=module,
        detail={"config": config},
    )
    return redirect(f"/console/cities/{slug}", "admin.console.notice.saved")


@post("/cities/{slug:str}/status", guards=[requires(MANAGE)], summary="Console: suspend, resume or archive")
async def status_change(request: Request, slug: FromPath[str]) -> Response[Any]:
    tenant = await _tenant_or_404(request, slug)
    form = await form_data(request)
    action = form.get("action", "")
    errors = svc.Errors()
    if action not in ("suspend", "resume", "archive"):
        errors.add("action", "admin.console.error.choice")
    elif form.get("confirm", "") != slug:
        errors.add(f"confirm_{action}", "admin.console.error.confirm", slug=slug)
    if errors:
        return await _city_page(request, slug, errors=errors, form=form)
    service = _service(request)
    try:
        await {"suspend": service.suspend, "resume": service.resume, "archive": service.archive}[action](slug)
    except TenantStateError as exc:
        errors.add(f"confirm_{action}", "admin.console.error.reason", reason=str(exc))
        return await _city_page(request, slug, errors=errors, status=409)
    await _audit(
        request,
        f"console.city.{action}",
        tenant_id=tenant.id,
        target_kind="tenant",
        target_id=slug,
        detail={"from": tenant.status},
    )
    return redirect(f"/console/cities/{slug}", f"admin.console.notice.{action}")


@post("/cities/{slug:str}/mou", guards=[requires(MANAGE)], summary="Console: the city's MoU")
async def mou_save(request: Request, slug: FromPath[str]) -> Response[Any]:
    tenant = await _tenant_or_404(request, slug)
    form = await form_data(request)
    errors = svc.Errors()
    mou = svc.check_mou(form, errors)
    if errors:
        return await _city_page(request, slug, errors=errors, form=form)
    before = await svc.save_mou(_db(request), slug, mou)
    await _audit(
        request,
        "console.mou.changed",
        tenant_id=tenant.id,
        target_kind="tenant",
        target_id=slug,
        detail={
            "before": before,
            "after": {
                "mou_number": mou.number,
                "mou_signed_on": str(mou.signed_on or ""),
                "mou_expires_on": str(mou.expires_on or ""),
            },
        },
    )
    return redirect(f"/console/cities/{slug}", "admin.console.notice.saved")


@post("/cities/{slug:str}/wave", guards=[requires(ROLLOUT)], summary="Console: put a city in a wave")
async def wave_set(request: Request, slug: FromPath[str]) -> Response[Any]:
    tenant = await _tenant_or_404(request, slug)
    form = await form_data(request)
    wave = form.get("wave", "").strip().lower() or None
    errors = svc.Errors()
    if wave is not None and not svc.WAVE_RE.match(wave):
        errors.add("wave", "admin.console.error.wave")
        target = form.get("back", "")
        if target == "rollouts":
            return await _rollouts_page(request, errors=errors, form=form)
        return await _city_page(request, slug, errors=errors, form=form)
    await _service(request).set_wave(slug, wave)
    await _audit(
        request,
        "console.wave.set",
        tenant_id=tenant.id,
        target_kind="tenant",
        target_id=slug,
        detail={"from": tenant.wave, "to": wave},
    )
    back = "/console/rollouts" if form.get("back") == "rollouts" else f"/console/cities/{slug}"
    return redirect(back, "admin.console.notice.saved")


@post(
    "/cities/{slug:str}/export",
    guards=[requires(MANAGE)],
    summary="Console: download a city's export",
    status_code=200,
)
async def export(request: Request, slug: FromPath[str]) -> Response[Any]:
    from kotalive.tenants.export import export_city

    tenant = await _tenant_or_404(request, slug)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{slug}-{stamp}.tar.gz"
    out = Path(request.app.state.settings.data_dir) / "exports" / name
    manifest = await export_city(_db(request), slug, out)
    rows = sum(t["rows"] for t in manifest["tables"])
    await _audit(
        request,
        "console.city.exported",
        tenant_id=tenant.id,
        target_kind="tenant",
        target_id=slug,
        detail={"file": name, "rows": rows, "revision": manifest.get("revision")},
    )
    # Personal data: the file leaves with the download and no copy stays on the server.
    return File(
        path=out,
        filename=name,
        media_type="application/gzip",
        headers={"cache-control": "no-store"},
        background=BackgroundTask(out.unlink, missing_ok=True),
    )


# ---- onboarding ----------------------------------------------------------------------------------


def _staff(request: Request) -> tuple[int | None, str | None, list[str]]:
    p = current_principal()
    return (p.id, p.name, sorted(p.roles)) if p else (None, None, [])


async def _task(request: Request, task_id: int, kind: str = "onboarding") -> ConsoleTask:
    task = await svc.get_task(_db(request), task_id, kind)
    if task is None:
        raise NotFoundException(detail=f"no {kind} {task_id}")
    return task


@get("/onboarding", guards=[requires(ONBOARD)], summary="Console: onboardings")
async def onboardings(request: Request) -> Response[str]:
    return _page(
        request,
        "admin/console/onboardings.html",
        tasks=await svc.list_tasks(_db(request), "onboarding"),
        section="onboarding",
    )


def _wizard(
    request: Request,
    step: str,
    task: ConsoleTask | None,
    *,
    errors: svc.Errors | None = None,
    form: dict[str, Any] | None = None,
    **ctx: Any,
) -> Response[str]:
    data = task.data if task else {}
    return _page(
        request,
        f"admin/console/wizard_{step}.html",
        errors=errors,
        form=form if form is not None else _step_values(step, data, request),
        task=task,
        step=step,
        steps=STEPS,
        reached=task.step if task else 1,
        section="onboarding",
        kinds=[k for k in TENANT_KINDS if k != "provinsi"],
        timezones=svc.TIMEZONES,
        installed=request.app.state.modules.names,
        **ctx,
    )


def _step_values(step: str, data: dict[str, Any], request: Request) -> dict[str, Any]:
    if step == "city":
        return dict(data.get("city") or {"kind": "kota", "timezone": "Asia/Jakarta"})
    if step == "domains":
        slug = (data.get("city") or {}).get("slug", "")
        hosts = data.get("domains") or [svc.default_domains(slug, request.app.state.settings.base_domain)]
        return {"domains": "\n".join(hosts)}
    if step == "modules":
        chosen = data.get("modules")
        installed = request.app.state.modules.names
        mods = chosen if chosen is not None else {m: {} for m in installed}
        import json

        return {"modules": list(mods), **{f"config_{m}": json.dumps(c) if c else "" for m, c in mods.items()}}
    login = data.get("login") or {}
    return {
        **(data.get("admin") or {}),
        "oidc_issuer": login.get("issuer", ""),
        "oidc_client_id": login.get("client_id", ""),
        "oidc_secret_stored": bool(login.get("secret")),
    }


@get("/onboarding/new", guards=[requires(ONBOARD)], summary="Console: a new onboarding (step 1)")
async def onboarding_new(request: Request) -> Response[str]:
    return _wizard(request, "city", None)


async def _check_city(
    request: Request, form: dict[str, str], own: int | None
) -> tuple[svc.Errors, dict[str, Any]]:
    errors = svc.Errors()
    city = svc.check_city(form, errors)
    if "slug" not in errors and await svc.slug_taken(_db(request), city["slug"], own):
        errors.add("slug", "admin.console.error.slug_taken", slug=city["slug"])
    if city.get("boundary_ok"):
        import json

        city["boundary_json"] = json.loads(city["boundary"])
    return errors, city


@post("/onboarding", guards=[requires(ONBOARD)], summary="Console: start an onboarding (step 1)")
async def onboarding_create(request: Request) -> Response[Any]:
    form = await form_data(request)
    errors, city = await _check_city(request, form, None)
    if errors:
        return _wizard(request, "city", None, errors=errors, form=form)
    staff_id, staff_name, roles = _staff(request)
    scheme = request.url.scheme
    port = f":{request.url.port}" if request.url.port else ""
    async with _db(request).platform_session() as s, s.begin():
        task = ConsoleTask(
            kind="onboarding",
            status="draft",
            step=2,
            data={
                "city": city,
                "lang": lang_of(request),
                "staff_roles": roles,
                "base_url_template": f"{scheme}://{{host}}{port}",
            },
            progress=[],
            created_by_id=staff_id,
            created_by=staff_name,
        )
        s.add(task)
        await s.flush()
        audit(
            s,
            request,
            "console.onboarding.started",
            target_kind="onboarding",
            target_id=task.id,
            detail={"slug": city["slug"], "name": city["name"]},
        )
    return redirect(f"/console/onboarding/{task.id}/step/domains")


@get(
    "/onboarding/{task_id:int}/step/{step:str}", guards=[requires(ONBOARD)], summary="Console: a wizard step"
)
async def onboarding_step(request: Request, task_id: FromPath[int], step: FromPath[str]) -> Response[Any]:
    task = await _task(request, task_id)
    if step not in STEPS:
        raise NotFoundException(detail=f"no step {step!r}")
    if task.status != "draft":
        return redirect(f"/console/onboarding/{task_id}")
    if STEPS.index(step) + 1 > task.step:
        return redirect(f"/console/onboarding/{task_id}/step/{STEPS[task.step - 1]}")
    return _wizard(request, step, task)


@post("/onboarding/{task_id:int}/step/{step:str}", guards=[requires(ONBOARD)], summary="Console: save a step")
async def onboarding_save(request: Request, task_id: FromPath[int], step: FromPath[str]) -> Response[Any]:
    task = await _task(request, task_id)
    if step not in STEPS:
        raise NotFoundException(detail=f"no step {step!r}")
    if task.status != "draft" or STEPS.index(step) + 1 > task.step:
        errors = svc.Errors()
        errors.add("step", "admin.console.error.step_closed")
        return _wizard(request, step, task, errors=errors, status=409)
    form: dict[str, Any] = dict(await form_data(request))
    data = dict(task.data)
    errors = svc.Errors()
    if step == "city":
        errors, city = await _check_city(request, form, task.id)
        value: Any = city
    elif step == "domains":
        value = await svc.check_domains(_db(request), form.get("domains", ""), errors)
    elif step == "modules":
        chosen = (await form_lists(request, "modules"))["modules"]
        installed = request.app.state.modules.names
        configs = {m: form.get(f"config_{m}", "") for m in installed}
        value = svc.check_modules(installed, chosen, configs, errors)
        if errors:
            form = {**form, "modules": chosen}
    else:
        value = svc.check_admin(form, errors)
        settings = request.app.state.settings
        vault = Vault.from_settings(settings)
        stored = (data.get("login") or {}).get("secret")
        login = svc.check_login(
            form,
            errors,
            allow_http=settings.env != "production",
            stored_secret=vault.decrypt(stored.encode()) if stored else None,
        )
        data["login"] = (
            {**login, "secret": vault.encrypt(login["secret"]).decode()} if login.get("secret") else login
        )
        slug = data["city"]["slug"]
        if await svc.slug_taken(_db(request), slug, task.id):
            errors.add("step", "admin.console.error.slug_taken_since", slug=slug)
    if errors:
        return _wizard(request, step, task, errors=errors, form=form)
    data["admin" if step == "admin" else step] = value
    next_step = STEPS.index(step) + 2
    last = step == "admin"
    async with _db(request).platform_session() as s, s.begin():
        row = await s.get(ConsoleTask, task_id, with_for_update=True)
        assert row is not None
        row.data = data
        row.step = max(row.step, min(next_step, len(STEPS)))
        if last:
            row.status = "queued"
        audit(
            s,
            request,
            "console.onboarding." + ("submitted" if last else "step"),
            target_kind="onboarding",
            target_id=task_id,
            detail={"step": step, "slug": data["city"]["slug"]},
        )
    if last:
        await onboard_job.send_async(task_id)
        return redirect(f"/console/onboarding/{task_id}")
    return redirect(f"/console/onboarding/{task_id}/step/{STEPS[next_step - 1]}")


async def _onboarding_state(request: Request, task: ConsoleTask) -> dict[str, Any]:
    """What the progress shows: the provisioning steps (from the city's own row, as they happen)
    and the invitation."""
    async with _db(request).platform_session() as s:
        if task.tenant_id is not None:
            tenant = await s.get(Tenant, task.tenant_id)
        else:  # being registered right now (the job claims it at once): only a half-made city
            tenant = await s.scalar(
                select(Tenant).where(
                    Tenant.slug == task.data["city"]["slug"], Tenant.status == "provisioning"
                )
            )
    reached = tenant.provisioning_step if tenant else None
    order = ("registered", "schema", "seeded", "active")
    done = order.index(reached) + 1 if reached in order else 0
    invitation = next((p for p in task.progress if p.get("step") == "invitation"), None)
    return {
        "tenant": tenant,
        "order": order,
        "done": done,
        "invitation": invitation,
        "finished": task.status in ("done", "failed"),
        "stalled": stalled(task),
    }


@get("/onboarding/{task_id:int}", guards=[requires(ONBOARD)], summary="Console: an onboarding's progress")
async def onboarding_show(request: Request, task_id: FromPath[int]) -> Response[Any]:
    task = await _task(request, task_id)
    if task.status == "draft":
        return redirect(f"/console/onboarding/{task_id}/step/{STEPS[task.step - 1]}")
    return _page(
        request,
        "admin/console/onboarding.html",
        task=task,
        section="onboarding",
        **await _onboarding_state(request, task),
    )


@get("/onboarding/{task_id:int}/progress", guards=[requires(ONBOARD)], summary="Console: progress (fragment)")
async def onboarding_progress(request: Request, task_id: FromPath[int]) -> Response[Any]:
    task = await _task(request, task_id)
    return _page(
        request, "admin/console/onboarding_progress.html", task=task, **await _onboarding_state(request, task)
    )


@post("/onboarding/{task_id:int}/retry", guards=[requires(ONBOARD)], summary="Console: retry an onboarding")
async def onboarding_retry(request: Request, task_id: FromPath[int]) -> Response[Any]:
    task = await _task(request, task_id)
    async with _db(request).platform_session() as s, s.begin():
        row = await s.get(ConsoleTask, task_id, with_for_update=True)
        assert row is not None
        if not (row.status in ("failed", "queued") or stalled(row)):
            errors = svc.Errors()
            errors.add("retry", "admin.console.error.not_retryable")
            return _page(
                request,
                "admin/console/onboarding.html",
                task=task,
                errors=errors,
                status=409,
                section="onboarding",
                **await _onboarding_state(request, task),
            )
        row.status = "queued"
        audit(
            s,
            request,
            "console.onboarding.retried",
            target_kind="onboarding",
            target_id=task_id,
            tenant_id=row.tenant_id,
            detail={"error": row.error},
        )
    await onboard_job.send_async(task_id)
    return redirect(f"/console/onboarding/{task_id}", "admin.console.notice.retrying")


@post(
    "/onboarding/{task_id:int}/back", guards=[requires(ONBOARD)], summary="Console: fix a failed onboarding"
)
async def onboarding_back(request: Request, task_id: FromPath[int]) -> Response[Any]:
    """A failed onboarding goes back to the wizard (e.g. a host taken meanwhile) to be fixed."""
    task = await _task(request, task_id)
    if task.status != "failed":
        raise HTTPException(status_code=409, detail="only a failed onboarding goes back to the wizard")
    step = (await form_data(request)).get("step", "city")
    step = step if step in STEPS else "city"
    async with _db(request).platform_session() as s, s.begin():
        row = await s.get(ConsoleTask, task_id, with_for_update=True)
        assert row is not None
        row.status = "draft"
        audit(s, request, "console.onboarding.reopened", target_kind="onboarding", target_id=task_id)
    return redirect(f"/console/onboarding/{task_id}/step/{step}")


@post(
    "/onboarding/{task_id:int}/resend",
    guards=[requires(ONBOARD)],
    summary="Console: send the invitation again",
)
async def onboarding_resend(request: Request, task_id: FromPath[int]) -> Response[Any]:
    from kotalive.admin.console.jobs import send_invitation

    task = await _task(request, task_id)
    invitation = next((p for p in task.progress if p.get("step") == "invitation"), None)
    if task.status != "done" or invitation is None:
        raise NotFoundException(detail="this onboarding has no invitation yet")
    async with _db(request).platform_session() as s:
        tenant = await s.get(Tenant, task.tenant_id) if task.tenant_id else None
    outcome = await send_invitation(
        _db(request), task, tenant.name if tenant else "", invitation["login_url"]
    )
    progress = [p for p in task.progress if p.get("step") != "invitation"] + [
        {**invitation, **outcome, "error": outcome.get("error")}
    ]
    async with _db(request).platform_session() as s, s.begin():
        row = await s.get(ConsoleTask, task_id, with_for_update=True)
        assert row is not None
        row.progress = progress
        audit(
            s,
            request,
            "console.invitation.resent",
            target_kind="onboarding",
            target_id=task_id,
            tenant_id=task.tenant_id,
            detail={"status": outcome["status"]},
        )
    return redirect(f"/console/onboarding/{task_id}", "admin.console.notice.invitation_" + outcome["status"])


# ---- rollouts and drift ----------------------------------------------------------------------------


async def _rollouts_page(request: Request, *, errors: svc.Errors | None = None, **ctx: Any) -> Response[str]:
    db = _db(request)
    async with db.platform_session() as s:
        tenants = list(
            await s.scalars(select(Tenant).where(Tenant.status != "archived").order_by(Tenant.name))
        )
    from kotalive.tenants.rollout import wave_rank

    tenants.sort(key=lambda t: (wave_rank(t.wave), t.name))
    lang = lang_of(request)
    waves = await svc.waves(db)
    options = [(w or "-", f"{w or translate('admin.console.wave.none', lang)} ({n})") for w, n in waves]
    return _page(
        request,
        "admin/console/rollouts.html",
        errors=errors,
        tenants=tenants,
        waves=waves,
        waves_options=options,
        runs=await svc.list_tasks(db, "rollout", 15),
        head=tenant_head(),
        section="rollouts",
        **ctx,
    )


@get("/rollouts", guards=[requires(VIEW)], summary="Console: waves and migrations")
async def rollouts(request: Request) -> Response[str]:
    return await _rollouts_page(request)


@post("/rollouts", guards=[requires(ROLLOUT)], summary="Console: migrate a wave")
async def rollout_start(request: Request) -> Response[Any]:
    form = await form_data(request)
    wave = form.get("wave", "").strip()
    known = {w or "-" for w, _ in await svc.waves(_db(request))}
    errors = svc.Errors()
    if wave != "*" and wave not in known:
        errors.add("run_wave", "admin.console.error.wave_unknown", wave=wave)
        return await _rollouts_page(request, errors=errors, form=form)
    staff_id, staff_name, roles = _staff(request)
    async with _db(request).platform_session() as s, s.begin():
        task = ConsoleTask(
            kind="rollout",
            status="queued",
            step=1,
            data={
                "wave": wave,
                "run_id": str(uuid.uuid4()),
                "target_revision": tenant_head(),
                "staff_roles": roles,
                "stop_on_error": form.get("stop_on_error") == "on",
            },
            progress=[],
            created_by_id=staff_id,
            created_by=staff_name,
        )
        s.add(task)
        await s.flush()
        audit(
            s,
            request,
            "console.rollout.started",
            target_kind="wave",
            target_id=wave,
            detail={"task": task.id},
        )
    await rollout_job.send_async(task.id)
    return redirect(f"/console/rollouts/{task.id}")


async def _rollout_state(request: Request, task: ConsoleTask) -> dict[str, Any]:
    targets = task.data.get("targets") or []
    return {
        "targets": targets,
        "results": {r["slug"]: r for r in task.progress},
        "finished": task.status in ("done", "failed"),
        "stalled": stalled(task),
    }


@get("/rollouts/{task_id:int}", guards=[requires(VIEW)], summary="Console: a migration run")
async def rollout_show(request: Request, task_id: FromPath[int]) -> Response[str]:
    task = await _task(request, task_id, "rollout")
    return _page(
        request,
        "admin/console/rollout.html",
        task=task,
        section="rollouts",
        **await _rollout_state(request, task),
    )


@get("/rollouts/{task_id:int}/progress", guards=[requires(VIEW)], summary="Console: run progress (fragment)")
async def rollout_progress(request: Request, task_id: FromPath[int]) -> Response[str]:
    task = await _task(request, task_id, "rollout")
    return _page(
        request, "admin/console/rollout_progress.html", task=task, **await _rollout_state(request, task)
    )


@post(
    "/rollouts/{task_id:int}/retry",
    guards=[requires(ROLLOUT)],
    summary="Console: retry a run's failed cities",
)
async def rollout_retry(request: Request, task_id: FromPath[int]) -> Response[Any]:
    await _task(request, task_id, "rollout")
    async with _db(request).platform_session() as s, s.begin():
        row = await s.get(ConsoleTask, task_id, with_for_update=True)
        assert row is not None
        if not (row.status == "failed" or stalled(row)):
            return redirect(f"/console/rollouts/{task_id}")
        row.status = "queued"
        audit(
            s,
            request,
            "console.rollout.retried",
            target_kind="wave",
            target_id=row.data.get("wave"),
            detail={"task": task_id},
        )
    await rollout_job.send_async(task_id)
    return redirect(f"/console/rollouts/{task_id}", "admin.console.notice.retrying")


@get("/drift", guards=[requires(VIEW)], summary="Console: the drift report")
async def drift(request: Request) -> Response[str]:
    from kotalive.tenants.drift import check_drift

    report = await check_drift(_db(request)) if request.query_params.get("run") == "1" else None
    return _page(request, "admin/console/drift.html", report=report, section="drift")


@get("/audit", guards=[requires(AUDIT)], summary="Console: the platform's audit log")
async def audit_log(request: Request) -> Response[str]:
    q = request.query_params
    action = (q.get("action") or "").strip()[:64]
    before = q.get("before")
    stmt = select(PlatformAuditEntry).order_by(PlatformAuditEntry.id.desc())
    if action:
        stmt = stmt.where(PlatformAuditEntry.action.startswith(action))
    if before and before.isdigit():
        stmt = stmt.where(PlatformAuditEntry.id < int(before))
    slug = (q.get("city") or "").strip()[:63]
    async with _db(request).platform_session() as s:
        if slug:
            tenant_id = await s.scalar(select(Tenant.id).where(Tenant.slug == slug))
            stmt = stmt.where(PlatformAuditEntry.tenant_id == (tenant_id or -1))
        entries = list(await s.scalars(stmt.limit(51)))
        names = dict((await s.execute(select(Tenant.id, Tenant.slug))).all())
    more = len(entries) > 50
    return _page(
        request,
        "admin/console/audit.html",
        entries=entries[:50],
        more=more,
        action=action,
        city_slug=slug,
        slugs=names,
        section="audit",
    )


route_handlers = [
    Router(
        path="/console",
        guards=[platform_host_only],
        route_handlers=[
            cities,
            city,
            domain_add,
            domain_remove,
            domain_primary,
            module_switch,
            status_change,
            mou_save,
            wave_set,
            export,
            onboardings,
            onboarding_new,
            onboarding_create,
            onboarding_step,
            onboarding_save,
            onboarding_show,
            onboarding_progress,
            onboarding_retry,
            onboarding_back,
            onboarding_resend,
            rollouts,
            rollout_start,
            rollout_show,
            rollout_progress,
            rollout_retry,
            drift,
            audit_log,
        ],
        include_in_schema=False,
    )
]
